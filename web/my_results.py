"""A clerk's own results (``/my-results``): their months, their rate, the citizens' comments
about them, once their boxes are opened.

Only an account with the role clerk reads this page (everyone else: 403), and only the
figures of the clerk its account is linked to (``Clerk.user_id``, set by an administrator or
technician on the clerk's form): the clerk is never named in the address, so no parameter
can show another clerk's figures. An account linked to no clerk gets a page that says so.

The months are the official result (buttons and phone answers backed by a ticket) of the
cells frozen at each opening (``web.report_query``); phone answers without a ticket are
shown apart, never in the rate. The comments are read from the opened minutes of the
clerk's office (each box's count and its supplements), those naming the clerk's code only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from flask import Blueprint, Flask, abort, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hom_phieu.i18n import _
from web import clock, db
from web.ceremony_calendar import box_label
from web.minutes import Minutes
from web.minutes_count import Count
from web.models import Clerk, Opening, Role
from web.models_results import ResultCell
from web.report_export import FORMATS, cell_text, generated_text, interval_cell, send_table
from web.report_period import MAX_MONTHS, Period, PeriodError, PeriodKind
from web.report_query import Breakdown, Channels, Report, ReportQuery, ReportRow, run_report
from web.report_stats import Rate
from web.report_table import Cell, ReportTable
from web.unit_calendar import unit_chain

bp = Blueprint("my_results", __name__)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@dataclass(frozen=True, slots=True)
class ClerkComment:
    box: str  # the month the ballot belongs to
    text: str
    verified: bool  # False: a phone answer without a ticket (an unverified opinion)


@dataclass(frozen=True, slots=True)
class ClerkResults:
    clerk: Clerk
    period: Period
    official: Report  # by month
    unverified: dict[str, int]  # month -> phone answers without a ticket
    unverified_total: int
    comments: tuple[ClerkComment, ...]  # newest month first
    years: tuple[str, ...]  # the years with opened results (the period links)


def own_clerk(session: Session) -> Clerk | None:
    """The clerk the current account is linked to (None: not linked)."""
    return session.scalar(select(Clerk).where(Clerk.user_id == current_user.id))


def _clerk_only() -> None:
    if current_user.role != Role.CLERK:
        abort(403)  # (administrators too: this page is a clerk's own)


def all_months(session: Session, clerk: Clerk) -> Period | None:
    """Every month with the clerk's opened results (at most the last MAX_MONTHS)."""
    first, last = session.execute(
        select(func.min(ResultCell.box), func.max(ResultCell.box)).where(
            ResultCell.clerk_id == clerk.id
        )
    ).one()
    if first is None:
        return None
    months = Period(PeriodKind.RANGE, first, last).months()
    return Period(PeriodKind.RANGE, months[-MAX_MONTHS:][0], last)


def results_of(session: Session, clerk: Clerk, period: Period) -> ClerkResults:
    # The top of the office's unit tree: cells keep the unit of the office at each opening,
    # and the clerk (its id) is what narrows the report.
    top = unit_chain(session, clerk.office.unit_id)[-1]

    def query(channels: Channels) -> ReportQuery:
        return ReportQuery(top.id, period, Breakdown.MONTH, channels,
                           office_id=clerk.office_id, clerk_id=clerk.id)  # fmt: skip

    official = run_report(session, query(Channels.OFFICIAL))
    screen = run_report(session, query(Channels.PHONE_SCREEN))
    years = tuple(
        sorted({box[:4] for box in session.scalars(
            select(ResultCell.box).where(ResultCell.clerk_id == clerk.id).distinct()
        )})
    )  # fmt: skip
    return ClerkResults(
        clerk=clerk,
        period=period,
        official=official,
        unverified={row.key: row.votes for row in screen.rows},
        unverified_total=screen.total.votes,
        comments=tuple(_comments(session, clerk, period)),
        years=years,
    )


def _comments(session: Session, clerk: Clerk, period: Period) -> Iterator[ClerkComment]:
    """The comments about the clerk in the office's opened minutes, for the period's
    months (a supplement's comments belong to its own month), newest month first."""
    openings = session.scalars(
        select(Opening)
        .where(
            Opening.office_id == clerk.office_id,
            Opening.status == Opening.OPENED,
            Opening.box >= period.first,  # (a month's late ballots come in later openings)
        )
        .order_by(Opening.box)
    )
    found: list[ClerkComment] = []
    for opening in openings:
        minutes = Minutes.from_bytes(opening.minutes or b"")
        counts = [(minutes.box, minutes.count)]
        counts += [(supplement.box, supplement.count) for supplement in minutes.supplements]
        for box, count in counts:
            if period.first <= box <= period.last:
                found += _of_count(count, clerk.code, box)
    found.sort(key=lambda comment: comment.box, reverse=True)  # (stable: minutes' order)
    return iter(found)


def _of_count(count: Count, code: str, box: str) -> list[ClerkComment]:
    found = [ClerkComment(box, c.text, True) for c in count.comments or () if c.clerk == code]
    if count.unverified is not None:
        found += [ClerkComment(box, c.text, False)
                  for c in count.unverified.comments or () if c.clerk == code]  # fmt: skip
    return found


def results_table(results: ClerkResults) -> ReportTable:
    """The months as the page shows them (and as the files write them)."""
    columns = (
        _("Month"), _("Ballots"), _("Very satisfied"), _("Satisfied"), _("Not satisfied"),
        _("Satisfaction rate"), _("95% interval"),
        _("Phone answers without a ticket (not counted)"),
    )  # fmt: skip
    official = {row.key: row for row in results.official.rows}
    rows: list[tuple[Cell, ...]] = []
    # (a month with phone answers without a ticket only has a row too: its 0 ballots)
    for month in sorted({*official, *results.unverified}):
        row = official.get(month)
        if row is None:
            rows.append((box_label(month), 0, 0, 0, 0, Rate(0, 0), "—", results.unverified[month]))
        else:
            rows.append(_cells(row, results.unverified.get(month, 0)))
    rows.append(_cells(results.official.total, results.unverified_total))
    clerk = results.clerk
    return ReportTable(
        title=_("Results of {name}").format(name=clerk.name),
        unit=clerk.office.name,
        parent_unit=clerk.office.unit.name,
        period=results.period.label(),
        columns=columns,
        rows=tuple(rows),
        generated_at=clock.now(),
        notes=(
            _("Opened boxes only: buttons and phone answers with the ticket's code."),
            _(
                "The satisfaction rate counts satisfied and very satisfied ballots; the 95% "
                "interval (Wilson) says how sure it is."
            ),
        ),
    )


def _cells(row: ReportRow, unverified: int) -> tuple[Cell, ...]:
    levels = row.levels
    return (row.name, row.votes, levels.very_satisfied, levels.satisfied, levels.not_satisfied,
            row.rate, interval_cell(row.rate), unverified)  # fmt: skip


def _period(results_period: Period | None) -> Period | None:
    """The period the query names; by default every month with results (PeriodError)."""
    if results_period is None:
        return None
    return Period.parse(request.args, results_period)


def _bad_request(reason: str):
    return render_template("error.html", status=400, reason=reason), 400


@bp.get("/my-results")
@login_required
def page():
    _clerk_only()
    session = db.session()
    clerk = own_clerk(session)
    if clerk is None:
        return render_template("my_results.html", clerk=None, results=None)
    try:
        period = _period(all_months(session, clerk))
    except PeriodError as error:
        return _bad_request(str(error))
    if period is None:
        return render_template("my_results.html", clerk=clerk, results=None)
    results = results_of(session, clerk, period)
    table = results_table(results)
    links = {fmt: url_for("my_results.export", fmt=fmt, **period.to_args()) for fmt in FORMATS}
    return render_template(
        "my_results.html", clerk=clerk, results=results, table=table, cell_text=cell_text,
        generated=generated_text(table), links=links, box_label=box_label,
        year_args=lambda year: Period.year(int(year)).to_args(),
    )  # fmt: skip


@bp.get("/my-results.<fmt>")
@login_required
def export(fmt: str):
    _clerk_only()
    if fmt not in FORMATS:
        abort(404)
    session = db.session()
    clerk = own_clerk(session)
    try:
        period = _period(all_months(session, clerk)) if clerk is not None else None
    except PeriodError as error:
        return _bad_request(str(error))
    if clerk is None or period is None:
        abort(404)
    table = results_table(results_of(session, clerk, period))
    return send_table(table, fmt, f"ket-qua-{clerk.code}-{period.first}-{period.last}")
