"""Signed traffic between a kiosk and its server.

A device signs every request (method, API path, SHA-256 of the body) with its Ed25519
key; the server signs every answer a kiosk acts on (an ack, a configuration) with the
server key the kiosk pinned at enrollment. Both sign the canonical bytes of the ledger.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

from hom_phieu.i18n import _
from hom_phieu.ledger.device_key import DeviceKey, verify_signature
from hom_phieu.ledger.records import canonical_bytes

API = "/api/v1"
DEVICE_HEADER = "X-HomPhieu-Device"
SIGNATURE_HEADER = "X-HomPhieu-Signature"


class UntrustedAnswer(Exception):
    """A signed answer failed its signature or does not describe this device's ledger."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def request_message(method: str, path: str, body: bytes) -> bytes:
    """The bytes a device signs for a request: method, API path, SHA-256 of the body."""
    return canonical_bytes(
        {"method": method.upper(), "path": path, "body_sha256": hashlib.sha256(body).hexdigest()}
    )


def signed_headers(key: DeviceKey, method: str, path: str, body: bytes) -> dict[str, str]:
    signature = key.sign(request_message(method, path, body))
    return {
        DEVICE_HEADER: key.device_id,
        SIGNATURE_HEADER: base64.b64encode(signature).decode(),
    }


def sign_payload(key: DeviceKey, payload: Mapping[str, Any]) -> str:
    """Base64 Ed25519 signature of the canonical bytes of ``payload`` (the server's acks
    and configurations)."""
    return base64.b64encode(key.sign(canonical_bytes(payload))).decode()


def server_signature_ok(server_public_raw: bytes, payload: Mapping[str, Any], sig: Any) -> bool:
    """True when the server key signed the canonical bytes of ``payload``."""
    if not isinstance(sig, str):
        return False
    try:
        raw = base64.b64decode(sig, validate=True)
        data = canonical_bytes(payload)
    except (ValueError, TypeError):
        return False
    return verify_signature(server_public_raw, raw, data)


def verified_config(
    server_public_raw: bytes, device_id: str, envelope: Mapping[str, Any]
) -> dict[str, Any]:
    """The configuration in ``{"config": …, "sig": …}`` once its signature and device check."""
    config = envelope.get("config")
    if not isinstance(config, dict) or not server_signature_ok(
        server_public_raw, config, envelope.get("sig")
    ):
        raise UntrustedAnswer(_("the configuration is not signed by the enrolled server"))
    if config.get("device_id") != device_id or not isinstance(config.get("version"), str):
        raise UntrustedAnswer(_("the configuration is not meant for this device"))
    return config
