"""The vocabulary of the record grammar (``hom_phieu.ledger.grammar``): what one field
may hold (:class:`Spec` and its kinds) and what an object's fields may (:class:`Shape`),
each with a fast yes or no (``fits``: every record written or read goes through it) and
the reason in words when the answer is no (``problem``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hom_phieu.i18n import N_, _

INT64 = 2**63 - 1  # what SQLite and PostgreSQL (BIGINT) store
MAX_DETAIL_TEXT = 2000  # an open field's text (an error message from the printer, say)
MAX_DETAILS = 16  # open fields of one record

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


def clipped(name: str) -> str:
    return name if len(name) <= _SHOWN else name[: _SHOWN - 1] + "…"


def _what(value: object) -> str:
    return _(_JSON_TYPES.get(type(value), _OTHER_TYPE))


def wrong_type(path: str, value: object, expected: str) -> str:
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
            return wrong_type(path, value, N_("a text"))
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
            return wrong_type(path, value, N_("a text"))
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
            return wrong_type(path, value, N_("a whole number"))
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
        return None if type(value) is bool else wrong_type(path, value, N_("true or false"))


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
        return wrong_type(path, value, N_("a text, a whole number, true or false, or null"))


@dataclass(frozen=True, slots=True)
class Table(Spec):
    """An object of any keys (each fitting ``keys``) to values fitting ``values``."""

    keys: Spec  # (JSON keys are always texts: this says which)
    values: Spec
    max_items: int

    def problem(self, path: str, value: object) -> str | None:
        if type(value) is not dict:
            return wrong_type(path, value, N_("an object"))
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
    unchecked: tuple[str, ...] = ()  # allowed, their values vouched for elsewhere
    known: frozenset[str] = field(init=False)
    # (name, its spec's fits, its spec): the bound methods looked up once, not per record
    _checks: tuple[tuple[str, Callable[[object], bool], Spec], ...] = field(init=False)

    def __post_init__(self) -> None:
        known = frozenset((*self.required, *self.optional, *self.unchecked))
        object.__setattr__(self, "known", known)
        checks = tuple((name, spec.fits, spec) for name, spec in self.required.items())
        object.__setattr__(self, "_checks", checks)

    def problem(self, prefix: str, value: Mapping[str, Any], what: str) -> str | None:
        for name, fits, spec in self._checks:
            if name not in value:
                return _("field {name} is missing").format(name=prefix + name)
            item = value[name]
            if not fits(item):
                return spec.problem(prefix + name, item)
        present = len(self._checks)
        for name, spec in self.optional.items():
            if name in value:
                present += 1
                if not spec.fits(item := value[name]):
                    return spec.problem(prefix + name, item)
        for name in self.unchecked:
            present += name in value
        if len(value) == present:  # the usual case: nothing more to look at
            return None
        others = [name for name in value if name not in self.known]
        if others and self.extra is None:
            return _("field {name} has no place in a {kind} record").format(
                name=prefix + clipped(others[0]), kind=what
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


def compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


_DETAIL_TEXT = Text(MAX_DETAIL_TEXT)
_DETAIL_INT = Int(-INT64, INT64)


@dataclass(frozen=True, slots=True)
class Base64(Text):
    """Base64 text: what the pattern says, checked by a byte table instead (a sealed
    record carries two, one of 380 characters: the pattern took longer than the rest of
    its grammar)."""

    def fits(self, value: object) -> bool:
        if type(value) is not str or not value.isascii():
            return False
        digits = value.rstrip("=")
        return (
            len(digits) > 0
            and len(value) - len(digits) <= 2
            and len(value) <= self.max_len
            and not digits.encode().translate(None, _BASE64_DIGITS)
        )


_BASE64_DIGITS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
