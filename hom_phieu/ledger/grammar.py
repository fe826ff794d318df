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

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hom_phieu.i18n import N_, _
from hom_phieu.ledger.events import EventType
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
INT64 = 2**63 - 1  # what SQLite and PostgreSQL (BIGINT) store
MAX_WALL_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: beyond, no date to show
MAX_CODE = 64  # clerk codes, button names, reasons, event types (the server allows 40)
MAX_COMMENT = 1000  # the phone survey's limit (web.survey.MAX_COMMENT)
MAX_CRITERION = 200  # the admin pages' limit on a criterion's words
MAX_CRITERIA = 10  # the admin pages' limit on an office's criteria (web.manage.office)
MAX_DETAIL_TEXT = 2000  # an open field's text (an error message from the printer, say)
MAX_DETAILS = 16  # open fields of one record
MAX_TALLY_KEYS = 1000  # clerks (or buttons) a CLOSE counts for one box
SURVEY_SOURCES = ("ticket", "screen")  # which QR code a phone answer came through

_JSON_TYPES = {
    str: N_("a text"),
    int: N_("a whole number"),
    bool: N_("true or false"),
    type(None): N_("null"),
    list: N_("a list"),
    dict: N_("an object"),
}
_OTHER_TYPE = N_("a value of another type")  # (JSON has no other: floats are refused)
_SHOWN = 40  # characters of a refused value (or key) shown in a reason


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _clipped(name: str) -> str:
    return name if len(name) <= _SHOWN else name[: _SHOWN - 1] + "…"


def _what(value: object) -> str:
    return _(_JSON_TYPES.get(type(value), _OTHER_TYPE))


def _wrong_type(path: str, value: object, expected: str) -> str:
    return _("field {name} must be {expected}, not {what}").format(
        name=path, expected=_(expected), what=_what(value)
    )


class Spec:
    """What one field may hold. ``fits`` is the fast yes or no (every record written or
    read goes through it); ``problem`` says why ``value`` does not fit, or None."""

    __slots__ = ()

    def fits(self, value: object) -> bool:
        return self.problem("", value) is None

    def problem(self, path: str, value: object) -> str | None:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Text(Spec):
    max_len: int
    min_len: int = 0
    pattern: re.Pattern[str] | None = None
    form: str = ""  # the pattern in words (a msgid)

    def fits(self, value: object) -> bool:
        return (
            type(value) is str
            and self.min_len <= len(value) <= self.max_len
            and (self.pattern is None or self.pattern.fullmatch(value) is not None)
        )

    def problem(self, path: str, value: object) -> str | None:
        if type(value) is not str:
            return _wrong_type(path, value, N_("a text"))
        if len(value) < self.min_len:
            return _("field {name} is empty").format(name=path)
        if len(value) > self.max_len:
            return _(
                "field {name} is {length} characters long; at most {limit} are allowed"
            ).format(name=path, length=len(value), limit=self.max_len)
        if self.pattern is not None and self.pattern.fullmatch(value) is None:
            return _("field {name} is not {form}: {value}").format(
                name=path, form=_(self.form), value=_shown(value)
            )
        return None


@dataclass(frozen=True, slots=True)
class Word(Spec):
    """One of a closed list of words (a level, a channel…)."""

    choices: tuple[str, ...]

    def fits(self, value: object) -> bool:
        return type(value) is str and value in self.choices

    def problem(self, path: str, value: object) -> str | None:
        if type(value) is not str:
            return _wrong_type(path, value, N_("a text"))
        if value not in self.choices:
            return _("field {name} must be one of {choices}, not {value}").format(
                name=path, choices=", ".join(self.choices), value=_shown(value)
            )
        return None


@dataclass(frozen=True, slots=True)
class Int(Spec):
    low: int = 0
    high: int = INT64

    def fits(self, value: object) -> bool:
        return type(value) is int and self.low <= value <= self.high

    def problem(self, path: str, value: object) -> str | None:
        if type(value) is not int:  # exact: true is no 1 here
            return _wrong_type(path, value, N_("a whole number"))
        if not self.low <= value <= self.high:
            return _("field {name} must be between {low} and {high}, not {value}").format(
                name=path, low=self.low, high=self.high, value=_shown(value)
            )
        return None


@dataclass(frozen=True, slots=True)
class Bool(Spec):
    def fits(self, value: object) -> bool:
        return type(value) is bool

    def problem(self, path: str, value: object) -> str | None:
        return None if type(value) is bool else _wrong_type(path, value, N_("true or false"))


@dataclass(frozen=True, slots=True)
class Nullable(Spec):
    inner: Spec

    def fits(self, value: object) -> bool:
        return value is None or self.inner.fits(value)

    def problem(self, path: str, value: object) -> str | None:
        return None if value is None else self.inner.problem(path, value)


@dataclass(frozen=True, slots=True)
class Anything(Spec):
    """A field whose shape is checked elsewhere (the body, by its kind's shape)."""

    def fits(self, value: object) -> bool:
        return True

    def problem(self, path: str, value: object) -> str | None:
        return None


@dataclass(frozen=True, slots=True)
class Plain(Spec):
    """An open field's value: a short text, a whole number, true/false or null."""

    def problem(self, path: str, value: object) -> str | None:
        kind = type(value)
        if kind is str:
            return _DETAIL_TEXT.problem(path, value)
        if kind is int:
            return _DETAIL_INT.problem(path, value)
        if kind is bool or value is None:
            return None
        return _wrong_type(path, value, N_("a text, a whole number, true or false, or null"))


@dataclass(frozen=True, slots=True)
class Table(Spec):
    """An object of any keys (each fitting ``keys``) to values fitting ``values``."""

    keys: Spec  # (JSON keys are always texts: this says which)
    values: Spec
    max_items: int

    def problem(self, path: str, value: object) -> str | None:
        if type(value) is not dict:
            return _wrong_type(path, value, N_("an object"))
        if len(value) > self.max_items:
            return _("field {name} has {count} entries; at most {limit} are allowed").format(
                name=path, count=len(value), limit=self.max_items
            )
        for key, item in value.items():
            where = f"{path}[{_shown(key)}]"
            reason = self.keys.problem(where, key) or self.values.problem(where, item)
            if reason is not None:
                return reason
        return None


@dataclass(frozen=True, slots=True)
class Shape:
    """The fields of one object: required, optional, and (when open) any others."""

    required: Mapping[str, Spec]
    optional: Mapping[str, Spec] = field(default_factory=dict)
    extra: Spec | None = None  # None: closed, no other field allowed
    known: frozenset[str] = field(init=False)
    # (name, its spec's fits, its spec): the bound methods looked up once, not per record
    _checks: tuple[tuple[str, Callable[[object], bool], Spec], ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "known", frozenset((*self.required, *self.optional)))
        checks = tuple((name, spec.fits, spec) for name, spec in self.required.items())
        object.__setattr__(self, "_checks", checks)

    def problem(self, prefix: str, value: Mapping[str, Any], what: str) -> str | None:
        for name, fits, spec in self._checks:
            if name not in value:
                return _("field {name} is missing").format(name=prefix + name)
            item = value[name]
            if not fits(item):
                return spec.problem(prefix + name, item)
        for name, spec in self.optional.items():
            if name in value and not spec.fits(item := value[name]):
                return spec.problem(prefix + name, item)
        if len(value) == len(self.required):  # the usual case: nothing more to look at
            return None
        others = [name for name in value if name not in self.known]
        if others and self.extra is None:
            return _("field {name} has no place in a {kind} record").format(
                name=prefix + _clipped(others[0]), kind=what
            )
        if len(others) > MAX_DETAILS:
            return _("{count} further fields; at most {limit} are allowed").format(
                count=len(others), limit=MAX_DETAILS
            )
        for name in others:
            reason = self.extra.problem(prefix + name, value[name]) if self.extra else None
            if reason is not None:
                return reason
        return None


def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


_DETAIL_TEXT = Text(MAX_DETAIL_TEXT)
_DETAIL_INT = Int(-INT64, INT64)
CODE = Text(MAX_CODE, min_len=1)
WORD = Text(MAX_CODE, min_len=1, pattern=_pattern(r"[a-z0-9_]+"),
            form=N_("a word of a-z, 0-9 and _"))  # fmt: skip
HEX64 = Text(64, pattern=_pattern(r"[0-9a-f]{64}"), form=N_("64 hexadecimal digits"))
MONTH = r"[0-9]{4}-(?:0[1-9]|1[0-2])"
BOX = Text(7, pattern=_pattern(f"(?:{MONTH})?"), form=N_("a month YYYY-MM"))
OPEN_BOX = Text(7, pattern=_pattern(MONTH), form=N_("a month YYYY-MM"))
COUNT = Int(0, INT64)
LEVEL = Word(tuple(level.value for level in Level))
_RECEIPT_HALF = f"[{RECEIPT_ALPHABET}]{{{RECEIPT_LENGTH // 2}}}"
RECEIPT = Text(RECEIPT_LENGTH + 1, pattern=_pattern(f"{_RECEIPT_HALF}-{_RECEIPT_HALF}"),
               form=N_("a receipt code such as ABCDE-FGHJK"))  # fmt: skip

HEADER = Shape(
    {
        "v": Int(1, FORMAT_VERSION),
        "device": Text(MAX_CODE, pattern=_pattern(r"hp-[A-Z2-7]{16}"), form=N_("a device id")),
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
FINGERPRINT = Text(24, pattern=_pattern(r"[0-9A-F]{4}(?:-[0-9A-F]{4}){4}"),
                   form=N_("a key fingerprint"))  # fmt: skip
BASE64 = Text(MAX_RECORD_BYTES, min_len=1, pattern=_pattern(r"[A-Za-z0-9+/]+={0,2}"),
              form=N_("base64"))  # fmt: skip
SEALED_PART = Shape({"key": FINGERPRINT, "wrap": BASE64, "ct": BASE64})


@dataclass(frozen=True, slots=True)
class Sealed(Spec):
    def problem(self, path: str, value: object) -> str | None:
        if type(value) is not dict:
            return _wrong_type(path, value, N_("an object"))
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

# EVENT types whose fields the verifier reads (its state keeps them): those must be there.
EVENT_FIELDS: dict[EventType, Shape] = {
    EventType.CLERK_ON_DUTY: Shape({"clerk": CODE}, extra=Plain()),
    EventType.RESULTS_SLIP: Shape({"box": OPEN_BOX}, extra=Plain()),
}


def record_problem(record: Record) -> str | None:
    """Why ``record`` breaks the grammar (in words, translated), or None when it fits."""
    if len(record.data) > MAX_RECORD_BYTES:
        return _("the record is {size} bytes long; at most {limit} are allowed").format(
            size=len(record.data), limit=MAX_RECORD_BYTES
        )
    kind = record.kind
    reason = HEADER.problem("", record.fields, kind.value)
    if reason is not None:
        return reason
    if kind is Kind.OPEN:
        reason = OPEN_BOX.problem("box", record.box)
        if reason is not None:
            return reason
    body = record.body
    reason = BODIES_BY_VERSION[record.fields["v"]][kind].problem("body.", body, kind.value)
    if reason is None and kind is Kind.EVENT and body["type"] in EVENT_FIELDS:
        reason = EVENT_FIELDS[body["type"]].problem("body.", body, kind.value)
    return reason


def clear_body_problem(kind: Kind, body: Mapping[str, Any]) -> str | None:
    """Why an opinion's body in clear (a format-1 body, or a sealed one opened) breaks the
    grammar, or None: what a writer checks before sealing and an opening after."""
    return BODIES[kind].problem("body.", body, kind.value)
