"""What the results API answers, read from the opened results only: the reports' sums of
the cells frozen at each opening (:func:`web.report_query.run_report`, and
:class:`web.models_results.ResultCell` for the late ballots of a month), never the records
of a sealed box.

The caller has checked that the office or unit is the reader's (``web.api_results``); the
reports run on the reader's own unit, so nothing filed outside it is ever summed.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web.api_results_auth import Reader
from web.api_results_models import (
    ClerkFigures,
    ClerksAnswer,
    Dossiers,
    Figures,
    MonthRow,
    MonthsAnswer,
    OfficeEntry,
    OfficeRef,
    OfficesAnswer,
    SummaryAnswer,
    UnitFigures,
    UnitRef,
)
from web.models import Clerk, Office, Opening, Unit
from web.models_results import ResultCell
from web.report_period import Period
from web.report_query import Breakdown, Channels, ReportQuery, run_report


def unit_ref(unit: Unit) -> UnitRef:
    return UnitRef(unit.id, unit.code, unit.name)


def office_ref(office: Office) -> OfficeRef:
    return OfficeRef(office.id, office.code, office.name, unit_ref(office.unit))


def offices(session: Session, reader: Reader) -> OfficesAnswer:
    """Every office under the reader's unit, with the months it has opened results of."""
    found = list(
        session.scalars(
            select(Office).where(Office.unit_id.in_(reader.units)).order_by(Office.name, Office.id)
        )
    )
    spans = {
        office_id: (first, last)
        for office_id, first, last in session.execute(
            select(Opening.office_id, func.min(Opening.box), func.max(Opening.box))
            .where(Opening.status == Opening.OPENED, Opening.office_id.in_([o.id for o in found]))
            .group_by(Opening.office_id)
        )
    }
    entries = tuple(
        OfficeEntry(office_ref(office), *spans.get(office.id, (None, None))) for office in found
    )
    unit = session.get(Unit, reader.unit_id)
    assert unit is not None  # a token's unit is never deleted (units are not)
    return OfficesAnswer(unit_ref(unit), entries)


def months(
    session: Session, reader: Reader, office: Office, period: Period, channels: Channels
) -> MonthsAnswer:
    """The office's months in the period: every month opened, each with its own ballots and
    the late ones later openings counted for it."""
    report = run_report(session, ReportQuery(reader.unit_id, period, Breakdown.MONTH, channels,
                                             office_id=office.id))  # fmt: skip
    rows = {row.key: row for row in report.rows}
    opened = set(
        session.scalars(
            select(Opening.box).where(
                Opening.office_id == office.id,
                Opening.status == Opening.OPENED,
                Opening.box >= period.first,
                Opening.box <= period.last,
            )
        )
    )
    late = {
        box: int(votes or 0)
        for box, votes in session.execute(
            select(ResultCell.box, func.sum(ResultCell.votes))
            .where(
                ResultCell.office_id == office.id,
                ResultCell.unit_id.in_(reader.units),
                ResultCell.supplement.is_(True),
                ResultCell.box >= period.first,
                ResultCell.box <= period.last,
                ResultCell.channel.in_(channels.values()),
            )
            .group_by(ResultCell.box)
        )
    }
    found = tuple(
        MonthRow(box, Figures.of(rows.get(box)), Dossiers.of(rows.get(box)), late.get(box, 0))
        for box in sorted(set(rows) | opened)
    )
    total = MonthRow("total", Figures.of(report.total), Dossiers.of(report.total),
                     sum(late.values()))  # fmt: skip
    return MonthsAnswer(office_ref(office), period, channels.value, found, total)


def clerks(
    session: Session, reader: Reader, office: Office, period: Period, channels: Channels
) -> ClerksAnswer:
    """The office's clerks with opened results in the period (a code the minutes named
    that is not in the office's list has no id)."""
    report = run_report(session, ReportQuery(reader.unit_id, period, Breakdown.CLERK, channels,
                                             office_id=office.id))  # fmt: skip
    listed = session.execute(select(Clerk.id, Clerk.code).where(Clerk.office_id == office.id))
    codes = {clerk_id: code for clerk_id, code in listed}
    found = []
    for row in report.rows:
        clerk_id: int | None = None
        if row.key.startswith("k"):
            clerk_id = int(row.key[1:])
            code = codes.get(clerk_id, "")
        else:  # "office_id:code"
            code = row.key.partition(":")[2]
        found.append(ClerkFigures(clerk_id, code, row.name, Figures.of(row)))
    return ClerksAnswer(office_ref(office), period, channels.value, tuple(found),
                        Figures.of(report.total))  # fmt: skip


def summary(session: Session, unit: Unit, period: Period, channels: Channels) -> SummaryAnswer:
    """The unit's sub-units (every one, with nothing opened or not), each with everything
    below it; the unit's own offices, if it has any with results, in a row of its own."""
    report = run_report(session, ReportQuery(unit.id, period, Breakdown.UNIT, channels))
    rows = {int(row.key): row for row in report.rows}
    children = {child.id: child for child in session.scalars(
        select(Unit).where(Unit.parent_id == unit.id))}  # fmt: skip
    known = {**children, unit.id: unit}
    ids = set(children) | set(rows)
    found = sorted(
        (UnitFigures(unit_ref(known[i]), Figures.of(rows.get(i)), Dossiers.of(rows.get(i)))
         for i in ids if i in known),
        key=lambda row: (row.unit.name, row.unit.id),
    )  # fmt: skip
    return SummaryAnswer(unit_ref(unit), period, channels.value, tuple(found),
                         Figures.of(report.total), Dossiers.of(report.total))  # fmt: skip
