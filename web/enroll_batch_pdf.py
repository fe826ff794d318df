"""The enrollment sheet as an A4 PDF: one card per counter, two across and two down a page,
each with the office, the counter, the code in large letters, the QR code of the install
command (the command written under it) and the day the code expires.

Drawn on the minutes' page (:mod:`web.minutes_pdf_layout`: Liberation Serif, margins, foot
line); a pure function of its cards.
"""

from __future__ import annotations

from dataclasses import dataclass

from hom_phieu.i18n import _, current_language
from hom_phieu.render.qr import qr_image
from web.minutes_pdf_layout import FONT, DocumentPDF, fitting_size

CARD_W, CARD_H, GAP = 80.0, 118.0, 5.0  # mm; two cards across the 165 mm between margins
QR_MM = 48.0
PER_PAGE = 4


@dataclass(frozen=True, slots=True)
class SheetCard:
    """One counter's card on the sheet."""

    office: str
    counter: str
    code: str
    command: str  # what the QR code holds: the install command with the server and the code
    expires: str  # dd/mm/yyyy


def sheet_pdf(cards: list[SheetCard]) -> bytes:
    """The cards as PDF bytes."""
    pdf = DocumentPDF(
        _("Enrollment codes: each works once, on one kiosk"), _("Page {page}/{pages}")
    )
    pdf.set_creator("hom-phieu")
    pdf.set_title(_("Enrollment codes"))
    pdf.set_lang(current_language())
    pdf.set_auto_page_break(False)
    for index, card in enumerate(cards):
        if index % PER_PAGE == 0:
            pdf.add_page()
        column, row = index % 2, (index % PER_PAGE) // 2
        x, y = pdf.l_margin + column * (CARD_W + GAP), pdf.t_margin + row * (CARD_H + GAP)
        _card(pdf, card, x, y)
    return bytes(pdf.output())


def _card(pdf: DocumentPDF, card: SheetCard, x: float, y: float) -> None:
    inner = CARD_W - 6
    pdf.rect(x, y, CARD_W, CARD_H)
    lines = [
        (card.office, "", 11, 6.0),
        (card.counter, "B", 15, 8.0),
        (card.code, "B", 20, 11.0),
    ]
    top = y + 3
    for text, style, size, height in lines:
        pdf.set_font(FONT, style, fitting_size(pdf, text, style, size, inner))
        pdf.set_xy(x + 3, top)
        pdf.cell(inner, height, text, align="C")
        top += height
    image = qr_image(card.command, box_size=6).convert("L")
    pdf.image(image, x=x + (CARD_W - QR_MM) / 2, y=top + 1, w=QR_MM, h=QR_MM)
    top += QR_MM + 3
    pdf.set_font(FONT, "", 8)
    pdf.set_xy(x + 3, top)
    pdf.multi_cell(inner, 3.6, card.command, align="C")
    pdf.set_font(FONT, "I", 10)
    pdf.set_xy(x + 3, y + CARD_H - 9)
    pdf.cell(inner, 6, _("Valid until {date}").format(date=card.expires), align="C")
