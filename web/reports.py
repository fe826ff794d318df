"""Reports over opened results: any unit the reader may see, any period, broken down by
units below, office, counter, clerk, month, channel or procedure field, with the files
(XLSX, CSV, PDF) that say exactly what the page says.

Only the roles that read results (``web.ceremony.RESULT_READERS``) may open them; a unit
outside the reader's scope is a 404. The figures are sums of the cells frozen at each
opening (``web.report_query``): a sealed box has none, so it never appears.
"""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request, url_for
from flask_login import current_user

from hom_phieu.i18n import N_, _
from web import db
from web.auth import roles_required, units_in_scope
from web.ceremony import RESULT_READERS
from web.report_export import FORMATS, cell_text, generated_text, send_table
from web.report_page import (
    BREAKDOWN_LABELS,
    CHANNELS_LABELS,
    BadQuery,
    ReportArgs,
    default_unit,
    drill_args,
    field_choices,
    filename_stem,
    now_local,
    parents,
    parse_args,
    report_table,
    unit_choices,
)
from web.report_period import ROMAN, PeriodKind
from web.report_query import Breakdown, ReportRow, run_report

bp = Blueprint("reports", __name__, url_prefix="/reports")
PERIOD_KINDS = (
    (PeriodKind.YEAR, N_("year")),
    (PeriodKind.QUARTER, N_("quarter")),
    (PeriodKind.MONTH, N_("month")),
    (PeriodKind.RANGE, N_("range of months")),
)
TYPED = ("period", "year", "quarter", "month", "from", "to", "by", "channels")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _args() -> tuple[ReportArgs | None, str | None]:
    """The report the query string asks for, or the problem with it."""
    session = db.session()
    fallback = default_unit(session, units_in_scope(), current_user.unit_id)
    try:
        return parse_args(session, request.args, fallback), None
    except BadQuery as problem:
        return None, str(problem)


@bp.get("")
@roles_required(*RESULT_READERS)
def index():
    session = db.session()
    args, problem = _args()
    scope = units_in_scope()
    form_unit = args.unit if args is not None else default_unit(
        session, scope, current_user.unit_id
    )  # fmt: skip
    page = {
        "units": unit_choices(session, scope),
        "fields": field_choices(session, form_unit.id),
        "breakdowns": [(key.value, _(text)) for key, text in BREAKDOWN_LABELS.items()],
        "channels": [(key.value, _(text)) for key, text in CHANNELS_LABELS.items()],
        "kinds": [(kind.value, _(text)) for kind, text in PERIOD_KINDS],
        "quarters": list(enumerate(ROMAN, start=1)),
        "form": _form_values(args),
        "form_unit": form_unit,
        "problem": problem,
    }
    if args is None:
        return render_template("reports/index.html", **page), 400
    report = run_report(session, args.query())
    table = report_table(report, args, now_local())
    above = parents(session) if args.by is Breakdown.UNIT else set()
    links = [_row_link(args, row, above) for row in report.rows]
    period = args.period.to_args()
    see_also = {
        "compare": url_for("report_trends.compare", unit=args.unit.id, **period),
        "ranking": url_for("ranking.ranking", unit=args.unit.id, **period),
        "trend": url_for("report_trends.trend", office=args.office.id, **period)
        if args.office is not None
        else None,
    }
    exports = {fmt: url_for("reports.table_file", fmt=fmt, **args.to_args()) for fmt in FORMATS}
    return render_template(
        "reports/index.html",
        **page,
        args=args,
        report=report,
        table=table,
        links=links,
        see_also=see_also,
        exports=exports,
        cell_text=cell_text,
        generated=generated_text(table),
        content_hash=table.content_hash(),
    )


@bp.get("/table.<fmt>")
@roles_required(*RESULT_READERS)
def table_file(fmt: str):
    args, problem = _args()
    if args is None:
        return render_template("error.html", status=400, reason=problem), 400
    session = db.session()
    table = report_table(run_report(session, args.query()), args, now_local())
    return send_table(table, fmt, filename_stem(args))


def _form_values(args: ReportArgs | None) -> dict[str, str]:
    """What the form shows: the report's own values, else what was typed."""
    if args is None:
        typed = {key: request.args.get(key, "")[:40] for key in TYPED}
        typed["field"] = request.args.get("field", "")[:200]
        return typed
    period = args.period
    return {
        "period": period.kind.value,
        "year": period.first[:4],
        "quarter": str(period.quarter_number()),
        "month": period.first,
        "from": period.first,
        "to": period.last,
        "by": args.by.value,
        "channels": args.channels.value,
        "field": args.field_name or "",
    }


def _row_link(args: ReportArgs, row: ReportRow, above: set[int]) -> str | None:
    """A row's link: one level down for a unit or an office, a clerk's months for a clerk."""
    drill = drill_args(args, row, above)
    if drill is not None:
        return url_for("reports.index", **drill)
    if args.by is Breakdown.CLERK and row.key.startswith("k") and row.key[1:].isdigit():
        return url_for("report_trends.trend", clerk=row.key[1:], **args.period.to_args())
    return None
