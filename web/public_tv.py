"""The waiting room's screen: full-screen, large type, high contrast, rotating the latest
opened results of an office (its last few opened months) or of a unit (each office's
latest opened month).

No script at all: each slide is a page that refreshes itself (``<meta http-equiv=refresh>``)
to the next one, named by the ``slide`` query parameter, so that it works whatever the
Content-Security-Policy and on the oldest smart TV's browser; a CSS animation shows the
time left. Small cells hidden as on every public page.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request, url_for

from hom_phieu.i18n import _
from web import db
from web.models import Office
from web.public import bp
from web.public_figures import (
    PublicRow,
    office_month,
    offices_in,
    opened_boxes,
    shown,
    units_with_results,
)
from web.public_filters import FilterError, read_office, read_unit
from web.report_period import Period
from web.report_settings import public_minimum

SLIDE_SECONDS = 15
EMPTY_REFRESH_SECONDS = 300  # nothing opened yet: look again now and then
OFFICE_MONTHS = 3  # an office's screen rotates its last three opened months
MAX_SLIDE_DIGITS = 6


@dataclass(frozen=True, slots=True)
class Slide:
    office: str
    place: str
    period: str
    row: PublicRow


def _slide_number() -> int:
    text = request.args.get("slide", "").strip()
    if not text:
        return 0
    if not text.isdigit() or len(text) > MAX_SLIDE_DIGITS:
        raise FilterError(_("{what}: not a number: {text}").format(what=_("Slide"),
                                                                     text=text[:20]))  # fmt: skip
    return int(text)


def _boxes(session, office: Office | None, unit_id: int) -> list[tuple[Office, str]]:
    """What the screen rotates through: (office, month), in order."""
    if office is not None:
        months = opened_boxes(session, [office.id]).get(office.id, [])
        return [(office, box) for box in months[:OFFICE_MONTHS]]
    offices = offices_in(session, unit_id)
    latest = opened_boxes(session, list(offices))
    chosen = sorted((o for o in offices.values() if o.id in latest), key=lambda o: (o.name, o.id))
    return [(o, latest[o.id][0]) for o in chosen]


@bp.get("/tv")
def tv():
    """One slide of the rotation; ``?office=ID`` or ``?unit=ID``, ``&slide=N``."""
    session = db.session()
    units = units_with_results(session)
    if not units:
        return render_template("public/tv.html", slide=None, refresh=EMPTY_REFRESH_SECONDS,
                               next_url=url_for("public.tv"))  # fmt: skip
    try:
        office = read_office(session, request.args)
        unit = read_unit(session, request.args, units, office)
        number = _slide_number()
    except FilterError as error:
        return render_template("error.html", status=400, reason=str(error)), 400
    scope = {"office": office.id} if office is not None else {"unit": unit.id}
    boxes = _boxes(session, office, unit.id)
    if not boxes:  # (an office or unit with opened results has an opened box)
        return render_template("public/tv.html", slide=None, refresh=EMPTY_REFRESH_SECONDS,
                               next_url=url_for("public.tv", **scope))  # fmt: skip
    index = number % len(boxes)
    shown_office, box = boxes[index]
    minimum = public_minimum(session)
    row = shown(office_month(session, shown_office, box), minimum)
    slide = Slide(shown_office.name, shown_office.unit.name, Period.month(box).label(), row)
    following = (index + 1) % len(boxes)
    return render_template(
        "public/tv.html",
        slide=slide,
        index=index,
        count=len(boxes),
        minimum=minimum,
        refresh=SLIDE_SECONDS,
        next_url=url_for("public.tv", **scope, slide=following),
    )
