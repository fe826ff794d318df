"""The sealed part of a record (format 2): whatever reveals the citizen's opinion.

A VOTE's level, button, criteria and comment, and a REFUSED press's button (a refused
press of "Không hài lòng" says as much as a counted one), are taken out of the body and
replaced by ``sealed``: ``{"key": <fingerprint of the box key>, "wrap": <base64>, "ct":
<base64>}``. What stays clear (sequence, time, counter, clerk, channel, the ticket a phone
answer came with) is what the checklist and the sealed pages need.

The plaintext is the canonical JSON of the taken fields, padded with spaces to a multiple
of :data:`PAD` bytes, so the ciphertext's length does not tell "satisfied" from
"not_satisfied". It is encrypted with ChaCha20-Poly1305 under a *session key* (a fresh
random nonce each time), bound as associated data to the device, sequence number and kind
of its record: a ciphertext copied into another record does not open. The session key is
drawn at random by the writer, kept in its memory only, used for at most
:data:`SESSION_OPINIONS` opinions and then forgotten; ``wrap`` is that key sealed to the
box key with HPKE (``hom_phieu.ledger.box_key``), the same bytes for each opinion of the
session. Why not one HPKE seal per opinion: its X25519 costs as much as half a signature
check, and an opening decrypts a million ballots; with a session the opening does one
X25519 per :data:`SESSION_OPINIONS` ballots. A shared ``wrap`` links opinions to one
session of one device, which their clear device and sequence numbers say anyway; the
opinions themselves (fresh nonces) stay unlinkable.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from hom_phieu.i18n import _
from hom_phieu.ledger.box_key import BoxPrivateKey, BoxPublicKey, SealError
from hom_phieu.ledger.grammar import SEALED_FIELDS, opinion_problem
from hom_phieu.ledger.records import Kind, Record, canonical_bytes

SEALED = "sealed"
PAD = 256
SESSION_OPINIONS = 64  # opinions sealed under one session key before a new one is drawn
NONCE_BYTES = 12
SESSION_KEY_BYTES = 32
UNWRAPPED_KEPT = 4096  # session keys an opening keeps unwrapped at a time
# The fields each kind seals (when present): what its sealed grammar lacks.
OPINION_FIELDS: dict[Kind, tuple[str, ...]] = {
    kind: tuple(sorted(names)) for kind, names in SEALED_FIELDS.items()
}


@dataclass(frozen=True, slots=True)
class SealingKey:
    """The public key a record of a box is sealed to; ``escrow``: the province's key, used
    because the box had none."""

    public: BoxPublicKey
    escrow: bool = False


class Sealer(Protocol):
    """Where a writer finds the key a box's records are sealed to."""

    def key_for(self, box: str) -> SealingKey | None: ...


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The public keys a device holds: each box's (months ahead), else the province's
    escrow key (a box without a key still seals: to the escrow, and says so)."""

    boxes: Mapping[str, BoxPublicKey] = field(default_factory=dict)
    escrow: BoxPublicKey | None = None

    def key_for(self, box: str) -> SealingKey | None:
        key = self.boxes.get(box)
        if key is not None:
            return SealingKey(key)
        return SealingKey(self.escrow, escrow=True) if self.escrow is not None else None


class OpinionError(ValueError):
    """A sealed record whose opinion cannot be read: the key is not held, the ciphertext
    was altered, or what it holds is not an opinion."""

    def __init__(self, message: str, key: str = "") -> None:
        super().__init__(message)
        self.key = key  # the fingerprint the record names


def _info(device: str, seq: int, kind: str) -> bytes:
    return f"hom-phieu opinion v2\0{device}\0{seq}\0{kind}".encode()


def _wrap_info(device: str) -> bytes:
    return f"hom-phieu opinion session v2\0{device}".encode()


@dataclass(slots=True)
class _Session:
    aead: ChaCha20Poly1305
    wrap: str  # base64 of the session key sealed to the box key
    left: int


class SealingSessions:
    """A writer's session keys, one per box key, in its memory only (never stored): each
    seals at most ``opinions`` opinions, then a new one is drawn and the old one forgotten.
    ``opinions=1``: a key (and an HPKE seal) per opinion."""

    def __init__(self, device: str, opinions: int = SESSION_OPINIONS) -> None:
        self._device, self._opinions = device, opinions
        self._sessions: dict[str, _Session] = {}

    def session(self, key: BoxPublicKey) -> _Session:
        session = self._sessions.get(key.fingerprint)
        if session is None or session.left <= 0:
            secret = os.urandom(SESSION_KEY_BYTES)
            wrap = key.seal(secret, _wrap_info(self._device))
            session = _Session(
                ChaCha20Poly1305(secret), base64.b64encode(wrap).decode(), self._opinions
            )
            self._sessions[key.fingerprint] = session
        session.left -= 1
        return session


def seal_body(
    kind: Kind,
    body: Mapping[str, Any],
    key: BoxPublicKey,
    device: str,
    seq: int,
    sessions: SealingSessions | None = None,
) -> dict[str, Any]:
    """``body`` with its opinion fields sealed to ``key`` (a new dict). ``sessions``: the
    writer's (None: a session of its own for this one opinion)."""
    names = OPINION_FIELDS.get(kind, ())
    taken = {name: body[name] for name in names if name in body}
    clear = {name: value for name, value in body.items() if name not in taken}
    plain = canonical_bytes(taken)
    plain += b" " * (-len(plain) % PAD)
    session = (sessions or SealingSessions(device, 1)).session(key)
    nonce = os.urandom(NONCE_BYTES)
    ct = nonce + session.aead.encrypt(nonce, plain, _info(device, seq, kind.value))
    sealed = {"key": key.fingerprint, "wrap": session.wrap, "ct": base64.b64encode(ct).decode()}
    return {**clear, SEALED: sealed}


class Unsealer:
    """Opens sealed opinions with the private keys of an opening (by fingerprint),
    unwrapping each session key once (at most :data:`UNWRAPPED_KEPT` kept at a time)."""

    def __init__(self, keys: Mapping[str, BoxPrivateKey]) -> None:
        self.keys = keys
        self._unwrapped: dict[tuple[str, str, str], ChaCha20Poly1305] = {}

    def _session(
        self, key: BoxPrivateKey, fingerprint: str, wrap: str, device: str
    ) -> ChaCha20Poly1305:
        found = self._unwrapped.get((fingerprint, device, wrap))
        if found is None:
            secret = key.open(base64.b64decode(wrap, validate=True), _wrap_info(device))
            if len(secret) != SESSION_KEY_BYTES:
                raise SealError("a session key has 32 bytes")
            if len(self._unwrapped) >= UNWRAPPED_KEPT:
                self._unwrapped.clear()
            found = self._unwrapped[(fingerprint, device, wrap)] = ChaCha20Poly1305(secret)
        return found

    def opened(self, record: Record) -> Mapping[str, Any]:
        """The body of ``record`` with its opinion back in clear (a format-1 record's body
        as it is). Raises :class:`OpinionError`."""
        body = record.body
        sealed = body.get(SEALED)
        if sealed is None:
            return body
        fingerprint = sealed["key"]
        key = self.keys.get(fingerprint)
        if key is None:
            raise OpinionError(
                _("sealed to the key {key}, which was not given for this opening").format(
                    key=fingerprint
                ),
                fingerprint,
            )
        try:
            device = record.fields["device"]
            aead = self._session(key, fingerprint, sealed["wrap"], device)
            ct = binascii.a2b_base64(sealed["ct"], strict_mode=True)
            info = _info(device, record.seq, record.fields["kind"])  # (kind.value: slower)
            plain = aead.decrypt(ct[:NONCE_BYTES], ct[NONCE_BYTES:], info)
        except (SealError, InvalidTag, binascii.Error, ValueError):
            raise OpinionError(
                _("the sealed opinion does not open with the box key: it was altered"),
                fingerprint,
            ) from None
        try:
            taken = orjson.loads(plain.rstrip(b" "))
        except orjson.JSONDecodeError:
            taken = None
        if type(taken) is not dict:
            raise OpinionError(_("the sealed part holds no opinion"), fingerprint)
        problem = opinion_problem(record.kind, taken)
        if problem is not None:
            raise OpinionError(problem, fingerprint)
        opened = dict(body)
        del opened[SEALED]
        opened.update(taken)
        return opened


def opened_body(record: Record, keys: Mapping[str, BoxPrivateKey] | Unsealer) -> Mapping[str, Any]:
    """The body of ``record`` with its opinion back in clear; ``keys``: private keys by
    fingerprint, or an :class:`Unsealer` (which keeps the session keys it unwrapped)."""
    return (keys if isinstance(keys, Unsealer) else Unsealer(keys)).opened(record)


__all__ = [
    "OPINION_FIELDS",
    "SEALED",
    "SESSION_OPINIONS",
    "KeyRing",
    "OpinionError",
    "Sealer",
    "SealingKey",
    "SealingSessions",
    "Unsealer",
    "opened_body",
    "seal_body",
]
