"""The public results page: opened results of a unit (and below) over a period, per office
and per month, for anyone, on a phone as on a desk.

Figures from :mod:`web.public_figures` (frozen cells, official channels, opened boxes
only), small cells hidden. No clerk, no device, no comment: offices, units and months only.
"""

from __future__ import annotations

from flask import render_template, request

from hom_phieu.i18n import _
from web import db
from web.public import bp
from web.public_figures import (
    PublicRow,
    hide_small_cells,
    office_places,
    office_rows,
    shown,
    units_with_results,
)
from web.public_filters import FilterError, PublicFilters, read_filters
from web.report_period import PeriodKind
from web.report_settings import public_minimum


@bp.get("/results")
def results():
    """Opened results per office and per month; a bad filter is a 400 keeping the form."""
    session = db.session()
    minimum = public_minimum(session)
    units = units_with_results(session)
    page = {"units": units, "minimum": minimum, "values": request.args.to_dict(),
            "period_kinds": period_kinds()}  # fmt: skip
    if not units:
        return render_template("public/results.html", **page)
    try:
        filters = read_filters(session, request.args, units)
    except FilterError as error:
        return render_template("public/results.html", error=str(error), **page), 400
    by_office, by_month = office_rows(
        session, filters.unit.id, filters.period,
        None if filters.office is None else filters.office.id,
    )  # fmt: skip
    places = office_places(session, filters.unit.id)
    office_cards = hide_small_cells(
        [PublicRow.of(row, places.get(row.key, "")) for row in by_office.rows], minimum
    )
    months = hide_small_cells([PublicRow.of(row) for row in by_month.rows], minimum)
    page["values"] = filters.to_args()
    return render_template(
        "public/results.html",
        filters=filters,
        total=shown(by_office.total, minimum),
        offices=office_cards,
        months=months,
        poster_box=_poster_box(filters),
        **page,
    )


def period_kinds() -> list[tuple[str, str]]:
    """The period select's options, in the current language."""
    return [
        (PeriodKind.YEAR.value, _("A year")),
        (PeriodKind.QUARTER.value, _("A quarter")),
        (PeriodKind.MONTH.value, _("A month")),
        (PeriodKind.RANGE.value, _("A range of months")),
    ]


def _poster_box(filters: PublicFilters) -> str | None:
    """The month whose posters the office cards link to (a period of one month)."""
    return filters.period.first if filters.period.kind is PeriodKind.MONTH else None
