"""Reports over opened results: sums of the cells frozen at each opening
(:mod:`web.models_results`), never of sealed records.

A :class:`ReportQuery` names a unit (and everything below it), optionally one office or one
clerk, a period, the channels and a procedure field, and how to break the figures down (by
the unit's sub-units, office, counter, clerk, month, channel or field). :func:`run_report`
answers it with one :class:`ReportRow` per group and the total, each with its ballots per
level, the satisfaction rate, and the dossiers returned and participation where they are
known (per office-month, from the opening).

Whether the reader may see the unit is the caller's to check (``web.auth.require_unit``);
this module only ever reads below the unit it is given. The rows are ordered by name (by
month for a breakdown by month).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hom_phieu.i18n import _
from web.ballot_channels import BallotChannel
from web.ceremony_calendar import box_label
from web.labels import CHANNEL_LABELS, label
from web.minutes_count import LevelCounts
from web.models import Clerk, Counter, Office, Opening, Unit
from web.models_results import ResultCell
from web.report_period import Period
from web.report_stats import Rate
from web.result_cells import MIXED
from web.unit_tree import subtree

LEVEL_COLUMNS = (ResultCell.very_satisfied, ResultCell.satisfied, ResultCell.not_satisfied)


class Breakdown(StrEnum):
    """How a report's figures are grouped into rows."""

    UNIT = "unit"  # the unit's sub-units (communes of a province), each with all below it
    OFFICE = "office"
    COUNTER = "counter"
    CLERK = "clerk"
    MONTH = "month"
    CHANNEL = "channel"
    FIELD = "field"


class Channels(StrEnum):
    """Which ballots a report counts: the official result (buttons and phone answers with a
    ticket: :mod:`web.ballot_channels`) by default, or one channel alone."""

    OFFICIAL = "official"
    BUTTON = "button"
    PHONE_TICKET = "phone_ticket"
    PHONE_SCREEN = "phone_screen"

    def values(self) -> tuple[str, ...]:
        if self is Channels.OFFICIAL:
            return (BallotChannel.BUTTON.value, BallotChannel.PHONE_TICKET.value, MIXED)
        return (self.value,)

    @property
    def official(self) -> bool:
        return self is not Channels.PHONE_SCREEN


@dataclass(frozen=True, slots=True)
class ReportQuery:
    unit_id: int  # the unit reported on, with everything below it
    period: Period
    by: Breakdown = Breakdown.OFFICE
    channels: Channels = Channels.OFFICIAL
    field_name: str | None = None  # one procedure field only
    office_id: int | None = None  # one office only (it must be below the unit)
    clerk_id: int | None = None  # one clerk only (a clerk reading their own results)


@dataclass(frozen=True, slots=True)
class ReportRow:
    key: str  # stable: an id, a month (YYYY-MM), a channel code, a field's name
    name: str  # as shown
    levels: LevelCounts
    votes: int
    dossiers: int | None = None  # dossiers returned, summed over the office-months that say
    dossier_votes: int = 0  # the ballots of those office-months (participation's numerator)
    office: str = ""  # the office, for a counter's or a clerk's row

    @property
    def rate(self) -> Rate:
        """The satisfaction rate: satisfied or very satisfied, of all ballots."""
        return Rate(self.levels.very_satisfied + self.levels.satisfied, self.votes)

    @property
    def participation(self) -> Rate | None:
        """Ballots per dossier returned, where the office-months said how many."""
        return None if self.dossiers is None else Rate(self.dossier_votes, self.dossiers)

    def share(self, level: str) -> Rate:
        return Rate(self.levels[level], self.votes)


@dataclass(frozen=True, slots=True)
class Report:
    query: ReportQuery
    unit: str  # the unit's name
    rows: tuple[ReportRow, ...]
    total: ReportRow
    months: tuple[str, ...] = field(default=())  # months with opened results in the period


def run_report(session: Session, query: ReportQuery) -> Report:
    unit = session.get(Unit, query.unit_id)
    if unit is None:
        raise LookupError(f"no unit {query.unit_id}")
    units = subtree(session, query.unit_id)
    names = _Names(session, query, unit)
    with_dossiers = _has_dossiers(query)
    returned = _returned(session, query) if with_dossiers else {}
    grouped: dict[str, tuple[str, str, list[int]]] = {}
    dossiers: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    # One pass over the cells: grouped by what the rows need (and, for the breakdowns that
    # show dossiers, by office and month too, so that the same pass gives participation).
    folded = query.by in (Breakdown.UNIT, Breakdown.OFFICE, Breakdown.MONTH)
    keys = _FOLDED if folded else _group_columns(query.by)
    statement = (
        select(*keys, *(func.sum(column) for column in LEVEL_COLUMNS))
        .where(*_filters(query, units))
        .group_by(*keys)
    )
    for found in session.execute(statement):
        key = tuple(found[: len(keys)])
        levels = [int(value or 0) for value in found[len(keys) :]]
        row_key, row_name, office = names.of(query.by, _row_key(query.by, key) if folded else key)
        summed = grouped.setdefault(row_key, (row_name, office, [0, 0, 0]))[2]
        for i, value in enumerate(levels):
            summed[i] += value
        if folded and (key[1], key[2]) in returned:
            dossiers[row_key][0] += returned[key[1], key[2]]
            dossiers[row_key][1] += sum(levels)
    rows = [
        _row(key, name, levels, _pair(dossiers.get(key)), office=office)
        for key, (name, office, levels) in grouped.items()
    ]
    rows.sort(key=(lambda r: r.key) if query.by is Breakdown.MONTH else (lambda r: (r.name, r.key)))
    totals = [sum(r.levels[level] for r in rows) for level in ("very_satisfied", "satisfied",
                                                                "not_satisfied")]  # fmt: skip
    total_dossiers = _sum_dossiers(_pair(p) for p in dossiers.values()) if with_dossiers else None
    total = _row("total", _("Total"), totals, total_dossiers)
    months = _opened_months(session, query, units)
    return Report(query, unit.name, tuple(rows), total, months)


def _row(
    key: str, name: str, levels: list[int], dossiers: tuple[int, int] | None, *, office: str = ""
) -> ReportRow:
    counts = LevelCounts(*levels)
    returned, ballots = dossiers if dossiers is not None else (None, 0)
    return ReportRow(key, name, counts, sum(levels), returned, ballots, office)


def _filters(query: ReportQuery, units: list[int]) -> list:
    found = [
        ResultCell.unit_id.in_(units),
        ResultCell.box >= query.period.first,
        ResultCell.box <= query.period.last,
        ResultCell.channel.in_(query.channels.values()),
    ]
    if query.field_name is not None:
        found.append(ResultCell.field_name == query.field_name)
    if query.office_id is not None:
        found.append(ResultCell.office_id == query.office_id)
    if query.clerk_id is not None:
        found.append(ResultCell.clerk_id == query.clerk_id)
    return found


def _group_columns(by: Breakdown) -> list:
    return {
        Breakdown.UNIT: [ResultCell.unit_id],
        Breakdown.OFFICE: [ResultCell.office_id],
        Breakdown.COUNTER: [ResultCell.office_id, ResultCell.counter_id, ResultCell.counter_name],
        Breakdown.CLERK: [ResultCell.office_id, ResultCell.clerk_id, ResultCell.clerk_code],
        Breakdown.MONTH: [ResultCell.box],
        Breakdown.CHANNEL: [ResultCell.channel],
        Breakdown.FIELD: [ResultCell.field_name],
    }[by]


class _Names:
    """Names for the groups' keys, read once per report."""

    def __init__(self, session: Session, query: ReportQuery, unit: Unit) -> None:
        self.session = session
        self.unit = unit
        self._child: dict[int, Unit] | None = None
        self._offices: dict[int, str] | None = None
        self._clerks: dict[int, str] | None = None
        self._counters: dict[int, str] | None = None

    def child_of(self, unit_id: int) -> Unit:
        """The sub-unit of the report's unit that ``unit_id`` is in (or the unit itself)."""
        if self._child is None:
            self._child = {}
            parents = dict(self.session.execute(select(Unit.id, Unit.parent_id)).all())
            units = {u.id: u for u in self.session.scalars(select(Unit))}
            for start in parents:
                node = start
                while node is not None and self.unit.id not in (node, parents.get(node)):
                    node = parents.get(node)
                if node is not None:
                    self._child[start] = units[node]
        return self._child.get(unit_id, self.unit)

    def office(self, office_id: int) -> str:
        """The office's name (names only: no ORM objects for every office)."""
        if self._offices is None:
            self._offices = dict(self.session.execute(select(Office.id, Office.name)).all())
        return self._offices[office_id]

    def clerk(self, clerk_id: int) -> str:
        if self._clerks is None:
            self._clerks = dict(self.session.execute(select(Clerk.id, Clerk.name)).all())
        return self._clerks.get(clerk_id, "")

    def counter(self, counter_id: int) -> str:
        if self._counters is None:
            self._counters = dict(self.session.execute(select(Counter.id, Counter.name)).all())
        return self._counters.get(counter_id, "")

    def of(self, by: Breakdown, key: tuple) -> tuple[str, str, str]:
        """(row key, row name, office name) of a group's key."""
        if by is Breakdown.UNIT:
            child = self.child_of(key[0])
            return str(child.id), child.name, ""
        if by is Breakdown.OFFICE:
            return str(key[0]), self.office(key[0]), ""
        if by is Breakdown.COUNTER:
            office_id, counter_id, name = key
            office = self.office(office_id)
            if counter_id is None:
                return f"{office_id}:{name}", name, office
            return f"c{counter_id}", self.counter(counter_id) or name, office
        if by is Breakdown.CLERK:
            office_id, clerk_id, code = key
            office = self.office(office_id)
            if clerk_id is None:  # a code not in the office's list
                return f"{office_id}:{code}", code, office
            return f"k{clerk_id}", self.clerk(clerk_id) or code, office
        if by is Breakdown.MONTH:
            return key[0], box_label(key[0]), ""
        if by is Breakdown.CHANNEL:
            return key[0], label(CHANNEL_LABELS, key[0]), ""
        return key[0], key[0], ""


def _has_dossiers(query: ReportQuery) -> bool:
    """Dossiers are known per office-month: rows of offices or above, of the official
    result, of every field."""
    return (
        query.by in (Breakdown.UNIT, Breakdown.OFFICE, Breakdown.MONTH)
        and query.channels is Channels.OFFICIAL
        and query.field_name is None
        and query.clerk_id is None
    )


_FOLDED = [ResultCell.unit_id, ResultCell.office_id, ResultCell.box]


def _row_key(by: Breakdown, key: tuple) -> tuple:
    """A (unit, office, month) group's key in the breakdown's terms."""
    unit_id, office_id, box = key
    return {Breakdown.UNIT: (unit_id,), Breakdown.OFFICE: (office_id,)}.get(by, (box,))


def _pair(pair: list[int] | None) -> tuple[int, int] | None:
    return None if pair is None else (pair[0], pair[1])


def _returned(session: Session, query: ReportQuery) -> dict[tuple[int, str], int]:
    """The dossiers returned per (office, month), where the opening said."""
    return {
        (office_id, box): dossiers
        for office_id, box, dossiers in session.execute(
            select(Opening.office_id, Opening.box, Opening.dossiers_returned).where(
                Opening.status == Opening.OPENED,
                Opening.dossiers_returned.is_not(None),
                Opening.box >= query.period.first,
                Opening.box <= query.period.last,
            )
        )
    }


def _opened_months(session: Session, query: ReportQuery, units: list[int]) -> tuple[str, ...]:
    """The months of the period whose boxes were opened below the unit."""
    statement = (
        select(Opening.box)
        .join(Office, Opening.office_id == Office.id)
        .where(
            Office.unit_id.in_(units),
            Opening.status == Opening.OPENED,
            Opening.box >= query.period.first,
            Opening.box <= query.period.last,
        )
        .distinct()
        .order_by(Opening.box)
    )
    if query.office_id is not None:
        statement = statement.where(Opening.office_id == query.office_id)
    return tuple(session.scalars(statement))


def _sum_dossiers(values: Iterable[tuple[int, int] | None]) -> tuple[int, int] | None:
    pairs = [pair for pair in values if pair is not None]
    if not pairs:
        return None
    return sum(p[0] for p in pairs), sum(p[1] for p in pairs)
