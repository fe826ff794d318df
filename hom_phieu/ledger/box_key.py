"""A box's key pair: what seals the citizens' opinions until the committee opens the box.

Each office's box of a month has its own X25519 key pair. Its private key is never stored:
it is derived (HKDF-SHA256) from a 128-bit master secret, and that secret exists only split
among the committee (``hom_phieu.ledger.key_shares``, SLIP-39) from the moment it is made
until the box is opened. Only the public key travels: to the kiosks in the signed
configuration, months ahead, and to the server's phone survey.

Sealing is HPKE (RFC 9180) in base mode, X25519 / HKDF-SHA256 / ChaCha20-Poly1305 (fast
without AES instructions, as on a Raspberry Pi), from ``cryptography``: no primitive here is
written by hand. Every seal uses a fresh ephemeral key, so two equal opinions never give
equal ciphertexts; ``info`` binds a ciphertext to the one record it was made for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MASTER_BYTES = 16  # 128 bits: a 20-word SLIP-39 share; X25519 offers no more than that
PUBLIC_BYTES = 32
FINGERPRINT_GROUPS = 5  # 5 × 4 hex digits = 80 bits: no key can be made to match one
_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)
_DERIVE_INFO = b"hom-phieu box key v1"
_RAW = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class SealError(ValueError):
    """A ciphertext that this key cannot open: another key's, or altered bytes."""


def fingerprint(public_raw: bytes) -> str:
    """The key's fingerprint as people compare it: ``1A2B-3C4D-5E6F-7A8B-9C0D``.

    Printed on the kiosk's zero report slip, on the share cards and in the minutes, so a
    key substituted by whoever controls the server is seen on paper."""
    digest = hashlib.sha256(b"hom-phieu box key\0" + public_raw).hexdigest().upper()
    return "-".join(digest[4 * n : 4 * n + 4] for n in range(FINGERPRINT_GROUPS))


@dataclass(frozen=True, slots=True)
class BoxPublicKey:
    """A box's (or the province escrow's) public key: all a sealer needs."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != PUBLIC_BYTES:
            raise ValueError(f"a box public key has {PUBLIC_BYTES} bytes, not {len(self.raw)}")

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)

    @property
    def b64(self) -> str:
        return base64.b64encode(self.raw).decode()

    @classmethod
    def from_b64(cls, text: str) -> BoxPublicKey:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a box public key must be base64") from None
        return cls(raw)

    def seal(self, plaintext: bytes, info: bytes) -> bytes:
        """HPKE-seal ``plaintext`` to this key; ``info`` must be given again to open it."""
        return _SUITE.encrypt(plaintext, X25519PublicKey.from_public_bytes(self.raw), info=info)


class BoxPrivateKey:
    """The private half, rebuilt in memory for one opening (or read from a published
    bundle). It shows nothing of itself in ``repr``."""

    __slots__ = ("_private", "public")

    def __init__(self, private: X25519PrivateKey) -> None:
        self._private = private
        self.public = BoxPublicKey(private.public_key().public_bytes(*_RAW))

    def __repr__(self) -> str:
        return f"BoxPrivateKey({self.public.fingerprint})"

    @classmethod
    def from_master(cls, master: bytes) -> BoxPrivateKey:
        """The key pair a master secret stands for (HKDF-SHA256, then X25519)."""
        if len(master) != MASTER_BYTES:
            raise ValueError(f"a box master secret has {MASTER_BYTES} bytes, not {len(master)}")
        seed = HKDF(hashes.SHA256(), length=32, salt=None, info=_DERIVE_INFO).derive(master)
        return cls(X25519PrivateKey.from_private_bytes(seed))

    def private_raw(self) -> bytes:
        """The private key's 32 bytes, for the opening's own worker processes only
        (``web.opening_workers``: handed through a pipe, gone when the opening ends)."""
        return self._private.private_bytes_raw()

    @classmethod
    def from_private_raw(cls, raw: bytes) -> BoxPrivateKey:
        return cls(X25519PrivateKey.from_private_bytes(raw))

    def open(self, ciphertext: bytes, info: bytes) -> bytes:
        try:
            return _SUITE.decrypt(ciphertext, self._private, info=info)
        except Exception:  # InvalidTag, a short or malformed ciphertext: all one answer
            raise SealError("the ciphertext does not open with this key") from None


def new_master() -> bytes:
    """A fresh master secret from the operating system's random source."""
    return os.urandom(MASTER_BYTES)


__all__ = [
    "MASTER_BYTES",
    "BoxPrivateKey",
    "BoxPublicKey",
    "SealError",
    "fingerprint",
    "new_master",
]
