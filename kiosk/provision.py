"""Provisioning: a kiosk trades its one-time enrollment code for its place on the server.

``hom-phieu kiosk provision --server URL --code CODE`` sends the device's public key
(signing the request with it, to prove it holds the key) and receives its identity,
office, counter and configuration, and the server's public key, which it pins: from
then on it believes only acknowledgements and configurations that key signed. The
answer is kept in ``<state>/kiosk/server.json`` (mode 0600).

``--new-identity`` (a forked chain recovered on the server's fork page, ``web.forks``):
the old key, ledger and ``server.json`` are moved into a dated folder next to the key
(never deleted: the old ledger is uploaded on the fork page), a new key is made and
enrolled with the new code. The new key is made beside the old one first and the old
identity moved aside only once the server took it: a failed enrollment changes nothing.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hom_phieu import __version__, paths
from hom_phieu.clock import Clock, SystemClock
from hom_phieu.i18n import _
from hom_phieu.ledger.device_key import DeviceKey, DeviceKeyError
from hom_phieu.ledger.errors import LedgerStoreError
from hom_phieu.ledger.store import _take_writer_lock
from hom_phieu.protocol import fields
from hom_phieu.protocol.models import DeviceConfig, EnrollRequest, JsonObject, OfficeRef
from hom_phieu.protocol.signing import API, UntrustedAnswer, verified_enrollment

SERVER_FILE = "server.json"
NEW_KEY_SUFFIX = ".new"  # the new identity's key until the server took it
OLD_FOLDER = "old-identity-{stamp}"
LEDGER_SIDECARS = ("", "-wal", "-shm", "-journal")


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
    new_identity: bool = False,
    ledger_path: Path | None = None,
    clock: Clock | None = None,
) -> ServerLink:
    """Enroll this kiosk at ``server_url`` with the technician's one-time ``code``.

    ``key_path``: the device key (the configuration's ``device.key``; default
    ``<state>/kiosk/device-key.pem``), made now if the kiosk never started. Raises
    :class:`ProvisionError` with the reason (network, wrong or used code, …).
    ``new_identity``: enroll a new key; the old key, the ledger (``ledger_path``, default
    ``<state>/kiosk/ballot-box.sqlite3``) and ``server.json`` are moved into a folder
    dated by ``clock`` once the server took the new key (the daemon must be stopped).
    """
    url = _checked_url(server_url)
    key_path = key_path or paths.default_key_path()
    ledger_path = ledger_path or paths.default_ledger_path()
    lock = _writer_lock(ledger_path) if new_identity else None
    try:
        return _provision(url, code, key_path, ledger_path if new_identity else None,
                          timeout_s, echo, clock or SystemClock())  # fmt: skip
    finally:
        if lock is not None:
            os.close(lock)


def _provision(url: str, code: str, key_path: Path, retire: Path | None, timeout_s: float,
               echo: Callable[[str], None], clock: Clock) -> ServerLink:  # fmt: skip
    """Enroll (``retire``: the ledger of the identity to move aside, with a new key)."""
    new_key_path = key_path.with_name(key_path.name + NEW_KEY_SUFFIX)
    try:
        key = DeviceKey.load_or_create(new_key_path if retire is not None else key_path)
    except DeviceKeyError as exc:
        raise ProvisionError(str(exc)) from None
    request = EnrollRequest(code=code.strip(), public_key=key.public_raw, software=__version__)
    # The HTTP client (urllib, ssl, email) only where it talks: a kiosk reading its link at
    # start-up keeps it out of memory until its sync thread needs it.
    from kiosk.sync_http import NetworkError, ServerRefused, call, error_label

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
    if retire is not None:
        _retire(key_path, new_key_path, retire, clock, echo)
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


def _writer_lock(ledger_path: Path) -> int:
    """The ledger's writer lock, held while the identity changes: the daemon is stopped."""
    try:
        return _take_writer_lock(ledger_path)
    except LedgerStoreError as exc:
        raise ProvisionError(
            _("the kiosk's ledger is in use ({reason}): stop the kiosk service first").format(
                reason=exc
            )
        ) from None


def _retire(key_path: Path, new_key_path: Path, ledger_path: Path, clock: Clock,
            echo: Callable[[str], None]) -> None:  # fmt: skip
    """Move the old identity (key, ledger, server.json) into a dated folder next to the
    key, then put the new key in its place. Nothing is deleted."""
    stamp = datetime.fromtimestamp(clock.read().wall_ms / 1000, UTC).strftime("%Y%m%d-%H%M%S")
    folder = key_path.parent / OLD_FOLDER.format(stamp=stamp)
    n = 1
    while folder.exists():
        n += 1
        folder = key_path.parent / OLD_FOLDER.format(stamp=f"{stamp}-{n}")
    old = [key_path, server_file()] + [
        ledger_path.with_name(ledger_path.name + tail) for tail in LEDGER_SIDECARS
    ]
    try:
        folder.mkdir(parents=True, mode=0o700)
        for path in old:
            if path.exists():
                shutil.move(path, folder / path.name)
        os.replace(new_key_path, key_path)
    except OSError as exc:
        raise ProvisionError(
            _("the old identity could not be moved to {folder} ({reason}); the new key is "
              "{key}").format(folder=folder, reason=exc.strerror or exc, key=new_key_path)
        ) from None  # fmt: skip
    echo(_("The old key, ledger and enrollment are kept in {folder}.").format(folder=folder))
    kept = folder / ledger_path.name
    if kept.exists():
        echo(_("Upload the old ledger {path} on the device's forked chain page.").format(path=kept))


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
