"""The device's Ed25519 key: made on first start, kept in a 0600 file, never exported.

Only the public half ever leaves this module (as raw bytes or its fingerprint). The
private key object has no ``__repr__`` that shows it, and nothing here logs it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE_MODE = 0o600


class DeviceKeyError(RuntimeError):
    """The key file is missing, unreadable, or open to other users."""


def fingerprint(public_key_raw: bytes) -> str:
    """Short stable device id derived from the public key, e.g. ``hp-5QXK2M7TZB4A``."""
    digest = hashlib.sha256(b"hom-phieu device key\0" + public_key_raw).digest()
    return "hp-" + base64.b32encode(digest[:10]).decode().rstrip("=")


class DeviceKey:
    """Signs records. Load or create it with :meth:`load_or_create`."""

    __slots__ = ("_private", "device_id", "public_raw")

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_raw: bytes = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.device_id: str = fingerprint(self.public_raw)

    def __repr__(self) -> str:
        return f"DeviceKey({self.device_id})"

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)

    def derive(self, purpose: str) -> DeviceKey:
        """Another key, fixed by this one and ``purpose`` (HKDF-SHA256 over the private
        key): whoever holds this key can make it again, nobody else can. The server signs
        each office's phone-survey records with one, in any of its processes."""
        seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            self._private.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
        )
        return DeviceKey(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def load_or_create(cls, path: Path) -> DeviceKey:
        """Read the key at ``path``, or make one there if the file does not exist.

        The file is created with O_EXCL and mode 0600 so that no other user can read
        it even for an instant; an existing file readable by others is refused.
        """
        try:
            return cls._load(path)
        except FileNotFoundError:
            pass
        private = Ed25519PrivateKey.generate()
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_FILE_MODE)
        except FileExistsError:  # another process made it first: use theirs
            return cls._load(path)
        except OSError as exc:
            raise DeviceKeyError(
                f"cannot create the device key {path}: {exc.strerror or exc}"
            ) from None
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_dir(path.parent)
        return cls(private)

    @classmethod
    def _load(cls, path: Path) -> DeviceKey:
        mode = path.stat().st_mode & 0o777  # FileNotFoundError: the caller makes a key
        if mode & 0o077:
            raise DeviceKeyError(
                f"device key {path} has mode {mode:o}; it must be readable by its owner only "
                f"(run: chmod 600 {path})"
            )
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise DeviceKeyError(f"device key {path} cannot be read: {exc.strerror}") from None
        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise DeviceKeyError(f"device key {path} is not a readable key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise DeviceKeyError(f"device key {path} is not an Ed25519 key")
        return cls(private)


def verify_signature(public_raw: bytes, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` is the holder of ``public_raw``'s signature of ``data``."""
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
