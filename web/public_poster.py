"""The poster of an opened office-month for the office's wall: an A4 page (HTML to print,
and a PDF) in the administrative style, with the month's totals, level shares and rate, and
a QR code to the public results page of that office and month at the server's configured
address (none while no address is set: a forged ``Host`` must not put its own on the wall).

Public like the results page: no clerk, figures from :mod:`web.public_figures` with small
cells hidden. A sealed or unknown box is a 404, as if it did not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, abort, render_template, url_for
from sqlalchemy import select

from hom_phieu.i18n import _
from hom_phieu.render.qr import qr_data_url
from web import db, server_address
from web.ceremony_calendar import box_label, parse_box
from web.labels import place_and_date
from web.minutes import Minutes, OfficeHeader
from web.minutes_pdf_layout import MOTTO, NATION
from web.models import Office, Opening
from web.public import bp
from web.public_figures import PublicRow, late_ballots, office_month, shown
from web.public_poster_pdf import render_poster
from web.report_period import Period
from web.report_settings import public_minimum
from web.report_stats import Rate

QR_BOX_PX = 8  # pixels per module in the page's image (printed at 40 mm: crisp either way)


@dataclass(frozen=True, slots=True)
class Poster:
    office: OfficeHeader  # as the opening's minutes name it
    box: str
    period: str  # "Tháng 11/2026"
    place_and_date: str  # the opening's place and day
    row: PublicRow
    minimum: int
    late: int  # ballots of the month counted by later openings (included in ``row``)
    # The public results page of this office and month, at the server's configured address
    # (``web.server_address``, never the request's Host); None while no address is set.
    url: str | None
    office_id: int = 0

    @property
    def month(self) -> str:
        return box_label(self.box)

    @property
    def total_share(self) -> str:
        return Rate(self.row.votes, self.row.votes).text()

    def hidden_words(self) -> str:
        if self.row.votes < self.minimum:
            return _(
                "Fewer than {n} ballots: hidden so that no citizen can be singled out."
            ).format(n=self.minimum)
        return _("Hidden too, so that smaller rows cannot be worked out from the total.")


def poster_of(office_id: int, box: str) -> Poster:
    """The poster's content, or a 404 for an unknown office or a box not opened."""
    session = db.session()
    try:
        parse_box(box)
    except ValueError:
        abort(404)
    office = session.get(Office, office_id)
    opening = session.scalar(
        select(Opening).where(
            Opening.office_id == office_id, Opening.box == box, Opening.status == Opening.OPENED
        )
    )
    if office is None or opening is None:
        abort(404)
    minutes = Minutes.from_bytes(opening.minutes or b"")
    minimum = public_minimum(session)
    period = Period.month(box)
    address = server_address.configured(session)
    path = url_for("public.results", office=office.id, **period.to_args())
    url = address + path if address is not None else None
    return Poster(
        office=minutes.office,
        box=box,
        period=period.label(),
        place_and_date=place_and_date(minutes.place, minutes.opened_at.isoformat()),
        row=shown(office_month(session, office, box), minimum),
        minimum=minimum,
        late=late_ballots(session, office.id, box),
        url=url,
        office_id=office.id,
    )


@bp.get("/offices/<int:office_id>/boxes/<box>/poster")
def poster(office_id: int, box: str):
    made = poster_of(office_id, box)
    return render_template(
        "public/poster.html",
        poster=made,
        qr=qr_data_url(made.url, box_size=QR_BOX_PX) if made.url else None,
        no_address=_(
            "The server's public address is not set, so this poster has no QR code to the "
            "results online: ask an administrator to set it (on the Alert e-mail page: the "
            "server's public address; or HOM_PHIEU_SERVER_URL in /etc/hom-phieu/web.env)."
        ),
        nation=NATION,
        motto=MOTTO,
    )


@bp.get("/offices/<int:office_id>/boxes/<box>/poster.pdf")
def poster_pdf(office_id: int, box: str) -> Response:
    made = poster_of(office_id, box)
    response = Response(render_poster(made), mimetype="application/pdf")
    name = f"ket-qua-{made.office.code}-{box}.pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return response
