"""The admin server's own Ed25519 key: it signs acknowledgements and configurations.

A kiosk pins the public half when it enrolls; from then on it believes a server time
(a time anchor) or a roster only when this key signed it. The key is made on first use
in the instance folder (``server-key.pem``, mode 0600) and never leaves it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import current_app

from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.protocol.signing import sign_payload
from web.services import services

KEY_FILE = "server-key.pem"


def server_key() -> DeviceKey:
    """The current app's key, loaded (or made) once per app."""
    held = services()
    if held.server_key is None:
        held.server_key = DeviceKey.load_or_create(Path(current_app.instance_path) / KEY_FILE)
    return held.server_key


def server_public_key_b64() -> str:
    """The raw 32-byte public key, base64: what a kiosk pins at enrollment."""
    return base64.b64encode(server_key().public_raw).decode()


def sign_ack(payload: Mapping[str, Any]) -> str:
    """Base64 Ed25519 signature of the canonical bytes of ``payload``."""
    return sign_payload(server_key(), payload)
