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
from hom_phieu.protocol.fields import ProtocolError
from hom_phieu.protocol.models import DeviceConfig, EnrollAnswer, PushAnswer

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
) -> DeviceConfig:
    """The configuration in ``{"config": …, "sig": …}`` (an answer's JSON as received) once
    its signature and device check. The signature is checked over the object as received,
    then the object is read: a field a later server adds does not break the signature."""
    config = envelope.get("config")
    if not isinstance(config, dict) or not server_signature_ok(
        server_public_raw, config, envelope.get("sig")
    ):
        raise UntrustedAnswer(_("the configuration is not signed by the enrolled server"))
    try:
        parsed = DeviceConfig.from_json(config)
    except ProtocolError as exc:
        raise UntrustedAnswer(
            _("the configuration is not well formed: {reason}").format(reason=exc.message)
        ) from None
    if parsed.device_id != device_id:
        raise UntrustedAnswer(_("the configuration is not meant for this device"))
    return parsed


def verified_push_answer(server_public_raw: bytes, answer: Mapping[str, Any]) -> PushAnswer:
    """A push's answer (its JSON as received) once the server key's signature of its
    ``ack`` verifies. Whether the ack answers *this* push is the caller's to check."""
    ack = answer.get("ack")
    if not isinstance(ack, dict) or not server_signature_ok(
        server_public_raw, ack, answer.get("ack_sig")
    ):
        raise UntrustedAnswer(_("the acknowledgement is not signed by the enrolled server"))
    try:
        return PushAnswer.from_json(answer)
    except ProtocolError as exc:
        raise UntrustedAnswer(
            _("the acknowledgement is incomplete: {reason}").format(reason=exc.message)
        ) from None


def verified_enrollment(answer: Mapping[str, Any], device_id: str) -> EnrollAnswer:
    """An enrollment's answer (its JSON as received): well formed, its configuration for
    ``device_id`` and signed by the server key the answer carries (the key the kiosk then
    pins). Whether the answer's own ``device_id`` is the kiosk's is the caller's to check."""
    try:
        enrolled = EnrollAnswer.from_json(answer)
    except ProtocolError as exc:
        raise UntrustedAnswer(exc.message) from None
    envelope = {"config": answer.get("config"), "sig": enrolled.config_sig}
    verified_config(enrolled.server_public_key, device_id, envelope)
    return enrolled
