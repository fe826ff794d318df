"""The page of an official document (Nghị định 30/2020/NĐ-CP) drawn with fpdf2: A4 with
its margins, Liberation Serif embedded (metric-compatible with Times New Roman, the Decree's
font, with every Vietnamese letter; its licence in ``web/fonts/LICENSE-Liberation.txt``), the
content hash and the page number at every page's foot, and the paragraphs, headings and
bordered tables the minutes are made of.

Knows nothing of the minutes' content: :mod:`web.minutes_pdf` lays them out with these.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

FONT_DIR = Path(__file__).parent / "fonts"
FONT = "LiberationSerif"
FONT_FILES = {
    "": "LiberationSerif-Regular.ttf",
    "B": "LiberationSerif-Bold.ttf",
    "I": "LiberationSerif-Italic.ttf",
    "BI": "LiberationSerif-BoldItalic.ttf",
}

# A4 portrait with the margins of Nghị định 30 (left 30 mm for binding, right 15 mm).
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 30.0, 15.0, 20.0, 22.0
BODY_SIZE, TABLE_SIZE, SMALL_SIZE, FOOTER_SIZE = 12.0, 9.0, 7.0, 7.0
LINE = 6.0  # height of a line of body text, mm
HEADINGS = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))
BOLD = FontFace(emphasis="BOLD")
ALIGNMENTS = {"L": "LEFT", "C": "CENTER", "R": "RIGHT"}


class DocumentPDF(FPDF):
    """An A4 page with the content hash and the page number at its foot."""

    def __init__(self, hash_line: str, page_label: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._hash_line = hash_line
        self._page_label = page_label  # "Page {page}/{pages}", translated
        for style, filename in FONT_FILES.items():
            self.add_font(FONT, style, str(FONT_DIR / filename))
        self.set_margins(MARGIN_LEFT, MARGIN_TOP, MARGIN_RIGHT)
        self.set_auto_page_break(True, margin=MARGIN_BOTTOM)

    def normalize_text(self, text: str) -> str:
        # Names typed on some systems arrive decomposed (e + combining marks); without text
        # shaping the marks would be drawn beside their letter. Liberation Serif has every
        # precomposed Vietnamese letter, so compose them.
        return super().normalize_text(unicodedata.normalize("NFC", text))

    def footer(self) -> None:
        # From the page's own margins: a table breaking the page has moved l_margin.
        width = self.w - MARGIN_LEFT - MARGIN_RIGHT
        top = self.h - MARGIN_BOTTOM + 6
        self.set_draw_color(160)
        self.line(MARGIN_LEFT, top, MARGIN_LEFT + width, top)
        self.set_draw_color(0)
        self.set_font(FONT, "", fitting_size(self, self._hash_line, "", FOOTER_SIZE, width))
        self.set_xy(MARGIN_LEFT, top + 0.5)
        self.cell(width, 4, self._hash_line)
        self.set_font(FONT, "", FOOTER_SIZE)
        self.set_xy(MARGIN_LEFT, top + 4.5)
        text = self._page_label.format(page=self.page_no(), pages=self.str_alias_nb_pages)
        self.cell(width, 4, text, align="R")


def fitting_size(pdf: FPDF, text: str, style: str, size: float, width: float) -> float:
    """The largest font size up to ``size`` at which ``text`` fits in ``width`` mm."""
    while size > 5:
        pdf.set_font(FONT, style, size)
        if pdf.get_string_width(text) <= width:
            break
        size -= 0.5
    return size


NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập – Tự do – Hạnh phúc"


def national_header(
    pdf: FPDF, body: Sequence[tuple[str, str]], left_width: float, gap: float = 5
) -> None:
    """The header of Decree 30/2020: the issuing body on the left (``body``: its lines and
    their styles, e.g. the unit in capitals and bold), the national name and motto on the
    right, each with its rule; then ``gap`` mm below the lower of the two."""
    top, left = pdf.get_y(), pdf.l_margin
    right_width = pdf.epw - left_width
    for text, style in body:
        pdf.set_font(FONT, style, fitting_size(pdf, text, style, 12, left_width))
        pdf.multi_cell(left_width, 5.5, text, align="C", new_x="LEFT", new_y="NEXT")
    rule(pdf, left + left_width / 2, 25)
    left_bottom = pdf.get_y()
    right = left + left_width
    pdf.set_xy(right, top)
    pdf.set_font(FONT, "B", fitting_size(pdf, NATION, "B", 12, right_width))
    pdf.cell(right_width, 5.5, NATION, align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FONT, "B", fitting_size(pdf, MOTTO, "B", 13, right_width))
    pdf.cell(right_width, 6, MOTTO, align="C", new_x="LEFT", new_y="NEXT")
    rule(pdf, right + right_width / 2, pdf.get_string_width(MOTTO))
    pdf.set_y(max(left_bottom, pdf.get_y()) + gap)
    pdf.set_x(pdf.l_margin)


def keep_space(pdf: FPDF, height: float) -> None:
    """Start a new page unless ``height`` mm are left (no heading alone at a page's foot)."""
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()


def rule(pdf: FPDF, center: float, width: float) -> None:
    """The short line under a header's block, centred on ``center``."""
    y = pdf.get_y() + 1.2
    pdf.line(center - width / 2, y, center + width / 2, y)


def heading(pdf: FPDF, text: str) -> None:
    keep_space(pdf, 75)  # with the sentence and the first lines of the table that follow
    pdf.ln(2)
    pdf.set_font(FONT, "B", BODY_SIZE)
    pdf.multi_cell(0, LINE, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def subheading(pdf: FPDF, text: str) -> None:
    keep_space(pdf, 45)
    pdf.ln(1)
    pdf.set_font(FONT, "BI", BODY_SIZE - 1)
    pdf.multi_cell(0, LINE, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(0.5)


def paragraph(pdf: FPDF, text: str, style: str = "", size: float = BODY_SIZE) -> None:
    pdf.set_font(FONT, style, size)
    pdf.multi_cell(0, LINE * size / BODY_SIZE, text, align="L", new_x="LMARGIN", new_y="NEXT")


def table(
    pdf: FPDF,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    *,
    align: str = "LR",
    total: Sequence[str] | None = None,
    size: float = TABLE_SIZE,
) -> None:
    """A bordered table as wide as the text; ``align`` has a letter per column (L, C or R),
    the last letter standing for the remaining columns.

    A short table is kept on one page; fpdf2 breaks a long one across pages and repeats its
    header row on each.
    """
    pdf.set_font(FONT, "", size)
    line_height = pdf.font_size * 1.35
    padding = 1.0
    lines = len(rows) + 1 + (total is not None)
    keep_space(pdf, min(lines, 6) * (line_height + 2 * padding) + 2)
    letters = align.ljust(len(widths), align[-1])
    with pdf.table(
        col_widths=tuple(widths),
        width=pdf.epw,
        align="LEFT",  # not centred on the page: the margins are not symmetric
        text_align=tuple(ALIGNMENTS[letter] for letter in letters),
        line_height=line_height,
        padding=(padding, 1.2),
        headings_style=HEADINGS,
    ) as drawn:
        row = drawn.row()
        for text in header:
            row.cell(text, align="CENTER")
        for cells in rows:
            drawn.row(cells)
        if total is not None:
            drawn.row(total, style=BOLD)
    pdf.ln(2)
