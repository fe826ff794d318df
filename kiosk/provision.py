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
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hom_phieu import __version__, paths
from hom_phieu.i18n import _
from hom_phieu.ledger.device_key import DeviceKey, DeviceKeyError
from hom_phieu.protocol.signing import API, UntrustedAnswer, verified_config
from kiosk.sync_client import NetworkError, ServerRefused, call

SERVER_FILE = "server.json"


class ProvisionError(RuntimeError):
    """Provisioning failed; the message says why and what to do, for a technician."""


@dataclass(frozen=True, slots=True)
class ServerLink:
    """What a kiosk keeps of its enrollment: where the server is and which key it trusts."""

    server_url: str
    server_public_key: str  # base64 of the raw 32 bytes
    device_id: str
    office: dict[str, str]  # code, name
    counter: str | None
    config: dict[str, Any]  # as GET /api/v1/config last gave it (signature checked)
    enrolled_at: str  # ISO-8601, this machine's clock

    @property
    def server_public_raw(self) -> bytes:
        return base64.b64decode(self.server_public_key)


def server_file() -> Path:
    return paths.kiosk_dir() / SERVER_FILE


def load_link(path: Path | None = None) -> ServerLink | None:
    """The kiosk's enrollment, or None when it was never provisioned."""
    path = path or server_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ServerLink(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
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
        json.dump(asdict(link), handle, ensure_ascii=False, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)
    return path


def remember_config(config: Mapping[str, Any], path: Path | None = None) -> None:
    """Keep a configuration the sync client verified (its ``on_config``), for the next start."""
    link = load_link(path)
    if link is not None:
        save_link(replace(link, config=dict(config)), path)


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
    payload = {
        "code": code.strip(),
        "public_key": base64.b64encode(key.public_raw).decode(),
        "software": __version__,
    }
    try:
        answer = call(url, "POST", f"{API}/enroll", key=key, payload=payload, timeout_s=timeout_s)
    except NetworkError as exc:
        raise ProvisionError(exc.message) from None
    except ServerRefused as exc:
        raise ProvisionError(
            _("the server refused the enrollment ({error}): {reason}").format(
                error=exc.error, reason=exc.message
            )
        ) from None
    link = _link(url, key, answer)
    where = save_link(link)
    echo(
        _("Enrolled as {device} at {office}, counter {counter}.").format(
            device=link.device_id, office=link.office.get("name", ""), counter=link.counter or "—"
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
        server_raw = base64.b64decode(answer["server_public_key"], validate=True)
        config = verified_config(
            server_raw, key.device_id, {"config": answer["config"], "sig": answer["config_sig"]}
        )
        office = answer["office"]
        link = ServerLink(
            server_url=url,
            server_public_key=base64.b64encode(server_raw).decode(),
            device_id=answer["device_id"],
            office={"code": str(office["code"]), "name": str(office["name"])},
            counter=answer.get("counter"),
            config=config,
            enrolled_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
    except (KeyError, TypeError, ValueError, UntrustedAnswer) as exc:
        raise ProvisionError(
            _("the server's answer is not a hom-phieu enrollment ({reason})").format(reason=exc)
        ) from None
    if link.device_id != key.device_id or len(server_raw) != 32:
        raise ProvisionError(_("the server's answer does not name this device"))
    return link
