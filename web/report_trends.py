"""Trends and comparisons: a clerk's or an office's months side by side, and the sub-units
(or offices) of a unit compared, each with the same period last year.

Each page is one :class:`web.report_table.ReportTable` (built by :func:`trend_of` or
:func:`comparison_of`, the same function for the page and its files) and a chart drawn
on the server (:mod:`web.report_charts`). Readers of results only (administrators,
committee members, viewers), within their units: an office, a clerk or a unit outside
them is a 404, a query that names nothing valid a 400 saying what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, Response, abort, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hom_phieu.i18n import _
from web import clock, db
from web.auth import require_unit, roles_required
from web.ceremony import RESULT_READERS
from web.ceremony_calendar import box_label
from web.form_input import DATABASE_INT
from web.models import Clerk, Office, Unit
from web.models_results import ResultCell
from web.report_charts import CompareBar, MonthPoint, compare_chart, month_chart
from web.report_export import FORMATS, cell_text, generated_text, send_table
from web.report_period import Period, PeriodError
from web.report_query import Breakdown, Report, ReportQuery, ReportRow, run_report
from web.report_stats import Rate
from web.report_table import Cell, ReportTable
from web.unit_tree import subtree

bp = Blueprint("report_trends", __name__, url_prefix="/reports")
CHART_MONTHS = 36  # a longer period's chart shows only the months with results


class BadQuery(ValueError):
    """The query string names nothing valid; the message says what, in words."""


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose months a trend shows: an office, or a clerk (of an office)."""

    kind: str  # "office" or "clerk"
    id: int
    name: str
    code: str
    office: Office

    def query(self, period: Period) -> ReportQuery:
        return ReportQuery(
            self.office.unit_id,
            period,
            by=Breakdown.MONTH,
            office_id=self.id if self.kind == "office" else None,
            clerk_id=self.id if self.kind == "clerk" else None,
        )

    def args(self) -> dict[str, str]:
        return {self.kind: str(self.id)}


@dataclass(frozen=True, slots=True)
class Trend:
    subject: Subject
    period: Period
    report: Report
    last_year: Report
    table: ReportTable


@dataclass(frozen=True, slots=True)
class Comparison:
    unit: Unit
    period: Period
    by: Breakdown  # UNIT (its sub-units) or OFFICE (its offices)
    table: ReportTable
    links: tuple[str | None, ...]  # per row of the table: the row's own page
    bars: tuple[CompareBar, ...]


# --- the tables -------------------------------------------------------------------------


def _columns(first: str) -> list[str]:
    return [
        first,
        _("Ballots"),
        _("Very satisfied"),
        _("Satisfied"),
        _("Not satisfied"),
        _("Satisfaction rate"),
        _("95% interval"),
    ]


def _cells(row: ReportRow | None) -> list[Cell]:
    """A row's figures; a row with no ballots has "—" for each."""
    if row is None or not row.votes:
        return [None, None, None, None, Rate(0, 0), "—"]
    levels = row.levels
    return [row.votes, levels.very_satisfied, levels.satisfied, levels.not_satisfied,
            row.rate, row.rate.interval_text()]  # fmt: skip


def _notes() -> tuple[str, ...]:
    return (
        _("Satisfaction rate: ballots rated satisfied or very satisfied, of all ballots."),
        _("95% interval: the Wilson score interval of the rate; with few ballots it is wide."),
        _(
            "Official result: ballots at the counter and phone answers with a ticket's code, "
            "from opened boxes and their supplements (late ballots under their own month)."
        ),
    )


def _parent_name(unit: Unit) -> str | None:
    return unit.parent.name if unit.parent is not None else None


def trend_of(session: Session, subject: Subject, period: Period) -> Trend:
    """A subject's months (those with opened results), the total, and the same period
    last year's total."""
    report = run_report(session, subject.query(period))
    previous = period.previous_year()
    last_year = run_report(session, subject.query(previous))
    rows: list[tuple[Cell, ...]] = [(row.name, *_cells(row)) for row in report.rows]
    rows.append((_("Total"), *_cells(report.total)))
    label = _("Same period last year ({period})").format(period=previous.label())
    rows.append((label, *_cells(last_year.total)))
    if subject.kind == "clerk":
        title = _("Satisfaction by month: clerk {name} ({office})").format(
            name=subject.name, office=subject.office.name
        )
    else:
        title = _("Satisfaction by month: {office}").format(office=subject.name)
    unit = subject.office.unit
    table = ReportTable(
        title=title,
        unit=unit.name,
        period=period.label(),
        columns=tuple(_columns(_("Month"))),
        rows=tuple(rows),
        generated_at=clock.now(),
        notes=_notes(),
        parent_unit=_parent_name(unit),
    )
    return Trend(subject, period, report, last_year, table)


def comparison_of(session: Session, unit: Unit, period: Period) -> Comparison:
    """The unit's sub-units compared (each with everything below it), or, when it has
    none, its offices; every one listed, with results or not, and last year's rate."""
    children = sorted(unit.children, key=lambda u: (u.name, u.id))
    by = Breakdown.UNIT if children else Breakdown.OFFICE
    if children:
        members = [(str(u.id), u.name, _link("compare", unit=u.id, period=period))
                   for u in children]  # fmt: skip
    else:
        offices = session.scalars(select(Office).where(Office.unit_id == unit.id))
        members = [(str(o.id), o.name, _link("trend", office=o.id, period=period))
                   for o in sorted(offices, key=lambda o: (o.name, o.id))]  # fmt: skip
    report = run_report(session, ReportQuery(unit.id, period, by=by))
    last_year = run_report(session, ReportQuery(unit.id, period.previous_year(), by=by))
    now_rows = {row.key: row for row in report.rows}
    before = {row.key: row.rate for row in last_year.rows}
    listed = {key for key, _name, _link_to in members}
    # Results filed directly under the unit itself (an office of the province): a row too.
    members += [(row.key, row.name, None) for row in report.rows if row.key not in listed]
    with_last = bool(last_year.total.votes)
    rows: list[tuple[Cell, ...]] = []
    bars = []
    for key, name, _link_to in members:
        previous = before.get(key, Rate(0, 0))
        rows.append((name, *_cells(now_rows.get(key)), previous))
        current = now_rows[key].rate if key in now_rows else Rate(0, 0)
        bars.append(CompareBar(name, current, previous if with_last else None))
    rows.append((_("Total"), *_cells(report.total), last_year.total.rate))
    first = _("Commune / ward") if children else _("Office")
    table = ReportTable(
        title=_("Comparison: {unit}").format(unit=unit.name),
        unit=unit.name,
        period=period.label(),
        columns=(*_columns(first), _("Rate, same period last year")),
        rows=tuple(rows),
        generated_at=clock.now(),
        notes=(*_notes(), _("Same period last year: {period}.").format(
            period=period.previous_year().label())),
        parent_unit=_parent_name(unit),
    )  # fmt: skip
    links = (*(link for _key, _name, link in members), None)
    return Comparison(unit, period, by, table, links, tuple(bars))


def trend_chart(trend: Trend) -> Markup:
    found = {row.key: row.rate for row in trend.report.rows}
    months = trend.period.months()
    if len(months) > CHART_MONTHS:
        months = tuple(found)
    points = [MonthPoint(box_label(box), found.get(box, Rate(0, 0))) for box in months]
    desc = _(
        "The satisfaction rate of each month of {period} as a bar, its 95% interval as a "
        "whisker, and its ballots; the table gives the same figures."
    ).format(period=trend.period.label())
    return month_chart("trend-chart", trend.table.title, desc, points,
                       overall=trend.report.total.rate,
                       last_year=trend.last_year.total.rate)  # fmt: skip


def comparison_chart(comparison: Comparison) -> Markup:
    desc = _(
        "The satisfaction rate of each one in {period} as a bar, and the same period last "
        "year's as a hatched bar; the table gives the same figures."
    ).format(period=comparison.period.label())
    return compare_chart("compare-chart", comparison.table.title, desc, comparison.bars)


# --- reading the query ------------------------------------------------------------------


def _id(args: Mapping[str, str], name: str) -> int | None:
    text = args.get(name, "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise BadQuery(_("{name}: not a number: {text}").format(name=name, text=text[:20]))
    number = int(text)
    if number > DATABASE_INT:
        abort(404)
    return number


def subject_of(session: Session, args: Mapping[str, str]) -> Subject:
    """The office or clerk a trend is about (404 when it is not in the reader's units)."""
    office_id, clerk_id = _id(args, "office"), _id(args, "clerk")
    if (office_id is None) == (clerk_id is None):
        raise BadQuery(_("Name one office (office=…) or one clerk (clerk=…)."))
    if office_id is not None:
        office = session.get(Office, office_id)
        if office is None:
            abort(404)
        require_unit(office.unit_id)
        return Subject("office", office.id, office.name, office.code, office)
    clerk = session.get(Clerk, clerk_id)
    if clerk is None:
        abort(404)
    require_unit(clerk.office.unit_id)
    return Subject("clerk", clerk.id, clerk.name, clerk.code, clerk.office)


def unit_of(session: Session, args: Mapping[str, str]) -> Unit:
    unit_id = _id(args, "unit")
    if unit_id is None:
        raise BadQuery(_("Name the unit to compare (unit=…)."))
    unit = session.get(Unit, unit_id)
    if unit is None:
        abort(404)
    require_unit(unit.id)
    return unit


def period_of(session: Session, args: Mapping[str, str], *where) -> Period:
    """The period the query names; by default the year of the latest opened results
    (of ``where``'s cells), or this year when there are none."""

    def latest() -> Period:
        found = session.scalar(select(func.max(ResultCell.box)).where(*where))
        return Period.year(int(found[:4]) if found else clock.now().year)

    try:
        return Period.parse(args, latest)
    except PeriodError as error:
        raise BadQuery(str(error)) from None


def _subject_cells(subject: Subject) -> list:
    if subject.kind == "clerk":
        return [ResultCell.clerk_id == subject.id]
    return [ResultCell.office_id == subject.id]


def _link(view: str, *, period: Period, **ids: int) -> str:
    return url_for(f"report_trends.{view}", **ids, **period.to_args())


def _stem(*parts: str) -> str:
    """An ASCII file name: the codes' other characters become hyphens."""
    return "-".join(re.sub(r"[^A-Za-z0-9]+", "-", part).strip("-") or "x" for part in parts)


def _page(table: ReportTable) -> dict[str, object]:
    """What both pages show of their table: its cells as the files write them, when it was
    made and its content hash, and the file formats."""
    return {
        "table": table,
        "cell": cell_text,
        "generated": generated_text(table),
        "content_hash": table.content_hash(),
        "formats": FORMATS,
    }


def _bad(error: BadQuery) -> tuple[str, int]:
    return render_template("error.html", status=400, reason=str(error)), 400


# --- the pages --------------------------------------------------------------------------


def _trend() -> Trend:
    session = db.session()
    subject = subject_of(session, request.args)
    period = period_of(session, request.args, *_subject_cells(subject))
    return trend_of(session, subject, period)


def _comparison() -> Comparison:
    session = db.session()
    unit = unit_of(session, request.args)
    period = period_of(session, request.args, ResultCell.unit_id.in_(subtree(session, unit.id)))
    return comparison_of(session, unit, period)


@bp.get("/trend")
@roles_required(*RESULT_READERS)
def trend():
    try:
        found = _trend()
    except BadQuery as error:
        return _bad(error)
    args = {**found.subject.args(), **found.period.to_args()}
    office = found.subject.office
    return render_template(
        "reports/trend.html",
        trend=found,
        **_page(found.table),
        chart=trend_chart(found),
        args=args,
        compare_url=_link("compare", unit=office.unit_id, period=found.period),
        office_url=_link("trend", office=office.id, period=found.period),
    )


@bp.get("/trend.<fmt>")
@roles_required(*RESULT_READERS)
def trend_file(fmt: str) -> Response | tuple[str, int]:
    if fmt not in FORMATS:
        abort(404)
    try:
        found = _trend()
    except BadQuery as error:
        return _bad(error)
    subject = found.subject
    stem = _stem("xu-huong", subject.kind, subject.code, found.period.first, found.period.last)
    return send_table(found.table, fmt, stem)


@bp.get("/compare")
@roles_required(*RESULT_READERS)
def compare():
    try:
        found = _comparison()
    except BadQuery as error:
        return _bad(error)
    unit = found.unit
    parent = unit.parent_id
    return render_template(
        "reports/compare.html",
        comparison=found,
        **_page(found.table),
        chart=comparison_chart(found),
        rows=list(zip(found.table.rows, found.links, strict=True)),
        args={"unit": str(unit.id), **found.period.to_args()},
        up_url=_link("compare", unit=parent, period=found.period)
        if parent is not None and _in_scope(parent)
        else None,
    )


@bp.get("/compare.<fmt>")
@roles_required(*RESULT_READERS)
def compare_file(fmt: str) -> Response | tuple[str, int]:
    if fmt not in FORMATS:
        abort(404)
    try:
        found = _comparison()
    except BadQuery as error:
        return _bad(error)
    period = found.period
    return send_table(found.table, fmt,
                      _stem("so-sanh", found.unit.code, period.first, period.last))  # fmt: skip


def _in_scope(unit_id: int) -> bool:
    from web.auth import units_in_scope

    scope = units_in_scope()
    return scope is None or unit_id in scope
