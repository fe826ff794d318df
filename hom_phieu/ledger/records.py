"""Ledger records: their kinds, canonical encoding, hash and receipt code.

Pure functions only (no files, no clock), so that the device, the server and the
tests all read records the same way.

A record is a JSON object encoded canonically: keys sorted, no insignificant white
space, UTF-8, integers and strings only (no floats, whose text form is not unique).
Its hash is SHA-256 of those bytes; the next record carries it in ``prev``; the
device signs the same bytes with Ed25519.

The encoding is exactly ``json.dumps(obj, ensure_ascii=False, sort_keys=True,
separators=(",", ":"))`` in UTF-8 (how wave-1 records were written), produced and parsed
with ``orjson``, which gives the same bytes (every code point is checked in
``tests/test_records.py``) about six times faster: an opening parses and re-encodes a
million records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import StrEnum
from operator import itemgetter
from typing import Any, NamedTuple, cast

import orjson

from hom_phieu.i18n import N_

FORMAT_VERSION = 2  # 2: the opinion sealed (``hom_phieu.ledger.opinion``); 1: in clear
FORMAT_VERSIONS = (1, 2)  # what is read: a wave-1 ledger stays verifiable and countable
GENESIS_PREV = "0" * 64


class Kind(StrEnum):
    """What a record says happened."""

    BOOT = "BOOT"  # the daemon started (boot counter, kernel boot id, software version)
    OPEN = "OPEN"  # a monthly box was opened for voting: the zero report
    VOTE = "VOTE"  # one counted ballot
    REFUSED = "REFUSED"  # a press refused by the anti-stuffing rules: logged, never counted
    EVENT = "EVENT"  # faults, configuration change, clock change, time anchor
    CLOSE = "CLOSE"  # the seal of a monthly box: counts and the hash of its last record


class TimeQuality(StrEnum):
    """How far the record's wall time can be trusted."""

    SYNCED = "synced"  # the OS clock was synchronised (NTP) when the record was written
    ANCHORED = "anchored"  # server-signed time plus monotonic time elapsed since, same boot
    UNSYNCED = "unsynced"  # an estimate: kept and flagged, never dropped

    @property
    def trusted(self) -> bool:
        return self is not TimeQuality.UNSYNCED


SERVED = "served"  # the name of the clerk's "served" button in events and refusals


class Level(StrEnum):
    """The statutory three-level scale that every office's buttons map to."""

    VERY_SATISFIED = "very_satisfied"  # Rất hài lòng
    SATISFIED = "satisfied"  # Hài lòng
    NOT_SATISFIED = "not_satisfied"  # Không hài lòng / Chưa hài lòng


# The statutory levels in words (msgids; translated where shown).
LEVEL_LABELS = {
    Level.VERY_SATISFIED.value: N_("Very satisfied"),
    Level.SATISFIED.value: N_("Satisfied"),
    Level.NOT_SATISFIED.value: N_("Not satisfied"),
}


class Channel(StrEnum):
    """How a ballot was cast."""

    BUTTON = "button"
    PHONE = "phone"


# Fields every record carries, whatever its kind, with their JSON types. ``decode``
# guarantees these types (so :class:`Record`'s properties are what they say); the values
# and the kinds' bodies are the grammar's (``hom_phieu.ledger.grammar``).
HEADER_TYPES: dict[str, type] = {
    "v": int,
    "device": str,
    "seq": int,
    "prev": str,
    "kind": str,
    "box": str,
    "wall_ms": int,
    "tq": str,
    "boot": int,
    "mono_ns": int,
}
HEADER_FIELDS = tuple(HEADER_TYPES)
HEADER_FIELDS_AND_BODY = (*HEADER_FIELDS, "body")


class RecordFormatError(ValueError):
    """The bytes are not a well-formed record of a known version."""


def canonical_bytes(obj: Mapping[str, Any]) -> bytes:
    """The one byte string that represents ``obj``."""
    _reject_floats(obj)
    return _encode(obj)


# Only JSON's own types: a datetime or a dataclass is refused (as json.dumps refused it),
# never written in a form of orjson's choosing.
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _encode(obj: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(obj, option=_OPTIONS)
    except orjson.JSONEncodeError as error:  # an integer beyond 64 bits, a lone surrogate
        raise RecordFormatError(f"no canonical encoding: {error}") from None


_TIME_QUALITIES = frozenset(q.value for q in TimeQuality)


def _reject_floats(value: Any) -> None:
    # Iterative, with exact type checks, containers only on the stack: this runs for
    # every record verified, and recursion or isinstance against the collections ABCs
    # cost more than the JSON parsing itself. (A set of each container's types, made in
    # C, was slower still for a record's small objects: measured.)
    pending = [value]
    while pending:
        item = pending.pop()
        for inner in item.values() if type(item) is dict else item:
            kind = type(inner)
            if kind is float:
                raise RecordFormatError("floats have no canonical form; use integers")
            if kind is dict or kind is list or kind is tuple:
                pending.append(inner)


def record_hash(data: bytes) -> str:
    """Hex SHA-256 of a record's canonical bytes: what the next record's ``prev`` holds."""
    return hashlib.sha256(data).hexdigest()


class Record(NamedTuple):
    """A decoded record. ``data`` is the exact signed byte string; ``hash`` its SHA-256.

    Decoding vouches for the header's types (the casts below); the values and the body
    are vouched for only once the grammar passed (``Verifier.check_rule``). The header
    fields every rule reads are kept as attributes, read once (an opening reads each of
    them a dozen times for each of a million records). A named tuple: immutable, and
    made four times faster than a frozen dataclass (an opening makes a million)."""

    data: bytes
    fields: Mapping[str, Any]
    hash: str
    kind: Kind
    seq: int
    box: str
    wall_ms: int
    body: Mapping[str, Any]

    @classmethod
    def of(cls, data: bytes, fields: Mapping[str, Any]) -> Record:
        return cls(
            data,
            fields,
            record_hash(data),
            Kind(fields["kind"]),
            fields["seq"],
            fields["box"],
            fields["wall_ms"],
            fields["body"],
        )

    @property
    def prev(self) -> str:
        return cast(str, self.fields["prev"])

    @property
    def device(self) -> str:
        return cast(str, self.fields["device"])

    @property
    def tq(self) -> TimeQuality:
        return TimeQuality(self.fields["tq"])

    @property
    def boot(self) -> int:
        return cast(int, self.fields["boot"])

    @property
    def mono_ns(self) -> int:
        return cast(int, self.fields["mono_ns"])


_HEADER_VALUES = itemgetter(*HEADER_FIELDS, "body")
_HEADER_VALUE_TYPES = (*HEADER_TYPES.values(), dict)
_KINDS = {kind.value: kind for kind in Kind}
_HEADER_NAMES = frozenset(HEADER_FIELDS_AND_BODY)


def decode(data: bytes) -> Record:
    """Parse and check the shape of a record; raises RecordFormatError naming the fault."""
    try:
        fields = orjson.loads(data)
    except orjson.JSONDecodeError as exc:  # bad UTF-8 or JSON, a lone surrogate, nesting
        raise RecordFormatError(f"not valid JSON: {str(exc)[:200]}") from None
    # The usual record passes every check below at once (an opening decodes a million);
    # any other goes through them one by one, to be told what is wrong.
    if type(fields) is dict and fields.keys() >= _HEADER_NAMES:
        values = _HEADER_VALUES(fields)
        if (
            tuple(map(type, values)) == _HEADER_VALUE_TYPES
            and values[0] in FORMAT_VERSIONS
            and values[4] in _KINDS
            and values[7] in _TIME_QUALITIES
        ):
            _reject_floats(fields)
            if _encode(fields) == data:
                kind, seq, box, wall_ms = _KINDS[values[4]], values[2], values[5], values[6]
                return Record(data, fields, record_hash(data), kind, seq, box, wall_ms, values[10])
    _shape_fault(fields)
    raise RecordFormatError("not in canonical encoding")


def _shape_fault(fields: Any) -> None:
    """Raise RecordFormatError naming what is wrong with the decoded ``fields``."""
    if not isinstance(fields, dict):
        raise RecordFormatError("not a JSON object")
    _reject_floats(fields)  # (orjson reads a number beyond 64 bits as a float too)
    if type(fields.get("v")) is not int or fields["v"] not in FORMAT_VERSIONS:
        raise RecordFormatError(f"unknown format version {fields.get('v')!r}")
    missing = [name for name in HEADER_FIELDS_AND_BODY if name not in fields]
    if missing:
        raise RecordFormatError(f"missing fields: {', '.join(missing)}")
    for name, expected in HEADER_TYPES.items():  # before any lookup: a list is unhashable
        if type(fields[name]) is not expected:  # exact: a boolean is no integer here
            what = "an integer" if expected is int else "a string"
            raise RecordFormatError(f"field {name} is not {what}")
    if fields["kind"] not in _KINDS:
        raise RecordFormatError(f"unknown kind {fields['kind'][:20]!r}")
    if fields["tq"] not in _TIME_QUALITIES:
        raise RecordFormatError(f"unknown time quality {fields['tq'][:20]!r}")
    if not isinstance(fields["body"], dict):
        raise RecordFormatError("body is not an object")


# --- receipt codes -------------------------------------------------------------------
# Digits and capitals without the look-alikes 0/O, 1/I/L: 31 symbols that survive
# being read off thermal paper and typed on a phone.
RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
RECEIPT_LENGTH = 10  # about 49.5 bits: no collisions expected across a nation's month


# Two symbols at a time: the server derives a code for every VOTE it ingests.
_PAIRS = [a + b for b in RECEIPT_ALPHABET for a in RECEIPT_ALPHABET]
_BASE2 = len(RECEIPT_ALPHABET) ** 2


def receipt_code(record_hash_hex: str) -> str:
    """The citizen's receipt code for a VOTE, derived from its record hash: ``ABCDE-FGHJK``.

    The hash's first 64 bits, written in base 31, least significant symbol first."""
    number = int(record_hash_hex[:16], 16)  # 64 bits: more than the 49.5 the code shows
    pairs = []
    for _ in range(RECEIPT_LENGTH // 2):
        number, index = divmod(number, _BASE2)
        pairs.append(_PAIRS[index])
    code = "".join(pairs)
    return f"{code[:5]}-{code[5:]}"


def normalise_receipt_code(text: str) -> str | None:
    """A typed receipt code in canonical form, or None when it cannot be one.

    Accepts lower case, spaces and hyphens anywhere. A character outside the alphabet
    (such as O or I) makes the code invalid rather than silently guessed.
    """
    compact = "".join(ch for ch in text.upper() if ch not in " -")
    if len(compact) != RECEIPT_LENGTH or any(ch not in RECEIPT_ALPHABET for ch in compact):
        return None
    half = RECEIPT_LENGTH // 2
    return f"{compact[:half]}-{compact[half:]}"
