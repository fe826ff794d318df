"""Reading the minutes' JSON back: each object read key by key, with errors that say where
(``minutes.devices[1].problem.fault: unknown value 'x'``), and times that must be written
exactly as the minutes write them, so that what is read gives the same bytes again.

Used by the ``from_json`` of every part of :mod:`web.minutes`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

Json = dict[str, Any]
T = TypeVar("T")


class MinutesFormatError(ValueError):
    """Stored minutes that do not have the shape of ``docs/minutes-format.md``."""


def doc(text: str) -> dict[str, str]:
    """A field's metadata: its one-line description (for ``tools/minutes_docs.py``)."""
    return {"doc": text}


class Reader:
    """One JSON object being read: each key is taken once; leftovers are an error."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise MinutesFormatError(f"{where}: expected an object, got {type(data).__name__}")
        self.data, self.where = data, where
        self.taken: set[str] = set()

    def _get(self, key: str) -> object:
        if key not in self.data:
            raise MinutesFormatError(f"{self.where}.{key}: missing")
        self.taken.add(key)
        return self.data[key]

    def integer(self, key: str) -> int:
        return _integer(self._get(key), f"{self.where}.{key}")

    def opt_integer(self, key: str) -> int | None:
        value = self._get(key)
        return None if value is None else _integer(value, f"{self.where}.{key}")

    def text(self, key: str) -> str:
        return _text(self._get(key), f"{self.where}.{key}")

    def opt_text(self, key: str) -> str | None:
        value = self._get(key)
        return None if value is None else _text(value, f"{self.where}.{key}")

    def time(self, key: str) -> datetime:
        return parse_time(self.text(key), f"{self.where}.{key}")

    def opt_time(self, key: str) -> datetime | None:
        value = self.opt_text(key)
        return None if value is None else parse_time(value, f"{self.where}.{key}")

    def enum(self, key: str, kind: Callable[[str], T]) -> T:
        value = self.text(key)
        try:
            return kind(value)
        except ValueError:
            raise MinutesFormatError(f"{self.where}.{key}: unknown value {value!r}") from None

    def obj(self, key: str, read: Callable[[object, str], T]) -> T:
        return read(self._get(key), f"{self.where}.{key}")

    def opt_obj(self, key: str, read: Callable[[object, str], T]) -> T | None:
        value = self._get(key)
        return None if value is None else read(value, f"{self.where}.{key}")

    def items(self, key: str, read: Callable[[object, str], T]) -> tuple[T, ...]:
        value = self._get(key)
        if not isinstance(value, list):
            raise MinutesFormatError(f"{self.where}.{key}: expected a list, got {value!r}")
        return tuple(read(item, f"{self.where}.{key}[{n}]") for n, item in enumerate(value))

    def absent_or_obj(self, key: str, read: Callable[[object, str], T]) -> T | None:
        """An object that older (or smaller) minutes may lack (None then, absent again)."""
        return self.obj(key, read) if key in self.data else None

    def opt_items(self, key: str, read: Callable[[object, str], T]) -> tuple[T, ...] | None:
        """A list that older minutes may lack (None then, and absent again in the JSON)."""
        return self.items(key, read) if key in self.data else None

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.taken)
        if unknown:
            raise MinutesFormatError(f"{self.where}: unknown keys {', '.join(unknown)}")


def _integer(value: object, where: str) -> int:
    if type(value) is not int:  # (not a bool either)
        raise MinutesFormatError(f"{where}: expected an integer, got {value!r}")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise MinutesFormatError(f"{where}: expected a string, got {value!r}")
    return value


def parse_time(text: str, where: str) -> datetime:
    """An ISO-8601 time with its offset, written as the minutes write it."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise MinutesFormatError(f"{where}: not an ISO-8601 time: {text!r}") from None
    if moment.tzinfo is None or iso(moment) != text:
        raise MinutesFormatError(f"{where}: not a time with its offset, to the second: {text!r}")
    return moment


def iso(moment: datetime) -> str:
    """``2026-11-30T16:05:12+07:00``: how the minutes write a time."""
    return moment.isoformat(timespec="seconds")


def opt_iso(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)
