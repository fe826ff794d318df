"""The period a report covers: a month, a quarter, a year or a range of months.

Pure. Months are boxes (``YYYY-MM``); a period is the closed range ``first``..``last``.
A reader names it in a page's query string (:meth:`Period.parse`), and reads it back as
Vietnamese words (:meth:`Period.label`: "Tháng 03/2026", "Quý I/2026", "Năm 2026",
"Từ 03/2026 đến 08/2026").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from hom_phieu.i18n import _
from web.ceremony_calendar import box_label, next_box, parse_box

MAX_MONTHS = 120  # a range longer than ten years is refused (a decade of one commune is fine)
ROMAN = ("I", "II", "III", "IV")


class PeriodError(ValueError):
    """The query names no valid period; the message says what is wrong, in words."""


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    RANGE = "range"


@dataclass(frozen=True, slots=True)
class Period:
    kind: PeriodKind
    first: str  # YYYY-MM
    last: str  # YYYY-MM, not before first

    @classmethod
    def month(cls, box: str) -> Period:
        parse_box(box)
        return cls(PeriodKind.MONTH, box, box)

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        if not 1 <= quarter <= 4:
            raise PeriodError(_("A quarter is 1, 2, 3 or 4."))
        _year(year)
        return cls(PeriodKind.QUARTER, f"{year:04d}-{3 * quarter - 2:02d}",
                   f"{year:04d}-{3 * quarter:02d}")  # fmt: skip

    @classmethod
    def year(cls, year: int) -> Period:
        _year(year)
        return cls(PeriodKind.YEAR, f"{year:04d}-01", f"{year:04d}-12")

    @classmethod
    def range(cls, first: str, last: str) -> Period:
        for box in (first, last):
            try:
                parse_box(box)
            except ValueError:
                raise PeriodError(not_a_month(box)) from None
        if last < first:
            raise PeriodError(_("The period ends before it starts."))
        made = cls(PeriodKind.RANGE, first, last)
        if len(made.months()) > MAX_MONTHS:
            raise PeriodError(_("A report covers at most {n} months.").format(n=MAX_MONTHS))
        return made

    @classmethod
    def parse(cls, args: Mapping[str, str], default: Period | Callable[[], Period]) -> Period:
        """The period a query string names (``period=month&month=2026-03``,
        ``period=quarter&year=2026&quarter=1``, ``period=year&year=2026``,
        ``period=range&from=2026-01&to=2026-06``); ``default`` when it names none (a
        function: called only then, as finding the default may cost a query)."""
        kind = args.get("period", "")
        if not kind:
            return default() if callable(default) else default
        if kind == PeriodKind.MONTH:
            box = args.get("month", "")
            try:
                return cls.month(box)
            except ValueError:
                raise PeriodError(not_a_month(box)) from None
        if kind == PeriodKind.QUARTER:
            return cls.quarter(_number(args, "year"), _number(args, "quarter"))
        if kind == PeriodKind.YEAR:
            return cls.year(_number(args, "year"))
        if kind == PeriodKind.RANGE:
            return cls.range(args.get("from", ""), args.get("to", ""))
        raise PeriodError(_("Unknown period: choose a month, a quarter, a year or a range."))

    def to_args(self) -> dict[str, str]:
        """The query string naming this period (what :meth:`parse` reads)."""
        year = self.first[:4]
        if self.kind is PeriodKind.MONTH:
            return {"period": "month", "month": self.first}
        if self.kind is PeriodKind.QUARTER:
            return {"period": "quarter", "year": year, "quarter": str(self.quarter_number())}
        if self.kind is PeriodKind.YEAR:
            return {"period": "year", "year": year}
        return {"period": "range", "from": self.first, "to": self.last}

    def quarter_number(self) -> int:
        return (int(self.first[5:7]) + 2) // 3

    def months(self) -> tuple[str, ...]:
        found, box = [self.first], self.first
        while box < self.last:
            box = next_box(box)
            found.append(box)
        return tuple(found)

    def label(self) -> str:
        """The period in words, in the current language."""
        if self.kind is PeriodKind.MONTH:
            return _("Month {month}").format(month=box_label(self.first))
        if self.kind is PeriodKind.QUARTER:
            return _("Quarter {quarter}/{year}").format(
                quarter=ROMAN[self.quarter_number() - 1], year=self.first[:4]
            )
        if self.kind is PeriodKind.YEAR:
            return _("Year {year}").format(year=self.first[:4])
        return _("From {first} to {last}").format(
            first=box_label(self.first), last=box_label(self.last)
        )

    def previous_year(self) -> Period:
        """The same period a year earlier (the comparison "same period last year")."""
        return Period(self.kind, _shift_year(self.first), _shift_year(self.last))


def not_a_month(text: str) -> str:
    return _("{month} is not a month (YYYY-MM).").format(month=text[:20])


def _shift_year(box: str) -> str:
    year, month = parse_box(box)
    return f"{year - 1:04d}-{month:02d}"


def _year(year: int) -> None:
    if not 2000 <= year <= 2200:
        raise PeriodError(_("{year} is not a year this system serves.").format(year=year))


def _number(args: Mapping[str, str], name: str) -> int:
    text = args.get(name, "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 4:
        raise PeriodError(_("{name}: not a number: {text}").format(name=name, text=text[:20]))
    return int(text)
