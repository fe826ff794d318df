"""Provisioning: a kiosk trades its one-time enrollment code for its place on the server.

``hom-phieu kiosk provision --server URL --code CODE`` sends the device's public key
(signing the request with it, to prove it holds the key) and receives its identity,
office, counter and configuration, and the server's public key, which it pins: from
then on it believes only acknowledgements and configurations that key signed. The
answer is kept in ``<state>/kiosk/server.json`` (mode 0600).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hom_phieu import __version__, paths
from hom_phieu.i18n import _
from hom_phieu.ledger.device_key import DeviceKey, DeviceKeyError
from hom_phieu.protocol import fields
from hom_phieu.protocol.models import DeviceConfig, EnrollRequest, JsonObject, OfficeRef
from hom_phieu.protocol.signing import API, UntrustedAnswer, verified_enrollment
from kiosk.sync_http import NetworkError, ServerRefused, call, error_label

SERVER_FILE = "server.json"


class ProvisionError(RuntimeError):
    """Provisioning failed; the message says why and what to do, for a technician."""


@dataclass(frozen=True, slots=True)
class ServerLink:
    """What a kiosk keeps of its enrollment: where the server is and which key it trusts.

    Kept as JSON in ``server.json`` (keys sorted, as ever: a file written by an older
    version reads back the same)."""

    server_url: str
    server_public_key: str  # base64 of the raw 32 bytes
    device_id: str
    office: OfficeRef
    counter: str | None
    config: DeviceConfig  # as the server last sent it (signature checked then)
    enrolled_at: str  # ISO-8601, this machine's clock

    @property
    def server_public_raw(self) -> bytes:
        return base64.b64decode(self.server_public_key)

    def to_json(self) -> JsonObject:
        return {
            "server_url": self.server_url,
            "server_public_key": self.server_public_key,
            "device_id": self.device_id,
            "office": self.office.to_json(),
            "counter": self.counter,
            "config": self.config.to_json(),
            "enrolled_at": self.enrolled_at,
        }

    @classmethod
    def from_json(cls, value: Any) -> ServerLink:
        doc = fields.document(value)
        limit = fields.URL_LIMIT
        server_key = doc.get("server_public_key")
        fields.base64_bytes(server_key, "server_public_key", size=32)
        return cls(
            server_url=fields.text(doc.get("server_url"), "server_url", limit=limit),
            server_public_key=str(server_key),
            device_id=fields.text(doc.get("device_id"), "device_id", limit=limit),
            office=OfficeRef.from_json(doc.get("office")),
            counter=fields.optional_text(doc.get("counter"), "counter", limit=limit),
            config=DeviceConfig.from_json(doc.get("config")),
            enrolled_at=fields.text(doc.get("enrolled_at"), "enrolled_at", limit=limit),
        )


def server_file() -> Path:
    return paths.kiosk_dir() / SERVER_FILE


def load_link(path: Path | None = None) -> ServerLink | None:
    """The kiosk's enrollment, or None when it was never provisioned."""
    path = path or server_file()
    try:
        return ServerLink.from_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:  # ProtocolError is a ValueError
        raise ProvisionError(
            _("{path} is damaged ({reason}): provision the kiosk again").format(
                path=path, reason=exc
            )
        ) from None


def save_link(link: ServerLink, path: Path | None = None) -> Path:
    """Write ``link`` atomically, readable by the kiosk's user only."""
    path = path or server_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(link.to_json(), handle, ensure_ascii=False, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def remember_config(config: DeviceConfig, path: Path | None = None) -> None:
    """Keep a configuration the sync client verified (the daemon's ``on_config``), for the
    next start."""
    link = load_link(path)
    if link is not None:
        save_link(replace(link, config=config), path)


def provision(
    server_url: str,
    code: str,
    *,
    key_path: Path | None = None,
    timeout_s: float = 20.0,
    echo: Callable[[str], None] = print,
) -> ServerLink:
    """Enroll this kiosk at ``server_url`` with the technician's one-time ``code``.

    ``key_path``: the device key (the configuration's ``device.key``; default
    ``<state>/kiosk/device-key.pem``), made now if the kiosk never started. Raises
    :class:`ProvisionError` with the reason (network, wrong or used code, …).
    """
    url = _checked_url(server_url)
    try:
        key = DeviceKey.load_or_create(key_path or paths.default_key_path())
    except DeviceKeyError as exc:
        raise ProvisionError(str(exc)) from None
    request = EnrollRequest(code=code.strip(), public_key=key.public_raw, software=__version__)
    try:
        answer = call(url, "POST", f"{API}/enroll", key=key, payload=request, timeout_s=timeout_s)
    except NetworkError as exc:
        raise ProvisionError(exc.message) from None
    except ServerRefused as exc:
        raise ProvisionError(
            _("the server refused the enrollment ({error}): {reason}").format(
                error=error_label(exc.error), reason=exc.message
            )
        ) from None
    link = _link(url, key, answer)
    where = save_link(link)
    echo(
        _("Enrolled as {device} at {office}, counter {counter}.").format(
            device=link.device_id, office=link.office.name, counter=link.counter or "—"
        )
    )
    echo(_("Server {url}; its key is pinned in {path}.").format(url=url, path=where))
    if urlsplit(url).scheme == "http" and urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
        echo(_("Warning: the server is reached without TLS (http); use https in production."))
    return link


def _checked_url(server_url: str) -> str:
    parts = urlsplit(server_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProvisionError(
            _("--server must be an http:// or https:// address, got {url}").format(url=server_url)
        )
    return server_url.strip().rstrip("/")


def _link(url: str, key: DeviceKey, answer: Mapping[str, Any]) -> ServerLink:
    try:
        enrolled = verified_enrollment(answer, key.device_id)
    except UntrustedAnswer as exc:
        raise ProvisionError(
            _("the server's answer is not a hom-phieu enrollment ({reason})").format(
                reason=exc.message
            )
        ) from None
    if enrolled.device_id != key.device_id:
        raise ProvisionError(_("the server's answer does not name this device"))
    return ServerLink(
        server_url=url,
        server_public_key=fields.b64(enrolled.server_public_key),
        device_id=enrolled.device_id,
        office=enrolled.office,
        counter=enrolled.counter,
        config=enrolled.config,
        enrolled_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
