"""The minutes as a PDF in the Vietnamese administrative layout (Nghị định 30/2020/NĐ-CP):
the issuing body and the national header side by side, the number and the place-and-date
line, the title, numbered sections, the closing lines, a signature block for every member
present, and on every page the content hash that lets anyone holding ``minutes.json`` check a
printed copy.

Draws the :class:`web.minutes_document.Document` the printable page shows too, so both say
the same things. A pure function of the :class:`web.minutes.Minutes` (no database, no Flask
app); the same minutes give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF

from hom_phieu.i18n import _, current_language
from web.minutes import Minutes
from web.minutes_document import Document, Header, Signer, minutes_document
from web.minutes_pdf_layout import (
    BODY_SIZE,
    FONT,
    LINE,
    SMALL_SIZE,
    DocumentPDF,
    fitting_size,
    heading,
    keep_space,
    paragraph,
    rule,
    subheading,
    table,
)
from web.minutes_sections import Block, Paragraph, Subheading
from web.minutes_text import month

LEFT_WIDTH = 70.0  # the issuing body's column, mm; the national header takes the rest


def _centred(pdf: FPDF, x: float, width: float, text: str, style: str, size: float) -> None:
    pdf.set_x(x)
    pdf.set_font(FONT, style, fitting_size(pdf, text, style, size, width))
    pdf.cell(width, 5.5, text, align="C", new_x="LEFT", new_y="NEXT")


def _header(pdf: FPDF, header: Header) -> None:
    """Decree 30: the governing body (capitals) and the issuing body (capitals, bold) over a
    short rule, the number below them; the national name and the motto over a rule as long
    as the motto, the place and date below them; then the title."""
    top, left = pdf.get_y(), pdf.l_margin
    right, right_width = left + LEFT_WIDTH, pdf.epw - LEFT_WIDTH
    _centred(pdf, left, LEFT_WIDTH, header.governing_body, "", 12)
    _centred(pdf, left, LEFT_WIDTH, header.issuing_body, "B", 12)
    rule(pdf, left + LEFT_WIDTH / 2, 25)
    left_bottom = pdf.get_y()
    pdf.set_y(top)
    _centred(pdf, right, right_width, header.nation, "B", 12)
    _centred(pdf, right, right_width, header.motto, "B", 13)
    rule(pdf, right + right_width / 2, pdf.get_string_width(header.motto))
    line = max(left_bottom, pdf.get_y()) + 4
    pdf.set_y(line)
    _centred(pdf, left, LEFT_WIDTH, header.number, "", BODY_SIZE)
    pdf.set_y(line)
    _centred(pdf, right, right_width, header.place_and_date, "I", BODY_SIZE)
    pdf.ln(LINE)
    pdf.set_x(left)
    pdf.set_font(FONT, "B", 14)
    pdf.cell(0, 7, header.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(0, 6.5, header.subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
    rule(pdf, pdf.l_margin + pdf.epw / 2, 30)
    pdf.ln(LINE)


def _block(pdf: FPDF, block: Block) -> None:
    if isinstance(block, Paragraph):
        paragraph(pdf, block.text, block.style, SMALL_SIZE + 1 if block.small else BODY_SIZE)
    elif isinstance(block, Subheading):
        subheading(pdf, block.text)
    else:
        pdf.ln(1)
        table(pdf, block.header, block.rows, block.widths, align=block.align, total=block.total)


def _signature_row(pdf: FPDF, signers: Sequence[Signer], columns: int, hint: str) -> None:
    """Side by side, each centred in its column: title, "(Signature and full name)", room to
    sign, the name."""
    space = 36 if columns <= 2 else 30
    keep_space(pdf, space + 3 * LINE)
    width = pdf.epw / columns
    top = bottom = pdf.get_y()
    size = BODY_SIZE if columns <= 2 else BODY_SIZE - 1
    for column, signer in enumerate(signers):
        x = pdf.l_margin + column * width
        pdf.set_xy(x, top)
        pdf.set_font(FONT, "B", size)
        pdf.multi_cell(width, LINE, signer.title, align="C", new_x="LEFT", new_y="NEXT")
        pdf.set_font(FONT, "I", size - 1)
        pdf.multi_cell(width, LINE, hint, align="C", new_x="LEFT")
        pdf.set_xy(x, top + space)
        pdf.set_font(FONT, "B", size)
        pdf.multi_cell(width, LINE, signer.name, align="C", new_x="LEFT", new_y="NEXT")
        bottom = max(bottom, pdf.get_y())
    pdf.set_y(bottom + LINE)


def _closing(pdf: FPDF, document: Document) -> None:
    """The closing lines and every signature row, on one page if they fit on one."""
    rows = len(document.signatures)
    keep_space(pdf, min(36 + (rows + 1) * (30 + 3 * LINE), 200))
    pdf.ln(2)
    for line in document.closing:
        paragraph(pdf, line.text)
    pdf.ln(LINE)
    for number, row in enumerate(document.signatures):
        _signature_row(pdf, row, 2 if number == 0 else 3, document.signature_hint)


def minutes_pdf(minutes: Minutes, content_hash: str) -> bytes:
    """The minutes as an A4 PDF with embedded Liberation Serif (Times-compatible, every
    Vietnamese letter); the same minutes, the same bytes."""
    document = minutes_document(minutes)
    pdf = DocumentPDF(
        _("Content check code (SHA-256): {hash}").format(hash=content_hash),
        _("Page {page}/{pages}"),
    )
    pdf.set_creation_date(minutes.opened_at)  # not "now": rendering twice, the same bytes
    pdf.set_creator("hom-phieu")
    pdf.set_author(minutes.office.name)
    pdf.set_title(f"{_('Minutes')} {month(minutes.box)}")
    pdf.set_lang(current_language())
    pdf.add_page()
    _header(pdf, document.header)
    for section in document.sections:
        heading(pdf, section.title)
        for block in section.blocks:
            _block(pdf, block)
    _closing(pdf, document)
    return bytes(pdf.output())
