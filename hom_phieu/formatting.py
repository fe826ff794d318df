"""How people read numbers and times: Vietnamese conventions, Vietnam time.

Dates ``dd/mm/yyyy``, 24-hour time, decimal comma (``63,35``). Machine output (JSON,
records) keeps ISO-8601 and integers; these are only for text people read.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hom_phieu.clock import TIMEZONE


def date_time(wall_ms: int) -> str:
    """``22/11/2026 05:55:26`` in Vietnam time."""
    return datetime.fromtimestamp(wall_ms / 1000, TIMEZONE).strftime("%d/%m/%Y %H:%M:%S")


def date(wall_ms: int) -> str:
    """``22/11/2026`` in Vietnam time."""
    return datetime.fromtimestamp(wall_ms / 1000, TIMEZONE).strftime("%d/%m/%Y")


def percent(part: int, whole: int) -> str:
    """``63,35%``: two decimals, decimal comma; ``0,00%`` of nothing."""
    value = 100 * part / whole if whole else 0.0
    return f"{value:.2f}".replace(".", ",") + "%"


def decimal(value: float, places: int = 1) -> str:
    """``0,8``: a measure with a decimal comma (seconds in a log line a technician reads)."""
    return f"{value:.{places}f}".replace(".", ",")


def date_time_iso(iso: str) -> str:
    """An ISO-8601 time (from JSON output) as :func:`date_time` shows it."""
    return datetime.fromisoformat(iso).astimezone(TIMEZONE).strftime("%d/%m/%Y %H:%M:%S")


def stored_time(value: datetime | None) -> str:
    """A time read from the database as :func:`date_time` shows it; ``—`` for none.
    (SQLite gives back naive datetimes: they are UTC.)"""
    if value is None:
        return "—"
    return date_time(int(aware(value).timestamp() * 1000))


def aware(value: datetime) -> datetime:
    """A stored time with its zone (naive ones, from SQLite, are UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
