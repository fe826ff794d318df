"""Every report's files: one :class:`web.report_table.ReportTable` written as XLSX, CSV and
PDF, so a file says exactly what the page says.

Each file carries the same head (title, unit, period, the date it was made, the content
hash of the table) and the notes under the table. A :class:`web.report_stats.Rate` is
written as a number with a percentage format in XLSX (a spreadsheet can compute with it)
and as its text ("63,35%") in CSV and PDF; an interval column holds the interval's text
(:func:`interval_cell`). The PDF follows the administrative layout of Nghị định 30/2020
(:mod:`web.minutes_pdf_layout`): the issuing body on two lines, the national header, the
title and period, the table, the notes; the date and the content hash on every page.

Pure (no database): the same table gives the same bytes. :func:`send_table` serves a file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

from flask import Response, abort
from fpdf import FPDF
from fpdf.enums import PageOrientation
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from hom_phieu.clock import TIMEZONE
from hom_phieu.i18n import _, current_language
from web.csv_safe import spreadsheet_csv
from web.minutes_pdf_layout import (
    BODY_SIZE,
    FONT,
    LINE,
    TABLE_SIZE,
    DocumentPDF,
    national_header,
    paragraph,
    rule,
)
from web.minutes_pdf_layout import table as pdf_table
from web.report_stats import Rate
from web.report_table import Cell, ReportTable

PERCENT_FORMAT = "0.00%"
FORMATS = ("xlsx", "csv", "pdf")
MIMETYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "pdf": "application/pdf",
}
# The national header is always Vietnamese, whatever the language of the labels.
NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập – Tự do – Hạnh phúc"
LANDSCAPE_COLUMNS = 7  # wider tables are printed on landscape pages


def interval_cell(rate: Rate) -> str:
    """The cell of an interval column: ``58,10% – 68,27%`` (``—`` of nothing)."""
    return rate.interval_text()


def cell_text(cell: Cell) -> str:
    """A cell as people read it (the page, the CSV, the PDF)."""
    if cell is None:
        return "—"
    if isinstance(cell, Rate):
        return cell.text()
    if isinstance(cell, int):
        return str(cell)
    return cell


def generated_text(table: ReportTable) -> str:
    """When the table was made, ``dd/mm/yyyy HH:MM`` in Vietnam time."""
    return _local(table.generated_at).strftime("%d/%m/%Y %H:%M")


def head_lines(table: ReportTable) -> list[tuple[str, str]]:
    """The head every file starts with: (label, value) pairs."""
    lines = [(_("Report"), table.title)]
    if table.parent_unit:
        lines.append((_("Parent unit"), table.parent_unit))
    lines += [
        (_("Unit"), table.unit),
        (_("Period"), table.period),
        (_("Generated at"), generated_text(table)),
        (_("Content check code (SHA-256)"), table.content_hash()),
    ]
    return lines


def _local(moment: datetime) -> datetime:
    return moment.astimezone(TIMEZONE) if moment.tzinfo is not None else moment


def _is_total(row: Sequence[Cell]) -> bool:
    return bool(row) and row[0] == _("Total")


# --- XLSX -------------------------------------------------------------------------------


def _xlsx_value(cell: Cell) -> str | int | float | None:
    """What a cell holds in the sheet: "—" for nothing known, as on the page."""
    if cell is None:
        return "—"
    if isinstance(cell, Rate):
        return cell.value if cell.whole else "—"
    return None if cell == "" else cell  # an empty text: an empty cell


def xlsx_bytes(table: ReportTable) -> bytes:
    """One sheet: the head, the table (counts as numbers, rates as numbers formatted as
    percentages, texts kept as texts: never a formula), the notes."""
    workbook = Workbook()
    sheet: Worksheet = workbook.active
    sheet.title = _("Report")[:31]
    for key, value in head_lines(table):
        sheet.append([key, value])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
        sheet.cell(sheet.max_row, 2).data_type = "s"
    sheet.append([])
    sheet.append(list(table.columns))
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.data_type = "s"
    for row in table.rows:
        sheet.append([_xlsx_value(cell) for cell in row])
        bold = _is_total(row)
        for written, cell in zip(sheet[sheet.max_row], row, strict=False):
            if isinstance(cell, Rate) and cell.whole:
                written.number_format = PERCENT_FORMAT
            elif isinstance(written.value, str):
                written.data_type = "s"
            if bold:
                written.font = Font(bold=True)
    if table.notes:
        sheet.append([])
        for note in table.notes:
            sheet.append([note])
            sheet.cell(sheet.max_row, 1).data_type = "s"
    sheet.freeze_panes = sheet.cell(header_row + 1, 2)
    _widths(sheet, header_row)
    made = _local(table.generated_at).replace(tzinfo=None)
    workbook.properties.created = made
    workbook.properties.modified = made
    workbook.properties.creator = "hom-phieu"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _widths(sheet: Worksheet, header_row: int) -> None:
    """Column widths from the table's own cells (the head's long lines may overflow)."""
    longest: dict[int, int] = {}
    for row in sheet.iter_rows(min_row=header_row):
        for cell in row:
            if cell.value is not None:
                length = len(str(cell.value)) if not isinstance(cell.value, float) else 8
                longest[cell.column] = max(longest.get(cell.column, 0), length)
    for column, length in longest.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(max(length + 2, 9), 45)
    sheet.column_dimensions["A"].width = max(sheet.column_dimensions["A"].width or 0, 28)


# --- CSV --------------------------------------------------------------------------------


def csv_text(table: ReportTable) -> str:
    """The head as "label, value" rows, a blank row, the table with its column names, a
    blank row and the notes; every text neutralised (``web.csv_safe``: never a formula)."""
    rows: list[list[str | int]] = [[key, value] for key, value in head_lines(table)]
    rows.append([])
    rows.append(list(table.columns))
    for row in table.rows:
        rows.append([cell if isinstance(cell, int) else cell_text(cell) for cell in row])
    if table.notes:
        rows.append([])
        rows += [[note] for note in table.notes]
    return spreadsheet_csv(rows)


# --- PDF --------------------------------------------------------------------------------


def _issuing_body(pdf: FPDF, table: ReportTable) -> None:
    """The issuing body (the unit above, then the unit, in capitals) on the left, the
    national header on the right, each with its rule."""
    body = [(table.parent_unit.upper(), "")] if table.parent_unit else []
    national_header(pdf, [*body, (table.unit.upper(), "B")], min(85.0, pdf.epw * 0.42), gap=8)


def _title(pdf: FPDF, table: ReportTable) -> None:
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(0, 7, table.title.upper(), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 13)
    pdf.multi_cell(0, 6.5, table.period, align="C", new_x="LMARGIN", new_y="NEXT")
    rule(pdf, pdf.l_margin + pdf.epw / 2, 30)
    pdf.ln(LINE)


MIN_TABLE_SIZE = 6  # the smallest type a table is printed in (points)


def _fitting(pdf: FPDF, header: Sequence[str], rows: Sequence[Sequence[str]],
             size: float) -> tuple[float, list[float]]:  # fmt: skip
    """The type size and column widths that fit the page's width without cutting a word
    or a figure: smaller type until what the columns need fits (down to
    :data:`MIN_TABLE_SIZE`), the room left shared in proportion."""
    while True:
        wanted = _wanted_widths(pdf, header, rows, size)
        if sum(wanted) <= pdf.epw or size <= MIN_TABLE_SIZE:
            break
        size -= 0.5
    total = sum(wanted)
    return size, [pdf.epw * width / total for width in wanted]


def _wanted_widths(pdf: FPDF, header: Sequence[str], rows: Sequence[Sequence[str]],
                   size: float) -> list[float]:  # fmt: skip
    """What each column needs: its widest cell, its longest heading word (in bold, as
    headings are printed), and room for its heading on at most three lines."""
    pdf.set_font(FONT, "B", size)  # (the total row is bold too: every cell measured bold)
    wanted = []
    for index, name in enumerate(header):
        words = max((pdf.get_string_width(word) for word in name.split()), default=0)
        heading = pdf.get_string_width(name) / 3
        cells = max((pdf.get_string_width(row[index]) for row in rows if index < len(row)),
                    default=0)  # fmt: skip
        wanted.append(max(words, cells, heading) + 3)
    return wanted


def _alignment(table: ReportTable) -> str:
    """A letter per column: names left, figures (counts, rates, intervals) right."""
    letters = []
    for index in range(len(table.columns)):
        texts = [row[index] for row in table.rows if index < len(row)]
        named = any(isinstance(c, str) and c not in ("", "—") and not c.endswith("%")
                    for c in texts[:-1] or texts)  # fmt: skip
        letters.append("L" if named else "R")
    return "".join(letters) or "L"


def pdf_bytes(table: ReportTable) -> bytes:
    """The table as an A4 PDF (landscape when it is wide) with embedded Liberation Serif."""
    foot = _("Made on {date} · Content check code (SHA-256): {hash}").format(
        date=generated_text(table), hash=table.content_hash()
    )
    pdf = DocumentPDF(foot, _("Page {page}/{pages}"))
    if len(table.columns) > LANDSCAPE_COLUMNS:
        pdf.def_orientation = PageOrientation.LANDSCAPE  # every page, page breaks too
    pdf.set_creation_date(_local(table.generated_at))  # not "now": the same table, same bytes
    pdf.set_creator("hom-phieu")
    pdf.set_author(table.unit)
    pdf.set_title(f"{table.title} – {table.period}")
    pdf.set_lang(current_language())
    pdf.add_page()
    _issuing_body(pdf, table)
    _title(pdf, table)
    header = list(table.columns)
    body = [[cell_text(cell) for cell in row] for row in table.rows]
    total = body.pop() if table.rows and _is_total(table.rows[-1]) else None
    size = TABLE_SIZE if len(header) <= LANDSCAPE_COLUMNS else TABLE_SIZE - 1
    size, widths = _fitting(pdf, header, [*body, *([total] if total else [])], size)
    if body or total:
        align = _alignment(table)
        pdf_table(pdf, header, body, widths, align=align, total=total, size=size)
    else:
        paragraph(pdf, _("No opened results in this period."))
    for note in table.notes:
        paragraph(pdf, note, "I", BODY_SIZE - 2)
    return bytes(pdf.output())


# --- serving ----------------------------------------------------------------------------


def render(table: ReportTable, fmt: str) -> bytes | str:
    """The table as a ``fmt`` file (one of :data:`FORMATS`)."""
    if fmt == "xlsx":
        return xlsx_bytes(table)
    if fmt == "csv":
        return csv_text(table)
    if fmt == "pdf":
        return pdf_bytes(table)
    raise ValueError(f"no report format {fmt!r}")


def send_table(table: ReportTable, fmt: str, filename_stem: str) -> Response:
    """The table as a download named ``filename_stem.fmt``; 404 for a format there is not.
    ``filename_stem``: ASCII, e.g. ``bao-cao-2026``."""
    if fmt not in FORMATS:
        abort(404)
    response = Response(render(table, fmt), mimetype=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename_stem}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response
