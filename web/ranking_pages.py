"""The emulation table's pages (``/reports/ranking``): clerks or offices of a unit ranked for
a period by their satisfaction rate (``web.report_ranking``), with the rule under the table,
and the same table as XLSX, CSV and PDF (``web.report_export``).

``?unit=<id>&who=clerk|office`` and a period (``web.report_period.Period.parse``; by default
the year of the latest opened results below the unit). The page and every file are made
from one :class:`web.report_table.ReportTable` (:func:`ranking_table`), so a file says what
the page says. Readers of results only (administrator, committee member, viewer), within
their units (404 outside); a query that names nothing valid is a 400 naming the problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, Flask, abort, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from hom_phieu.i18n import _
from web import clock, db
from web.auth import require_unit, roles_required, units_in_scope
from web.ceremony import RESULT_READERS
from web.labels import LEVEL_LABELS, label
from web.models import Unit
from web.report_export import cell_text, generated_text, interval_cell, send_table
from web.report_page import default_period
from web.report_period import Period, PeriodError, PeriodKind
from web.report_query import Breakdown, ReportQuery, run_report
from web.report_ranking import Placed, Ranking, rank
from web.report_settings import ranking_minimum
from web.report_table import Cell, ReportTable

bp = Blueprint("ranking", __name__, url_prefix="/reports")
WHO = {"clerk": Breakdown.CLERK, "office": Breakdown.OFFICE}
LEVELS = ("very_satisfied", "satisfied", "not_satisfied")


class QueryError(ValueError):
    """The query string names no valid ranking; the message says why, in words."""


@dataclass(frozen=True, slots=True)
class RankingRequest:
    unit: Unit
    who: str  # "clerk" or "office"
    period: Period

    def args(self) -> dict[str, str]:
        return {"unit": str(self.unit.id), "who": self.who, **self.period.to_args()}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def read_request(session: Session, args: Mapping[str, str]) -> RankingRequest:
    """The unit (404 when unknown or outside the reader's units), who is ranked and the
    period; :class:`QueryError` or :class:`PeriodError` for what names nothing."""
    text = args.get("unit", "").strip()
    if not text:
        scope = units_in_scope()
        unit_id = scope[0] if scope is not None else _root(session)
    elif text.isascii() and text.isdigit() and len(text) <= 9:
        unit_id = int(text)
    else:
        raise QueryError(_("unit: not a unit number: {text}").format(text=text[:20]))
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    if unit is None:
        abort(404)
    require_unit(unit.id)
    who = args.get("who", "clerk")
    if who not in WHO:
        raise QueryError(_("who: rank either clerks (clerk) or offices (office)."))
    return RankingRequest(unit, who, Period.parse(args, lambda: default_period(session, unit.id)))


def _root(session: Session) -> int | None:
    """The top of the unit tree (a reader without a unit sees it all)."""
    return session.scalar(select(Unit.id).where(Unit.parent_id.is_(None)).order_by(Unit.name))


def ranking_of(session: Session, wanted: RankingRequest) -> Ranking:
    query = ReportQuery(wanted.unit.id, wanted.period, by=WHO[wanted.who])
    return rank(run_report(session, query), ranking_minimum(session))


def ranking_table(session: Session, wanted: RankingRequest) -> tuple[ReportTable, Ranking]:
    """The one table the page shows and every file writes."""
    ranking = ranking_of(session, wanted)
    clerks = ranking.by is Breakdown.CLERK
    columns = [_("Rank"), _("Clerk") if clerks else _("Office")]
    if clerks:
        columns.append(_("Office"))
    columns += [_("Ballots"), *(label(LEVEL_LABELS, level) for level in LEVELS),
                _("Satisfaction rate"), _("95% interval"), _("Note")]  # fmt: skip
    rows = [_cells(placed, ranking, clerks) for placed in (*ranking.ranked, *ranking.unranked)]
    if clerks:
        title = _("Emulation ranking of clerks by satisfaction rate")
    else:
        title = _("Emulation ranking of offices by satisfaction rate")
    parent = wanted.unit.parent
    table = ReportTable(
        title=title,
        unit=wanted.unit.name,
        period=wanted.period.label(),
        columns=tuple(columns),
        rows=tuple(rows),
        generated_at=clock.now(),
        notes=ranking.notes(),
        parent_unit=parent.name if parent is not None else None,
    )
    return table, ranking


def _cells(placed: Placed, ranking: Ranking, clerks: bool) -> tuple[Cell, ...]:
    row = placed.row
    notes = []
    if placed.rank is None:
        notes.append(_("not ranked: fewer than {n} ballots").format(n=ranking.minimum))
    if placed.tied:
        notes.append(_("equal rate, same rank"))
    if placed.close_to_next:
        notes.append(_("not clearly different from the next"))
    cells: list[Cell] = [placed.rank, row.name]
    if clerks:
        cells.append(row.office)
    cells += [row.votes, *(row.levels[level] for level in LEVELS), row.rate,
              interval_cell(row.rate), "; ".join(notes)]  # fmt: skip
    return tuple(cells)


def _bad_request(reason: str):
    return render_template("error.html", status=400, reason=reason), 400


@bp.get("/ranking")
@roles_required(*RESULT_READERS)
def ranking():
    session = db.session()
    try:
        wanted = read_request(session, request.args)
    except (QueryError, PeriodError) as error:
        return _bad_request(str(error))
    table, placed = ranking_table(session, wanted)
    ranked_count = len(placed.ranked)
    texts = [[cell_text(cell) for cell in row] for row in table.rows]  # (520 rows: not in Jinja)
    links = {fmt: url_for("ranking.export", fmt=fmt, **wanted.args())
             for fmt in ("xlsx", "pdf", "csv")}  # fmt: skip
    return render_template(
        "reports/ranking.html",
        table=table,
        ranked_rows=texts[:ranked_count],
        unranked_rows=texts[ranked_count:],
        minimum=placed.minimum,
        wanted=wanted,
        units=_units(session),
        kinds=[kind.value for kind in PeriodKind],
        generated=generated_text(table),
        links=links,
    )


@bp.get("/ranking.<fmt>")
@roles_required(*RESULT_READERS)
def export(fmt: str):
    if fmt not in ("xlsx", "pdf", "csv"):
        abort(404)
    session = db.session()
    try:
        wanted = read_request(session, request.args)
    except (QueryError, PeriodError) as error:
        return _bad_request(str(error))
    table, _ranking = ranking_table(session, wanted)
    stem = f"xep-hang-{wanted.who}-{wanted.period.first}-{wanted.period.last}"
    return send_table(table, fmt, stem)


def _units(session: Session) -> list[Unit]:
    """The units the reader may rank within, by name."""
    query = select(Unit).order_by(Unit.name)
    scope = units_in_scope()
    if scope is not None:
        query = query.where(Unit.id.in_(scope))
    return list(session.scalars(query))
