"""When a month's box may be opened: on or after the month's last working day.

Pure (no database, no Flask): which days are weekends and which are public holidays is
configuration that the caller passes in. Months are calendar months in Vietnam time,
named ``YYYY-MM`` as the kiosks name their boxes.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Collection
from datetime import date, datetime, timedelta

from hom_phieu.clock import TIMEZONE
from hom_phieu.i18n import N_

BOX_PATTERN = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
DEFAULT_WEEKEND = frozenset({5, 6})  # Saturday, Sunday (Monday is 0)
# The days of the week in words (msgids), Monday first as ``date.weekday()`` counts them.
WEEKDAY_NAMES = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"),
                 N_("Saturday"), N_("Sunday"))  # fmt: skip


def parse_box(box: str) -> tuple[int, int]:
    """``"2026-11"`` → ``(2026, 11)``; a ValueError naming the box otherwise."""
    match = BOX_PATTERN.match(box)
    if match is None:
        raise ValueError(f"not a month box (YYYY-MM): {box!r}")
    return int(match[1]), int(match[2])


def next_box(box: str) -> str:
    year, month = parse_box(box)
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def boxes_from(first: str, count: int) -> list[str]:
    """``count`` boxes (months) in a row, from ``first`` on."""
    boxes = [first]
    while len(boxes) < count:
        boxes.append(next_box(boxes[-1]))
    return boxes


def box_label(box: str) -> str:
    """``"2026-11"`` → ``"11/2026"`` (how people write a month)."""
    year, month = parse_box(box)
    return f"{month:02d}/{year:04d}"


def last_working_day(
    box: str, weekend: Collection[int] = DEFAULT_WEEKEND, holidays: Collection[date] = ()
) -> date:
    """The month's last day that is neither a weekend day nor a public holiday (the
    month's last day itself when every day is off, which only bad configuration does)."""
    year, month = parse_box(box)
    last = date(year, month, calendar.monthrange(year, month)[1])
    day = last
    while day.month == month:
        if day.weekday() not in weekend and day not in holidays:
            return day
        day -= timedelta(days=1)
    return last


def month_start(box: str) -> datetime:
    """The first instant of the month, in Vietnam time."""
    year, month = parse_box(box)
    return datetime(year, month, 1, tzinfo=TIMEZONE)


def in_month(day: date, box: str) -> bool:
    return (day.year, day.month) == parse_box(box)


def month_end(box: str) -> datetime:
    """The first instant after the month, in Vietnam time."""
    return month_start(next_box(box))


def today(now: datetime) -> date:
    """The calendar day in Vietnam at ``now``."""
    return now.astimezone(TIMEZONE).date()
