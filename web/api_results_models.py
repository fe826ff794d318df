"""The answers of the results read API (``/api/results/v1``): one typed model per document,
each with its ``to_json``; ``docs/results-api.openapi.yaml`` describes the same documents.

Pure. Machine values only: integers, rates as numbers in 0..1 with their part and whole
(never "63,35%"), months as ``YYYY-MM``; names as the server stores them. A value that is
not known (a rate of no ballots, dossiers an opening did not give) is ``null``.
"""

from __future__ import annotations

from dataclasses import dataclass

from web.minutes_count import LevelCounts
from web.minutes_json import Json
from web.report_period import Period
from web.report_query import ReportRow
from web.report_stats import Rate

LEVELS = ("very_satisfied", "satisfied", "not_satisfied")


def rate_json(rate: Rate) -> Json:
    """``{"value": 0.6335, "part": 76, "whole": 120}`` (value null of no ballots)."""
    return {"value": rate.value, "part": rate.part, "whole": rate.whole}


@dataclass(frozen=True, slots=True)
class UnitRef:
    id: int
    code: str
    name: str

    def to_json(self) -> Json:
        return {"id": self.id, "code": self.code, "name": self.name}


@dataclass(frozen=True, slots=True)
class OfficeRef:
    id: int
    code: str
    name: str
    unit: UnitRef

    def to_json(self) -> Json:
        return {"id": self.id, "code": self.code, "name": self.name, "unit": self.unit.to_json()}


@dataclass(frozen=True, slots=True)
class Figures:
    """Ballots per level and the satisfaction rate with its 95 % Wilson interval."""

    levels: LevelCounts

    @classmethod
    def of(cls, row: ReportRow | None) -> Figures:
        return cls(row.levels if row is not None else LevelCounts(0, 0, 0))

    @property
    def ballots(self) -> int:
        return sum(self.levels[level] for level in LEVELS)

    @property
    def rate(self) -> Rate:
        return Rate(self.levels.very_satisfied + self.levels.satisfied, self.ballots)

    def to_json(self) -> Json:
        rate, ballots = self.rate, self.ballots
        bounds = rate.wilson()
        return {
            "ballots": ballots,
            "by_level": self.levels.to_json(),
            "shares": {level: Rate(self.levels[level], ballots).value for level in LEVELS},
            "rate": {
                **rate_json(rate),
                "interval_95": None if bounds is None else {"low": bounds[0], "high": bounds[1]},
            },
        }


@dataclass(frozen=True, slots=True)
class Dossiers:
    """Dossiers returned (known per office-month, from the opening) and participation:
    the ballots of those office-months per dossier returned."""

    returned: int | None
    ballots: int = 0

    @classmethod
    def of(cls, row: ReportRow | None) -> Dossiers:
        if row is None or row.dossiers is None:
            return cls(None)
        return cls(row.dossiers, row.dossier_votes)

    def to_json(self) -> Json:
        if self.returned is None:
            return {"dossiers_returned": None, "participation": None}
        return {
            "dossiers_returned": self.returned,
            "participation": rate_json(Rate(self.ballots, self.returned)),
        }


def period_json(period: Period) -> Json:
    return {"kind": period.kind.value, "first": period.first, "last": period.last}


@dataclass(frozen=True, slots=True)
class OfficeEntry:
    office: OfficeRef
    first_month: str | None  # the first and last month with opened results (None: none yet)
    last_month: str | None

    def to_json(self) -> Json:
        return {
            **self.office.to_json(),
            "first_month": self.first_month,
            "last_month": self.last_month,
        }


@dataclass(frozen=True, slots=True)
class OfficesAnswer:
    unit: UnitRef  # the token's unit
    offices: tuple[OfficeEntry, ...]

    def to_json(self) -> Json:
        return {"unit": self.unit.to_json(), "offices": [o.to_json() for o in self.offices]}


@dataclass(frozen=True, slots=True)
class MonthRow:
    """One month's opened results: its own box's ballots and the late ballots that later
    openings counted for it (supplements), together."""

    month: str
    figures: Figures
    dossiers: Dossiers
    late_ballots: int  # of the ballots, those counted by a later opening (supplements)

    def to_json(self) -> Json:
        return {
            "month": self.month,
            **self.figures.to_json(),
            "late_ballots": self.late_ballots,
            **self.dossiers.to_json(),
        }


@dataclass(frozen=True, slots=True)
class MonthsAnswer:
    office: OfficeRef
    period: Period
    channels: str
    months: tuple[MonthRow, ...]
    total: MonthRow  # month "total"

    def to_json(self) -> Json:
        total = self.total.to_json()
        del total["month"]
        return {
            "office": self.office.to_json(),
            "period": period_json(self.period),
            "channels": self.channels,
            "months": [row.to_json() for row in self.months],
            "total": total,
        }


@dataclass(frozen=True, slots=True)
class ClerkFigures:
    clerk_id: int | None  # None: a code the minutes named that is not in the office's list
    code: str
    name: str
    figures: Figures

    def to_json(self) -> Json:
        return {"id": self.clerk_id, "code": self.code, "name": self.name,
                **self.figures.to_json()}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ClerksAnswer:
    office: OfficeRef
    period: Period
    channels: str
    clerks: tuple[ClerkFigures, ...]
    total: Figures

    def to_json(self) -> Json:
        return {
            "office": self.office.to_json(),
            "period": period_json(self.period),
            "channels": self.channels,
            "clerks": [row.to_json() for row in self.clerks],
            "total": self.total.to_json(),
        }


@dataclass(frozen=True, slots=True)
class UnitFigures:
    unit: UnitRef
    figures: Figures
    dossiers: Dossiers

    def to_json(self) -> Json:
        return {"unit": self.unit.to_json(), **self.figures.to_json(), **self.dossiers.to_json()}


@dataclass(frozen=True, slots=True)
class SummaryAnswer:
    """A unit's sub-units, each with everything below it (the unit's own offices, if it has
    any, in a row of the unit itself)."""

    unit: UnitRef
    period: Period
    channels: str
    units: tuple[UnitFigures, ...]
    total: Figures
    total_dossiers: Dossiers

    def to_json(self) -> Json:
        return {
            "unit": self.unit.to_json(),
            "period": period_json(self.period),
            "channels": self.channels,
            "units": [row.to_json() for row in self.units],
            "total": {**self.total.to_json(), **self.total_dossiers.to_json()},
        }


@dataclass(frozen=True, slots=True)
class ApiError:
    """Every refusal: a stable code and the reason in Vietnamese and in English."""

    error: str
    message: str  # Vietnamese
    message_en: str

    def to_json(self) -> Json:
        return {"error": self.error, "message": self.message, "message_en": self.message_en}
