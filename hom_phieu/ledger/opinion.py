"""The sealed part of a record (format 2): whatever reveals the citizen's opinion.

A VOTE's level, button, criteria and comment, and a REFUSED press's button (a refused
press of "Không hài lòng" says as much as a counted one), are taken out of the body and
replaced by ``sealed``: ``{"key": <fingerprint of the box key>, "ct": <base64 HPKE
ciphertext>}``. What stays clear (sequence, time, counter, clerk, channel, the ticket a
phone answer came with) is what the checklist and the sealed pages need.

The plaintext is the canonical JSON of the taken fields, padded with spaces to a multiple
of :data:`PAD` bytes, so the ciphertext's length does not tell "satisfied" from
"not_satisfied". It is bound (HPKE ``info``) to the device, sequence number and kind of
its record: a ciphertext copied into another record does not open.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hom_phieu.i18n import _
from hom_phieu.ledger.box_key import BoxPrivateKey, BoxPublicKey, SealError
from hom_phieu.ledger.grammar import clear_body_problem
from hom_phieu.ledger.records import Kind, Record, canonical_bytes

SEALED = "sealed"
PAD = 256
# The fields each kind seals (when present).
OPINION_FIELDS: dict[Kind, tuple[str, ...]] = {
    Kind.VOTE: ("level", "button", "criteria", "comment"),
    Kind.REFUSED: ("button",),
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


def seal_body(
    kind: Kind, body: Mapping[str, Any], key: BoxPublicKey, device: str, seq: int
) -> dict[str, Any]:
    """``body`` with its opinion fields sealed to ``key`` (a new dict)."""
    names = OPINION_FIELDS.get(kind, ())
    taken = {name: body[name] for name in names if name in body}
    clear = {name: value for name, value in body.items() if name not in taken}
    plain = canonical_bytes(taken)
    plain += b" " * (-len(plain) % PAD)
    ct = key.seal(plain, _info(device, seq, kind.value))
    return {**clear, SEALED: {"key": key.fingerprint, "ct": base64.b64encode(ct).decode()}}


def opened_body(record: Record, keys: Mapping[str, BoxPrivateKey]) -> Mapping[str, Any]:
    """The body of ``record`` with its opinion back in clear (a format-1 record's body as
    it is). ``keys``: private keys by fingerprint. Raises :class:`OpinionError`."""
    body = record.body
    sealed = body.get(SEALED)
    if sealed is None:
        return body
    fingerprint = sealed["key"]
    key = keys.get(fingerprint)
    if key is None:
        raise OpinionError(
            _("sealed to the key {key}, which was not given for this opening").format(
                key=fingerprint
            ),
            fingerprint,
        )
    try:
        ct = base64.b64decode(sealed["ct"], validate=True)
        plain = key.open(ct, _info(record.device, record.seq, record.kind.value))
    except (SealError, binascii.Error, ValueError):
        raise OpinionError(
            _("the sealed opinion does not open with the box key: it was altered"), fingerprint
        ) from None
    try:
        taken = json.loads(plain.rstrip(b" ").decode())
    except (ValueError, UnicodeDecodeError):
        taken = None
    names = OPINION_FIELDS.get(record.kind, ())
    if not isinstance(taken, dict) or any(name not in names for name in taken):
        raise OpinionError(_("the sealed part holds no opinion"), fingerprint)
    clear = {name: value for name, value in body.items() if name != SEALED}
    opened = {**clear, **taken}
    problem = clear_body_problem(record.kind, opened)
    if problem is not None:
        raise OpinionError(problem, fingerprint)
    return opened


__all__ = [
    "OPINION_FIELDS",
    "SEALED",
    "KeyRing",
    "OpinionError",
    "Sealer",
    "SealingKey",
    "opened_body",
    "seal_body",
]
