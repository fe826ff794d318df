"""The report page's parts: what its query string asks for, and the one table the page and
every file show (:func:`report_table`).

The query string names a unit (one the reader may see), optionally one of its offices, a
period (:class:`web.report_period.Period`), a breakdown, the channels and a procedure field.
Anything it cannot read is a :class:`BadQuery` whose message names the problem (the page
answers 400); a unit or office outside the reader's scope is a 404 (``require_unit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from flask import abort
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hom_phieu.clock import TIMEZONE
from hom_phieu.i18n import N_, _
from hom_phieu.ledger.records import LEVEL_LABELS
from web import clock
from web.auth import require_unit
from web.minutes_build import NO_FIELD
from web.models import Office, ProcedureField, Unit
from web.models_results import ResultCell
from web.report_export import interval_cell
from web.report_period import Period, PeriodError
from web.report_query import Breakdown, Channels, Report, ReportQuery, ReportRow
from web.report_table import Cell, ReportTable
from web.result_cells import MIXED
from web.unit_tree import subtree

LEVELS = tuple(LEVEL_LABELS)
MAX_FIELD = 200

BREAKDOWN_LABELS = {
    Breakdown.UNIT: N_("units below"),
    Breakdown.OFFICE: N_("office"),
    Breakdown.COUNTER: N_("counter"),
    Breakdown.CLERK: N_("clerk"),
    Breakdown.MONTH: N_("month"),
    Breakdown.CHANNEL: N_("channel"),
    Breakdown.FIELD: N_("procedure field"),
}
NAME_COLUMNS = {
    Breakdown.UNIT: N_("Unit"),
    Breakdown.OFFICE: N_("Office"),
    Breakdown.COUNTER: N_("Counter"),
    Breakdown.CLERK: N_("Clerk"),
    Breakdown.MONTH: N_("Month"),
    Breakdown.CHANNEL: N_("Channel"),
    Breakdown.FIELD: N_("Procedure field"),
}
TITLES = {
    Breakdown.UNIT: N_("Satisfaction results by unit"),
    Breakdown.OFFICE: N_("Satisfaction results by office"),
    Breakdown.COUNTER: N_("Satisfaction results by counter"),
    Breakdown.CLERK: N_("Satisfaction results by clerk"),
    Breakdown.MONTH: N_("Satisfaction results by month"),
    Breakdown.CHANNEL: N_("Satisfaction results by channel"),
    Breakdown.FIELD: N_("Satisfaction results by procedure field"),
}
CHANNELS_LABELS = {
    Channels.OFFICIAL: N_("official result (buttons and phone answers with the ticket's code)"),
    Channels.BUTTON: N_("buttons at the counter only"),
    Channels.PHONE_TICKET: N_("phone answers with the ticket's code only"),
    Channels.PHONE_SCREEN: N_("phone answers without a ticket only (unverified, not counted)"),
}


class BadQuery(ValueError):
    """The query string asks for something that is not a report; the message says what."""


@dataclass(frozen=True, slots=True)
class ReportArgs:
    unit: Unit
    office: Office | None
    period: Period
    by: Breakdown
    channels: Channels
    field_name: str | None

    def query(self) -> ReportQuery:
        return ReportQuery(
            self.unit.id, self.period, self.by, self.channels, self.field_name,
            office_id=self.office.id if self.office else None,
        )  # fmt: skip

    def to_args(self, **changes: str) -> dict[str, str]:
        """The query string naming this report (with ``changes``)."""
        found = {"unit": str(self.unit.id), **self.period.to_args(), "by": self.by.value,
                 "channels": self.channels.value}  # fmt: skip
        if self.office is not None:
            found["office"] = str(self.office.id)
        if self.field_name is not None:
            found["field"] = self.field_name
        found.update(changes)
        return {key: value for key, value in found.items() if value != ""}


def default_unit(session: Session, scope: list[int] | None, user_unit: int | None) -> Unit:
    """The reader's own unit, or the first top unit for a reader of the whole tree."""
    if user_unit is not None:
        unit = session.get(Unit, user_unit)
    else:
        unit = session.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id))
    if unit is None:
        abort(404)
    return unit


def parse_args(session: Session, args: Mapping[str, str], fallback: Unit) -> ReportArgs:
    """The report a query string asks for. Raises :class:`BadQuery`; aborts 404 for a unit
    or office that does not exist or is outside the reader's scope."""
    unit = fallback
    text = args.get("unit", "").strip()
    if text:
        unit = session.get(Unit, _id(text, _("unit")))
        if unit is None:
            abort(404)
        require_unit(unit.id)
    office = None
    text = args.get("office", "").strip()
    if text:
        office = session.get(Office, _id(text, _("office")))
        if office is None or office.unit_id not in subtree(session, unit.id):
            abort(404)
        require_unit(office.unit_id)
    by = _choice(Breakdown, args.get("by", ""), Breakdown.OFFICE, _("breakdown"))
    channels = _choice(Channels, args.get("channels", ""), Channels.OFFICIAL, _("channels"))
    field_name = args.get("field", "").strip() or None
    if field_name is not None and len(field_name) > MAX_FIELD:
        raise BadQuery(_("The procedure field's name is too long."))
    try:
        period = Period.parse(args, lambda: default_period(session, unit.id))
    except PeriodError as error:
        raise BadQuery(str(error)) from None
    return ReportArgs(unit, office, period, by, channels, field_name)


def _id(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise BadQuery(_("{what}: not a number: {text}").format(what=what, text=text[:20]))
    return int(text)


def _choice(kind, text: str, default, what: str):
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        raise BadQuery(_("Unknown {what}: {text}").format(what=what, text=text[:20])) from None


def now_local() -> datetime:
    """The server's time in Vietnam, to the minute (what the files print, and what their
    hash covers: the page and a file made in the same minute carry the same hash)."""
    return clock.now().astimezone(TIMEZONE).replace(second=0, microsecond=0)


def default_period(session: Session, unit_id: int) -> Period:
    """The latest year with opened results below the unit, else the current year."""
    latest = session.scalar(
        select(func.max(ResultCell.box)).where(ResultCell.unit_id.in_(subtree(session, unit_id)))
    )
    return Period.year(int(latest[:4]) if latest else now_local().year)


def unit_choices(session: Session, scope: list[int] | None) -> list[tuple[int, str]]:
    """The units the reader may choose, in tree order, indented by depth."""
    units = list(session.scalars(select(Unit).order_by(Unit.name, Unit.id)))
    children: dict[int | None, list[Unit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    allowed = None if scope is None else set(scope)
    found: list[tuple[int, str]] = []

    def walk(parent: int | None, depth: int) -> None:
        for unit in children.get(parent, []):
            shown = allowed is None or unit.id in allowed
            if shown:
                found.append((unit.id, "\u2003" * depth + unit.name))
            walk(unit.id, depth + 1 if shown else depth)

    walk(None, 0)
    return found


def field_choices(session: Session, unit_id: int) -> list[str]:
    """The procedure fields a report may choose: every field the server knows, and "—"
    (clerks without one). (Not read from the cells: that would scan them on every page.)"""
    names = set(session.scalars(select(ProcedureField.name)))
    return sorted(names | {NO_FIELD})


def _row_name(by: Breakdown, row: ReportRow) -> str:
    if by is Breakdown.CHANNEL and row.key == MIXED:
        return _("official result (minutes made before the channels were split)")
    return row.name


def has_dossiers(report: Report) -> bool:
    return report.total.dossiers is not None


def columns(report: Report) -> tuple[str, ...]:
    by = report.query.by
    names = [_(NAME_COLUMNS[by])]
    if by in (Breakdown.COUNTER, Breakdown.CLERK):
        names.append(_("Office"))
    names.append(_("Ballots"))
    for level in LEVELS:
        names += [_(LEVEL_LABELS[level]), f"{_(LEVEL_LABELS[level])} (%)"]
    names += [_("Satisfaction rate"), _("95% interval")]
    if has_dossiers(report):
        names += [_("Dossiers returned"), _("Participation rate")]
    return tuple(names)


def _cells(report: Report, row: ReportRow, name: str) -> tuple[Cell, ...]:
    by = report.query.by
    cells: list[Cell] = [name]
    if by in (Breakdown.COUNTER, Breakdown.CLERK):
        cells.append(row.office)
    cells.append(row.votes)
    for level in LEVELS:
        cells += [row.levels[level], row.share(level)]
    cells += [row.rate, interval_cell(row.rate)]
    if has_dossiers(report):
        cells += [row.dossiers, row.participation]
    return tuple(cells)


def notes(args: ReportArgs) -> tuple[str, ...]:
    found = [
        _("Channels: {channels}.").format(channels=_(CHANNELS_LABELS[args.channels])),
    ]
    if args.field_name is not None:
        found.append(_("Procedure field: {field}.").format(field=args.field_name))
    found += [
        _(
            "Only opened boxes are counted, as their committees counted them; ballots that "
            "arrived after their box was opened are counted under their own month."
        ),
        _(
            "Satisfaction rate: the share of ballots rated satisfied or very satisfied; "
            "beside it, its 95% confidence interval (Wilson score)."
        ),
    ]
    if args.channels is Channels.PHONE_SCREEN:
        found.append(
            _("Phone answers without a ticket are unverified opinions, never part of a result.")
        )
    return tuple(found)


def report_table(report: Report, args: ReportArgs, generated_at: datetime) -> ReportTable:
    """The one table of a report: the page shows it and every file writes it."""
    by = report.query.by
    rows = [_cells(report, row, _row_name(by, row)) for row in report.rows]
    rows.append(_cells(report, report.total, _("Total")))
    if args.office is not None:
        unit, parent = args.office.name, args.unit.name
    else:
        unit = args.unit.name
        parent = args.unit.parent.name if args.unit.parent is not None else None
    return ReportTable(
        title=_(TITLES[by]),
        unit=unit,
        period=args.period.label(),
        columns=columns(report),
        rows=tuple(rows),
        generated_at=generated_at,
        notes=notes(args),
        parent_unit=parent,
    )


def parents(session: Session) -> set[int]:
    """The units that have units below them (read once per page, not once per row)."""
    return set(
        session.scalars(select(Unit.parent_id).where(Unit.parent_id.is_not(None)).distinct())
    )


def drill_args(args: ReportArgs, row: ReportRow, parents: set[int]) -> dict[str, str] | None:
    """The query string of the report one level down from a unit's or an office's row
    (``parents``: the units with units below them)."""
    if args.by is Breakdown.UNIT and row.key.isdigit() and int(row.key) != args.unit.id:
        below = int(row.key) in parents
        return args.to_args(unit=row.key, by="unit" if below else "office")
    if args.by is Breakdown.OFFICE and row.key.isdigit() and args.office is None:
        return args.to_args(office=row.key, by="clerk")
    return None


def filename_stem(args: ReportArgs) -> str:
    """``bao-cao-<unit code>-<first>[_<last>]``, ASCII."""
    code = args.office.code if args.office is not None else args.unit.code
    safe = "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in code)
    period = args.period.first
    if args.period.last != args.period.first:
        period += "_" + args.period.last
    return f"bao-cao-{safe.lower()}-{period}-{args.by.value}"
