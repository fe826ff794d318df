"""The record grammar: what every field of every kind of record may hold.

A record that decodes (``records.decode``: canonical JSON, a known version, the header's
JSON types) and is correctly signed may still carry nonsense: a level nobody knows, a
list where a word belongs, a comment of a megabyte. Such a record would be counted in no
level, or crash whatever reads it, so verification refuses it as *malformed*: the device
never writes one, ``kiosk verify`` names it, the server refuses it at push time, and an
opening stops counting at it.

One declarative schema per kind, checked by :func:`record_problem` (the verifier calls it
before any other rule, so the rules and everything after them read well-typed bodies).
Bodies are closed (unknown fields refused) except where the format is open by design:
BOOT and EVENT carry further facts, and REFUSED further details of the refusal; those
extra fields may only be plain values (short text, whole number, true/false, null).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hom_phieu.i18n import N_, _
from hom_phieu.ledger.events import EventType
from hom_phieu.ledger.grammar_specs import (
    INT64,
    Anything,
    Base64,
    Bool,
    Int,
    Nullable,
    Plain,
    Shape,
    Spec,
    Table,
    Text,
    Word,
    clipped,
    compiled,
    wrong_type,
)
from hom_phieu.ledger.records import (
    FORMAT_VERSION,
    RECEIPT_ALPHABET,
    RECEIPT_LENGTH,
    Channel,
    Kind,
    Level,
    Record,
    TimeQuality,
)

MAX_RECORD_BYTES = 65_536  # a phone answer with every criterion and comment: under 13 kB
MAX_WALL_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: beyond, no date to show
MAX_CODE = 64  # clerk codes, button names, reasons, event types (the server allows 40)
MAX_COMMENT = 1000  # the phone survey's limit (web.survey.MAX_COMMENT)
MAX_CRITERION = 200  # the admin pages' limit on a criterion's words
MAX_CRITERIA = 10  # the admin pages' limit on an office's criteria (web.manage.office)
MAX_TALLY_KEYS = 1000  # clerks (or buttons) a CLOSE counts for one box
SURVEY_SOURCES = ("ticket", "screen")  # which QR code a phone answer came through

CODE = Text(MAX_CODE, min_len=1)
WORD = Text(MAX_CODE, min_len=1, pattern=compiled(r"[a-z0-9_]+"),
            form=N_("a word of a-z, 0-9 and _"))  # fmt: skip
HEX64 = Text(64, pattern=compiled(r"[0-9a-f]{64}"), form=N_("64 hexadecimal digits"))
MONTH = r"[0-9]{4}-(?:0[1-9]|1[0-2])"
BOX = Text(7, pattern=compiled(f"(?:{MONTH})?"), form=N_("a month YYYY-MM"))
OPEN_BOX = Text(7, pattern=compiled(MONTH), form=N_("a month YYYY-MM"))
COUNT = Int(0, INT64)
LEVEL = Word(tuple(level.value for level in Level))
_RECEIPT_HALF = f"[{RECEIPT_ALPHABET}]{{{RECEIPT_LENGTH // 2}}}"
RECEIPT = Text(RECEIPT_LENGTH + 1, pattern=compiled(f"{_RECEIPT_HALF}-{_RECEIPT_HALF}"),
               form=N_("a receipt code such as ABCDE-FGHJK"))  # fmt: skip

HEADER = Shape(
    {
        "v": Int(1, FORMAT_VERSION),
        "device": Text(MAX_CODE, pattern=compiled(r"hp-[A-Z2-7]{16}"), form=N_("a device id")),
        "seq": Int(1, INT64),
        "prev": HEX64,
        "kind": Word(tuple(kind.value for kind in Kind)),
        "box": BOX,
        "wall_ms": Int(0, MAX_WALL_MS),
        "tq": Word(tuple(quality.value for quality in TimeQuality)),
        "boot": Int(1, INT64),
        "mono_ns": Int(0, INT64),
        "body": Anything(),  # an object (decode saw to it), checked by its kind's shape
    }
)

# The header of a record whose place in its chain was checked first (the verifier's walk:
# its seq is the next one, its prev the hash before it) and that decoded (``kind`` and
# ``tq`` are known words): what is left to check.
_PLACED = frozenset(("seq", "prev", "kind", "tq", "body"))
PLACED_HEADER = Shape(
    {name: spec for name, spec in HEADER.required.items() if name not in _PLACED},
    unchecked=tuple(_PLACED),
)

BODIES: dict[Kind, Shape] = {
    Kind.BOOT: Shape(
        {
            "software": Text(MAX_CODE, min_len=1),
            "kernel_boot_id": Text(MAX_CODE),
            "clock_ms": Int(-INT64, INT64),  # the raw clock, however wrong
            "clock_synced": Bool(),
        },
        {"config_digest": Nullable(Text(128))},
        extra=Plain(),
    ),
    Kind.OPEN: Shape(
        {"votes": COUNT, "refused": COUNT, "previous_close": Nullable(HEX64)},
        # a clock correction (hom_phieu.ledger.correction): both, or neither
        {"corrected_from_ms": Int(0, MAX_WALL_MS), "server_wall_ms": Int(0, MAX_WALL_MS)},
    ),
    Kind.VOTE: Shape(
        {
            "counter": Int(1, INT64),
            "clerk": CODE,
            "button": CODE,
            "level": LEVEL,
            "channel": Word(tuple(channel.value for channel in Channel)),
        },
        {  # a phone answer's details (web.survey)
            "criteria": Table(Text(MAX_CRITERION, min_len=1), LEVEL, MAX_CRITERIA),
            "source": Word(SURVEY_SOURCES),
            "ticket": RECEIPT,  # the receipt code of the ticket a "ticket" answer came with
            "comment": Text(MAX_COMMENT, min_len=1),
        },
    ),
    Kind.REFUSED: Shape(
        # ``reason``: any word, not only a RefusalReason (a newer device's stays readable)
        {"button": CODE, "reason": WORD, "clerk": Text(MAX_CODE)},
        extra=Plain(),  # the rule's figures: gap_ms, votes_in_window, held_ms…
    ),
    Kind.EVENT: Shape({"type": WORD}, extra=Plain()),  # any word: EventType and newer ones
    Kind.CLOSE: Shape(
        {
            "votes": COUNT,
            "refused": COUNT,
            "counts": Table(CODE, Table(LEVEL, Int(1, INT64), len(Level)), MAX_TALLY_KEYS),
            "buttons": Table(CODE, Int(1, INT64), MAX_TALLY_KEYS),
            "open_seq": Int(1, INT64),
            "last_hash": HEX64,
        }
    ),
}

# Format 2 (``hom_phieu.ledger.opinion``): the opinion sealed; a CLOSE seals counts
# without levels or buttons (the device no longer knows them once a vote is stored).
FINGERPRINT = Text(24, pattern=compiled(r"[0-9A-F]{4}(?:-[0-9A-F]{4}){4}"),
                   form=N_("a key fingerprint"))  # fmt: skip


BASE64 = Base64(MAX_RECORD_BYTES, min_len=1, pattern=compiled(r"[A-Za-z0-9+/]+={0,2}"),
                form=N_("base64"))  # fmt: skip
SEALED_PART = Shape({"key": FINGERPRINT, "wrap": BASE64, "ct": BASE64})


@dataclass(frozen=True, slots=True)
class Sealed(Spec):
    def fits(self, value: object) -> bool:
        return type(value) is dict and SEALED_PART.problem("", value, "sealed") is None

    def problem(self, path: str, value: object) -> str | None:
        if type(value) is not dict:
            return wrong_type(path, value, N_("an object"))
        return SEALED_PART.problem(path + ".", value, "sealed")


_VOTE = BODIES[Kind.VOTE]
_REFUSED = BODIES[Kind.REFUSED]
_CLOSE = BODIES[Kind.CLOSE]
SEALED_BODIES: dict[Kind, Shape] = {
    **BODIES,
    Kind.VOTE: Shape(
        {
            **{k: v for k, v in _VOTE.required.items() if k not in ("button", "level")},
            "sealed": Sealed(),
        },
        {k: v for k, v in _VOTE.optional.items() if k not in ("criteria", "comment")},
    ),
    Kind.REFUSED: Shape(
        {**{k: v for k, v in _REFUSED.required.items() if k != "button"}, "sealed": Sealed()},
        extra=Plain(),
    ),
    Kind.CLOSE: Shape({k: v for k, v in _CLOSE.required.items() if k not in ("counts", "buttons")}),
}
BODIES_BY_VERSION = {1: BODIES, 2: SEALED_BODIES}
# What the sealed part of each kind may hold, and must: its body's fields in clear that the
# sealed body lacks (``hom_phieu.ledger.opinion.OPINION_FIELDS``).
SEALED_FIELDS = {
    kind: BODIES[kind].known - SEALED_BODIES[kind].known for kind in (Kind.VOTE, Kind.REFUSED)
}
_SEALED_REQUIRED = {
    kind: tuple(name for name in BODIES[kind].required if name in names)
    for kind, names in SEALED_FIELDS.items()
}

# EVENT types whose fields the verifier reads (its state keeps them): those must be there.
EVENT_FIELDS: dict[EventType, Shape] = {
    EventType.CLERK_ON_DUTY: Shape({"clerk": CODE}, extra=Plain()),
    EventType.RESULTS_SLIP: Shape({"box": OPEN_BOX}, extra=Plain()),
}


def record_problem(record: Record, placed: bool = False) -> str | None:
    """Why ``record`` breaks the grammar (in words, translated), or None when it fits.
    ``placed``: its place in the chain was checked (see ``PLACED_HEADER``)."""
    if len(record.data) > MAX_RECORD_BYTES:
        return _("the record is {size} bytes long; at most {limit} are allowed").format(
            size=len(record.data), limit=MAX_RECORD_BYTES
        )
    kind, word = record.kind, record.fields["kind"]  # (the word: kind.value is slower)
    reason = (PLACED_HEADER if placed else HEADER).problem("", record.fields, word)
    if reason is not None:
        return reason
    if kind is Kind.OPEN:
        reason = OPEN_BOX.problem("box", record.box)
        if reason is not None:
            return reason
    body = record.body
    reason = BODIES_BY_VERSION[record.fields["v"]][kind].problem("body.", body, word)
    if reason is None and kind is Kind.EVENT and body["type"] in EVENT_FIELDS:
        reason = EVENT_FIELDS[body["type"]].problem("body.", body, word)
    return reason


def opinion_problem(kind: Kind, taken: Mapping[str, Any]) -> str | None:
    """Why the fields a sealed record's opinion holds (``taken``, out of its sealed part)
    break the grammar, or None. The rest of its body passed the sealed grammar already, so
    this is :func:`clear_body_problem` of the body opened, without checking that rest twice."""
    shape = BODIES[kind]
    for name, value in taken.items():
        if name not in SEALED_FIELDS[kind]:
            return _("field {name} has no place in a {kind} record").format(
                name="body." + clipped(name), kind=kind.value
            )
        spec = shape.required.get(name) or shape.optional[name]
        if not spec.fits(value):
            return spec.problem("body." + name, value)
    for name in _SEALED_REQUIRED[kind]:
        if name not in taken:
            return _("field {name} is missing").format(name="body." + name)
    return None


def clear_body_problem(kind: Kind, body: Mapping[str, Any]) -> str | None:
    """Why an opinion's body in clear (a format-1 body, or a sealed one opened) breaks the
    grammar, or None: what a writer checks before sealing and an opening after."""
    return BODIES[kind].problem("body.", body, kind.value)
