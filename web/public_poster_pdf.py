"""The office-month poster as an A4 PDF in the layout of Nghị định 30/2020/NĐ-CP: the
issuing body (its unit in capitals, the office below) beside the national motto, the
place and date, the title, the figures in large type, and the QR code to the public page.

Drawn with the minutes' page (:mod:`web.minutes_pdf_layout`: margins, fonts, foot lines)
and the same national header words as the minutes (:mod:`web.minutes_pdf`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fpdf import FPDF

from hom_phieu.i18n import _, current_language
from hom_phieu.render.qr import qr_image
from web.labels import LEVEL_LABELS
from web.minutes_pdf_layout import (
    BODY_SIZE,
    FONT,
    LINE,
    DocumentPDF,
    fitting_size,
    national_header,
    paragraph,
    rule,
    table,
)

if TYPE_CHECKING:
    from web.public_poster import Poster

QR_MM = 45.0
LEFT_WIDTH = 70.0  # the issuing body's column, as in the minutes


def render_poster(poster: Poster) -> bytes:
    """The poster as PDF bytes (Liberation Serif embedded)."""
    foot = f"{_('Satisfaction results')} – {poster.office.name} – {poster.period}"
    pdf = DocumentPDF(foot, _("Page {page}/{pages}"))
    pdf.set_creator("hom-phieu")
    pdf.set_author(poster.office.name)
    pdf.set_title(f"{_('Satisfaction results')} {poster.period}")
    pdf.set_lang(current_language())
    pdf.add_page()
    _header(pdf, poster)
    _title(pdf, poster)
    _figures(pdf, poster)
    _qr(pdf, poster)
    return bytes(pdf.output())


def _header(pdf: FPDF, poster: Poster) -> None:
    """The issuing body on the left, the national header on the right, each with its rule."""
    office = poster.office
    national_header(pdf, [(office.unit.upper(), "B"), (office.name, "")], LEFT_WIDTH)
    pdf.set_font(FONT, "I", BODY_SIZE)
    pdf.cell(0, LINE, poster.place_and_date, align="R")
    pdf.ln(LINE * 2)


def _title(pdf: FPDF, poster: Poster) -> None:
    pdf.set_font(FONT, "B", 18)
    title = _("Satisfaction results").upper()
    pdf.multi_cell(0, 9, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 14)
    subtitle = _("of people and organisations with the one-stop office in {month}").format(
        month=poster.month
    )
    pdf.multi_cell(0, 7, subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
    rule(pdf, pdf.l_margin + pdf.epw / 2, 30)
    pdf.ln(LINE * 1.5)


def _figures(pdf: FPDF, poster: Poster) -> None:
    row = poster.row
    pdf.set_font(FONT, "", 16)
    pdf.cell(0, 9, _("Ballots counted: {n}").format(n=row.votes), align="C",
             new_x="LMARGIN", new_y="NEXT")  # fmt: skip
    if row.levels is None or row.rate is None:
        pdf.ln(3)
        paragraph(pdf, poster.hidden_words(), "I", 14)
    else:
        pdf.set_font(FONT, "B", 24)
        pdf.cell(0, 13, _("Satisfaction rate: {rate}").format(rate=row.rate.text()), align="C",
                 new_x="LMARGIN", new_y="NEXT")  # fmt: skip
        pdf.ln(3)
        rows = [
            [_(LEVEL_LABELS[figure.level]), str(figure.count), figure.share.text()]
            for figure in row.levels
        ]
        table(pdf, [_("Level"), _("Ballots"), _("Share")], rows, (85, 40, 40), size=14,
              total=[_("Total"), str(row.votes), poster.total_share])  # fmt: skip
    if poster.late:
        paragraph(pdf, _("Including {n} late ballots of this month counted at later openings.")
                  .format(n=poster.late), "I", 11)  # fmt: skip
    paragraph(pdf, _("Official results: ballots from the buttons and phone answers backed by "
                     "a ticket."), "I", 11)  # fmt: skip


def _qr(pdf: FPDF, poster: Poster) -> None:
    """The QR code to the public page, centred, with the address under it (none while the
    server's public address is not set)."""
    if poster.url is None:
        return
    if pdf.get_y() + QR_MM + 20 > pdf.page_break_trigger:
        pdf.add_page()
    pdf.ln(4)
    paragraph(pdf, _("Scan to see these results and those of other months:"), "", 12)
    image = qr_image(poster.url, box_size=8).convert("L")
    pdf.image(image, x=pdf.l_margin + (pdf.epw - QR_MM) / 2, y=pdf.get_y() + 2, w=QR_MM,
              h=QR_MM)  # fmt: skip
    pdf.set_y(pdf.get_y() + QR_MM + 4)
    pdf.set_font(FONT, "", fitting_size(pdf, poster.url, "", 10, pdf.epw))
    pdf.cell(0, 5, poster.url, align="C", new_x="LMARGIN", new_y="NEXT")
