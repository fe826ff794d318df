"""The public pages' filters read from the query string: a unit (one with opened results),
optionally one office, and a period (:meth:`web.report_period.Period.parse`).

Anything else is a :class:`FilterError` whose message names the problem; the pages answer
it with a 400 page that keeps the form, never a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hom_phieu.i18n import _
from web.models import Office
from web.models_results import ResultCell
from web.public_figures import UnitChoice, opened_boxes, root_of
from web.report_period import Period, PeriodError
from web.report_query import Channels
from web.unit_tree import subtree

MAX_ID_DIGITS = 9


class FilterError(ValueError):
    """The query names no valid filter; the message says what is wrong, in words."""


@dataclass(frozen=True, slots=True)
class PublicFilters:
    unit: UnitChoice
    office: Office | None
    period: Period

    def to_args(self) -> dict[str, str]:
        """The query string naming these filters."""
        args = {"unit": str(self.unit.id), **self.period.to_args()}
        if self.office is not None:
            args["office"] = str(self.office.id)
        return args


def read_id(args: Mapping[str, str], name: str, what: str) -> int | None:
    text = args.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > MAX_ID_DIGITS:
        raise FilterError(_("{what}: not a number: {text}").format(what=what, text=text[:20]))
    return int(text)


def read_office(session: Session, args: Mapping[str, str]) -> Office | None:
    """The ``office`` of the query: one with an opened box."""
    office_id = read_id(args, "office", _("Office"))
    if office_id is None:
        return None
    office = session.get(Office, office_id)
    if office is None or not opened_boxes(session, [office_id]):
        raise FilterError(_("No office with opened results has the number {id}.").format(
            id=office_id))  # fmt: skip
    return office


def read_unit(
    session: Session, args: Mapping[str, str], units: list[UnitChoice], office: Office | None
) -> UnitChoice:
    """The ``unit`` of the query (one of ``units``); else the office's unit, else the
    first province."""
    by_id = {unit.id: unit for unit in units}
    unit_id = read_id(args, "unit", _("Unit"))
    if unit_id is None:
        if office is not None:
            unit_id = (
                office.unit_id if office.unit_id in by_id else root_of(session, office.unit_id)
            )
        else:
            unit_id = units[0].id
    if unit_id not in by_id:
        raise FilterError(_("No unit with opened results has the number {id}.").format(id=unit_id))
    if office is not None and office.unit_id not in subtree(session, unit_id):
        raise FilterError(_("The office {office} is not in {unit}.").format(
            office=office.name, unit=by_id[unit_id].name))  # fmt: skip
    return by_id[unit_id]


def latest_year(session: Session, unit_id: int, office: Office | None) -> Period:
    """The year of the latest month with opened results there (the default period)."""
    statement = select(func.max(ResultCell.box)).where(
        ResultCell.unit_id.in_(subtree(session, unit_id)),
        ResultCell.channel.in_(Channels.OFFICIAL.values()),
    )
    if office is not None:
        statement = statement.where(ResultCell.office_id == office.id)
    latest = session.scalar(statement)
    if latest is None and office is not None:  # opened months without a ballot
        latest = opened_boxes(session, [office.id])[office.id][0]
    if latest is None:
        raise FilterError(_("There are no opened results here yet."))
    return Period.year(int(latest[:4]))


def read_filters(
    session: Session, args: Mapping[str, str], units: list[UnitChoice]
) -> PublicFilters:
    """The filters of the query; ``units`` must not be empty."""
    office = read_office(session, args)
    unit = read_unit(session, args, units, office)
    try:
        period = Period.parse(args, lambda: latest_year(session, unit.id, office))
    except PeriodError as error:
        raise FilterError(str(error)) from None
    return PublicFilters(unit, office, period)
