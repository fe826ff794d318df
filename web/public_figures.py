"""What the public pages may show of the opened results, and the rule that hides small cells.

Every figure comes from :func:`web.report_query.run_report` over the frozen cells of opened
boxes (official channels only: buttons and phone answers with a ticket), so the public
pages, the poster and the TV show exactly what the committees' minutes counted (a month
with its supplements). Nothing here reads a clerk: rows are offices, units or months.

Small cells: a row of fewer ballots than ``web.report_settings.public_minimum`` shows its
number of ballots only, never a level's count or share nor its rate, so that nobody in a
small commune can be singled out. Within one table the rows hidden together must also hold
at least that many ballots, or the total minus the rows shown would give them back: then
the smallest rows shown are hidden too (:func:`hide_small_cells`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web.minutes_text import LEVELS
from web.models import Office, Opening, Unit
from web.models_results import ResultCell
from web.report_period import Period
from web.report_query import (
    Breakdown,
    Channels,
    Report,
    ReportQuery,
    ReportRow,
    run_report,
    subtree,
)
from web.report_stats import Rate


@dataclass(frozen=True, slots=True)
class LevelFigure:
    level: str
    count: int
    share: Rate


@dataclass(frozen=True, slots=True)
class PublicRow:
    """A row as the public sees it: ``levels`` and ``rate`` are None when hidden."""

    key: str
    name: str
    votes: int
    levels: tuple[LevelFigure, ...] | None
    rate: Rate | None
    place: str = ""  # the office's unit, for an office's row

    @property
    def hidden(self) -> bool:
        return self.levels is None

    @classmethod
    def of(cls, row: ReportRow, place: str = "") -> PublicRow:
        levels = tuple(LevelFigure(lv, row.levels[lv], row.share(lv)) for lv in LEVELS)
        return cls(row.key, row.name, row.votes, levels, row.rate, place)

    def without_figures(self) -> PublicRow:
        return replace(self, levels=None, rate=None)


def hide_small_cells(rows: Sequence[PublicRow], minimum: int) -> list[PublicRow]:
    """Hide every row of fewer than ``minimum`` ballots; then, while the hidden rows hold
    together fewer than ``minimum`` ballots (but some), hide the smallest row still shown,
    so that no hidden row can be worked out from the table's total."""
    found = [row if row.votes >= minimum else row.without_figures() for row in rows]
    while True:
        hidden = sum(row.votes for row in found if row.hidden)
        shown = [i for i, row in enumerate(found) if not row.hidden]
        if not hidden or hidden >= minimum or not shown:
            return found
        smallest = min(shown, key=lambda i: (found[i].votes, i))
        found[smallest] = found[smallest].without_figures()


def shown(row: ReportRow, minimum: int, place: str = "") -> PublicRow:
    """A single row (a total, a poster, a slide): hidden below ``minimum``."""
    return hide_small_cells([PublicRow.of(row, place)], minimum)[0]


# --- where results are ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitChoice:
    id: int
    name: str
    depth: int  # 0 for a province (a root), 1 below it, …


def units_with_results(session: Session) -> list[UnitChoice]:
    """Every unit with opened results in it or below it, in tree order (by name)."""
    with_cells = set(
        session.scalars(
            select(ResultCell.unit_id)
            .where(ResultCell.channel.in_(Channels.OFFICIAL.values()))
            .distinct()
        )
    )
    units = {unit.id: unit for unit in session.scalars(select(Unit))}
    wanted: set[int] = set()
    for unit_id in with_cells:
        node = units.get(unit_id)
        while node is not None and node.id not in wanted:
            wanted.add(node.id)
            node = units.get(node.parent_id) if node.parent_id is not None else None
    children: dict[int | None, list[Unit]] = {}
    for unit_id in wanted:
        unit = units[unit_id]
        parent = unit.parent_id if unit.parent_id in wanted else None
        children.setdefault(parent, []).append(unit)
    found: list[UnitChoice] = []

    def walk(parent: int | None, depth: int) -> None:
        for unit in sorted(children.get(parent, []), key=lambda u: (u.name, u.id)):
            found.append(UnitChoice(unit.id, unit.name, depth))
            walk(unit.id, depth + 1)

    walk(None, 0)
    return found


def root_of(session: Session, unit_id: int) -> int:
    """The topmost unit above ``unit_id`` (a province): an office's cells are filed under
    its unit at the opening, which a merger of communes may since have changed."""
    parents = dict(session.execute(select(Unit.id, Unit.parent_id)).all())
    node, seen = unit_id, set()
    while parents.get(node) is not None and node not in seen:
        seen.add(node)
        node = parents[node]
    return node


def opened_boxes(session: Session, office_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each office's opened months, newest first."""
    found: dict[int, list[str]] = {}
    for office_id, box in session.execute(
        select(Opening.office_id, Opening.box)
        .where(Opening.office_id.in_(office_ids), Opening.status == Opening.OPENED)
        .order_by(Opening.box.desc())
    ):
        found.setdefault(office_id, []).append(box)
    return found


def is_opened(session: Session, office_id: int, box: str) -> bool:
    return (
        session.scalar(
            select(Opening.id).where(
                Opening.office_id == office_id,
                Opening.box == box,
                Opening.status == Opening.OPENED,
            )
        )
        is not None
    )


def office_month(session: Session, office: Office, box: str) -> ReportRow:
    """One office's opened month (with the late ballots later openings filed under it)."""
    query = ReportQuery(root_of(session, office.unit_id), Period.month(box), office_id=office.id)
    return run_report(session, query).total


def late_ballots(session: Session, office_id: int, box: str) -> int:
    """Ballots of ``box`` counted by later openings (its supplements), official only."""
    return int(
        session.scalar(
            select(func.coalesce(func.sum(ResultCell.votes), 0)).where(
                ResultCell.office_id == office_id,
                ResultCell.box == box,
                ResultCell.supplement.is_(True),
                ResultCell.channel.in_(Channels.OFFICIAL.values()),
            )
        )
        or 0
    )


def offices_in(session: Session, unit_id: int) -> dict[int, Office]:
    """The offices of a unit and of every unit below it."""
    units = subtree(session, unit_id)
    return {
        office.id: office
        for office in session.scalars(select(Office).where(Office.unit_id.in_(units)))
    }


def office_places(session: Session, unit_id: int) -> dict[str, str]:
    """The unit of each office below ``unit_id``, by the office's id as a report row's key."""
    return {
        str(office_id): name
        for office_id, name in session.execute(
            select(Office.id, Unit.name)
            .join(Unit, Office.unit_id == Unit.id)
            .where(Office.unit_id.in_(subtree(session, unit_id)))
        )
    }


def office_rows(
    session: Session, unit_id: int, period: Period, office_id: int | None
) -> tuple[Report, Report]:
    """The unit's offices over ``period`` (one office only if ``office_id``), the total,
    and the months with results, from one report each."""
    by_office = run_report(
        session, ReportQuery(unit_id, period, by=Breakdown.OFFICE, office_id=office_id)
    )
    by_month = run_report(
        session, ReportQuery(unit_id, period, by=Breakdown.MONTH, office_id=office_id)
    )
    return by_office, by_month
