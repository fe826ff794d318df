"""The minutes of a ballot-box opening (biên bản mở hòm phiếu) as PDF, XLSX and CSV.

Every rendering is a pure function of the minutes content (``docs/minutes-format.md``): no
database, no Flask app. The PDF follows the Vietnamese administrative layout (Nghị định
30/2020/NĐ-CP): the issuing body and the national header side by side, the place-and-date
line, the title, numbered sections, the signature blocks, and on every page the content hash
that lets anyone holding ``minutes.json`` check a printed copy.

Labels go through gettext in the caller's language; names, places, messages and the national
header are printed as they are. Percentages are computed here, never stored.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from hom_phieu.clock import TIMEZONE
from hom_phieu.formatting import percent
from hom_phieu.i18n import N_, _, current_language
from hom_phieu.ledger.records import Level
from web.labels import (
    CHANNEL_LABELS,
    COMMITTEE_ROLE_LABELS,
    LEVEL_LABELS,
    STATUS_LABELS,
    label,
    place_and_date,
)

Minutes = dict[str, Any]
Count = dict[str, Any]
Row = dict[str, Any]

FONT_DIR = Path(__file__).parent / "fonts"
FONT = "DejaVuSerif"
FONT_FILES = {
    "": "DejaVuSerif.ttf",
    "B": "DejaVuSerif-Bold.ttf",
    "I": "DejaVuSerif-Italic.ttf",
    "BI": "DejaVuSerif-BoldItalic.ttf",
}

# The national header is always Vietnamese, whatever the language of the labels.
NATION = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập – Tự do – Hạnh phúc"

LEVELS = tuple(level.value for level in Level)
CHAIR_ROLES = ("ubnd_leader", "ubnd_deputy")  # who chairs the opening, in order of preference
SEVERITY_LABELS = {"warning": N_("Warning: {message}"), "fault": N_("Fault: {message}")}

# A4 portrait with the margins of Nghị định 30 (left 30 mm for binding, right 15 mm).
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 30.0, 15.0, 20.0, 22.0
BODY_SIZE, TABLE_SIZE, SMALL_SIZE, FOOTER_SIZE = 12.0, 9.0, 7.0, 7.0
LINE = 6.0  # height of a line of body text, mm
HEADINGS = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))
BOLD = FontFace(emphasis="BOLD")
ALIGNMENTS = {"L": "LEFT", "C": "CENTER", "R": "RIGHT"}


@dataclass(frozen=True)
class CountTable:
    """One breakdown of a count: where it is in the dict and what it is called."""

    key: str  # in the count: by_clerk, by_counter, …
    section: str  # the CSV's section code
    title: str  # msgid of the PDF heading
    sheet: str  # msgid of the XLSX sheet
    column: str  # msgid of the name column


TABLES = (
    CountTable("by_clerk", "clerk", N_("Results by clerk"), N_("By clerk"), N_("Clerk")),
    CountTable("by_counter", "counter", N_("Results by counter"), N_("By counter"), N_("Counter")),
    CountTable(
        "by_field",
        "field",
        N_("Results by procedure field"),
        N_("By procedure field"),
        N_("Procedure field"),
    ),
    CountTable("by_channel", "channel", N_("Results by channel"), N_("By channel"), N_("Channel")),
)
CLERKS = TABLES[0]


# --- what every rendering shares --------------------------------------------------------------


def _local(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(TIMEZONE)


def _date(iso: str) -> str:
    return _local(iso).strftime("%d/%m/%Y")


def _time(iso: str) -> str:
    return _local(iso).strftime("%H:%M")


def _moment(iso: str | None) -> str:
    """``16:05 on 30/11/2026`` (``16:05 ngày 30/11/2026``), or a dash."""
    if not iso:
        return "—"
    return _("{time} on {date}").format(time=_time(iso), date=_date(iso))


def _month(box: str) -> str:
    """A box ``2026-11`` as people write the month: ``11/2026``."""
    year, month = box.split("-")
    return f"{month}/{year}"


def _row_name(table: CountTable, row: Row) -> str:
    """What a row of a breakdown is called in the PDF."""
    if table.key == "by_channel":
        return label(CHANNEL_LABELS, row["key"])
    if table.key == "by_clerk":
        if not row["name"]:  # a code not (or no longer) in the office's list of clerks
            return _("{code} (not in the list)").format(code=row["key"])
        return f"{row['name']} ({row['key']})"
    return row["name"] or row["key"]


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _seq_range(device: Row) -> str:
    if device.get("first_seq") is None:
        return "—"
    return f"{device['first_seq']}–{device['last_seq']}"


def _chair(attendees: Sequence[Row]) -> Row | None:
    for role in CHAIR_ROLES:
        for attendee in attendees:
            if attendee["committee_role"] == role:
                return attendee
    return None


def _secretary(attendees: Sequence[Row]) -> Row | None:
    return next((a for a in attendees if a["committee_role"] == "secretary"), None)


# --- PDF --------------------------------------------------------------------------------------


class _MinutesPDF(FPDF):
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
        # shaping the marks would be drawn beside their letter. DejaVu has every precomposed
        # Vietnamese letter, so compose them.
        return super().normalize_text(unicodedata.normalize("NFC", text))

    def footer(self) -> None:
        # From the page's own margins: a table breaking the page has moved l_margin.
        width = self.w - MARGIN_LEFT - MARGIN_RIGHT
        top = self.h - MARGIN_BOTTOM + 6
        self.set_draw_color(160)
        self.line(MARGIN_LEFT, top, MARGIN_LEFT + width, top)
        self.set_draw_color(0)
        self.set_font(FONT, "", _fitting_size(self, self._hash_line, "", FOOTER_SIZE, width))
        self.set_xy(MARGIN_LEFT, top + 0.5)
        self.cell(width, 4, self._hash_line)
        self.set_font(FONT, "", FOOTER_SIZE)
        self.set_xy(MARGIN_LEFT, top + 4.5)
        text = self._page_label.format(page=self.page_no(), pages=self.str_alias_nb_pages)
        self.cell(width, 4, text, align="R")


def _fitting_size(pdf: FPDF, text: str, style: str, size: float, width: float) -> float:
    """The largest font size up to ``size`` at which ``text`` fits in ``width`` mm."""
    while size > 5:
        pdf.set_font(FONT, style, size)
        if pdf.get_string_width(text) <= width:
            break
        size -= 0.5
    return size


def _keep_space(pdf: FPDF, height: float) -> None:
    """Start a new page unless ``height`` mm are left (no heading alone at a page's foot)."""
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()


def _rule(pdf: FPDF, center: float, width: float) -> None:
    y = pdf.get_y() + 1.2
    pdf.line(center - width / 2, y, center + width / 2, y)


def _header(pdf: FPDF, minutes: Minutes) -> None:
    """The issuing body on the left, the national header on the right, each with its rule."""
    office = minutes["office"]
    top = pdf.get_y()
    left_width = 70.0
    right_width = pdf.epw - left_width
    left = pdf.l_margin
    right = left + left_width

    pdf.set_font(FONT, "B", _fitting_size(pdf, office["unit"].upper(), "B", 12, left_width))
    pdf.multi_cell(left_width, 5.5, office["unit"].upper(), align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FONT, "", 12)
    pdf.multi_cell(left_width, 5.5, office["name"], align="C", new_x="LEFT", new_y="NEXT")
    _rule(pdf, left + left_width / 2, 25)
    left_bottom = pdf.get_y()

    pdf.set_xy(right, top)
    pdf.set_font(FONT, "B", _fitting_size(pdf, NATION, "B", 12, right_width))
    pdf.cell(right_width, 5.5, NATION, align="C", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FONT, "B", _fitting_size(pdf, MOTTO, "B", 13, right_width))
    pdf.cell(right_width, 6, MOTTO, align="C", new_x="LEFT", new_y="NEXT")
    _rule(pdf, right + right_width / 2, pdf.get_string_width(MOTTO))
    pdf.set_y(max(left_bottom, pdf.get_y()) + 5)

    pdf.set_font(FONT, "I", BODY_SIZE)
    pdf.cell(0, LINE, place_and_date(minutes["place"], minutes["opened_at"]), align="R")
    pdf.ln(LINE * 2)

    pdf.set_font(FONT, "B", 14)
    pdf.cell(0, 7, _("Minutes").upper(), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 13)
    subtitle = _("Opening of the satisfaction ballot box of {month}").format(
        month=_month(minutes["box"])
    )
    pdf.multi_cell(0, 6.5, subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
    _rule(pdf, pdf.l_margin + pdf.epw / 2, 30)
    pdf.ln(LINE)


def _heading(pdf: FPDF, text: str) -> None:
    _keep_space(pdf, 75)  # with the sentence and the first lines of the table that follow
    pdf.ln(2)
    pdf.set_font(FONT, "B", BODY_SIZE)
    pdf.multi_cell(0, LINE, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _subheading(pdf: FPDF, text: str) -> None:
    _keep_space(pdf, 45)
    pdf.ln(1)
    pdf.set_font(FONT, "BI", BODY_SIZE - 1)
    pdf.multi_cell(0, LINE, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(0.5)


def _paragraph(pdf: FPDF, text: str, style: str = "", size: float = BODY_SIZE) -> None:
    pdf.set_font(FONT, style, size)
    pdf.multi_cell(0, LINE * size / BODY_SIZE, text, align="L", new_x="LMARGIN", new_y="NEXT")


def _table(
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
    _keep_space(pdf, min(lines, 6) * (line_height + 2 * padding) + 2)
    letters = align.ljust(len(widths), align[-1])
    with pdf.table(
        col_widths=tuple(widths),
        width=pdf.epw,
        align="LEFT",  # not centred on the page: the margins are not symmetric
        text_align=tuple(ALIGNMENTS[letter] for letter in letters),
        line_height=line_height,
        padding=(padding, 1.2),
        headings_style=HEADINGS,
    ) as table:
        heading = table.row()
        for text in header:
            heading.cell(text, align="CENTER")
        for row in rows:
            table.row(row)
        if total is not None:
            table.row(total, style=BOLD)
    pdf.ln(2)


def _level_cells(by_level: dict[str, int], votes: int) -> list[str]:
    return [f"{by_level[level]} ({percent(by_level[level], votes)})" for level in LEVELS]


def _count_table(pdf: FPDF, table: CountTable, count: Count) -> None:
    """A breakdown: a name column, one column per level (count and share), the row's total."""
    header = [_(table.column), *(_(LEVEL_LABELS[level]) for level in LEVELS), _("Total")]
    rows = [
        [_row_name(table, row), *_level_cells(row["by_level"], row["votes"]), str(row["votes"])]
        for row in count[table.key]
    ]
    total = [_("Total"), *_level_cells(count["by_level"], count["votes"]), str(count["votes"])]
    _table(pdf, header, rows, (51, 30, 30, 30, 24), total=total)


def _totals_table(pdf: FPDF, count: Count) -> None:
    """The count per level, with shares of all the ballots."""
    votes = count["votes"]
    rows = [
        [
            _(LEVEL_LABELS[level]),
            str(count["by_level"][level]),
            percent(count["by_level"][level], votes),
        ]
        for level in LEVELS
    ]
    total = [_("Total"), str(votes), percent(votes, votes)]
    _table(pdf, [_("Level"), _("Ballots"), _("Share")], rows, (75, 45, 45), total=total)


def _attendees(pdf: FPDF, minutes: Minutes) -> None:
    started = minutes["started_at"]
    _paragraph(
        pdf,
        _(
            "At {time} on {date}, at {place}, the committee for opening the ballot boxes of "
            "{office} met to open the ballot box of {month}."
        ).format(
            time=_time(started),
            date=_date(started),
            place=minutes["place"],
            office=minutes["office"]["name"],
            month=_month(minutes["box"]),
        ),
    )
    pdf.ln(1)
    rows = [
        [
            str(number),
            attendee["name"],
            label(COMMITTEE_ROLE_LABELS, attendee["committee_role"]),
            _moment(attendee["confirmed_at"]),
        ]
        for number, attendee in enumerate(minutes["attendees"], start=1)
    ]
    header = [_("No."), _("Full name"), _("Committee role"), _("Confirmed at")]
    _table(pdf, header, rows, (12, 55, 58, 40), align="CLLC")
    quorum = minutes["quorum"]
    _paragraph(
        pdf,
        _(
            "{present} of the {members} members of the committee are present (quorum: {required})."
        ).format(
            present=len(minutes["attendees"]),
            members=quorum["members"],
            required=quorum["required"],
        ),
    )


def _verification(pdf: FPDF, minutes: Minutes) -> None:
    devices = minutes["devices"]
    _paragraph(
        pdf,
        _(
            "The committee verified the signed records of every device of the office "
            "(signatures and hash chain):"
        ),
    )
    pdf.ln(1)
    header = [
        _("Device"),
        _("Counter"),
        _("Records"),
        _("Record numbers"),
        _("Chain head"),
        _("Ballots"),
        _("Status"),
    ]
    rows = [
        [
            device["label"],
            device["counter"] or "—",
            str(device["records"]),
            _seq_range(device),
            (device["chain_head"] or "—")[:16],
            str(device["votes"]),
            label(STATUS_LABELS, device["status"]),
        ]
        for device in devices
    ]
    _table(pdf, header, rows, (25, 22, 17, 25, 36, 17, 23), align="LLRCCRC")
    heads = [device for device in devices if device["chain_head"]]
    if heads:
        _paragraph(pdf, _("Chain heads in full:"), "I", SMALL_SIZE + 1)
        for device in heads:
            _paragraph(pdf, f"{device['label']}: {device['chain_head']}", "", SMALL_SIZE)
        pdf.ln(1)

    labels = {device["device_id"]: device["label"] for device in devices}
    findings = [check for check in minutes["checks"] if check["severity"] != "ok"]
    if not findings:
        _paragraph(pdf, _("Every check passed."))
    for check in findings:
        severity = SEVERITY_LABELS.get(check["severity"])
        message = _(severity).format(message=check["message"]) if severity else check["message"]
        device = labels.get(check.get("device_id") or "")
        _paragraph(pdf, f"• {device}: {message}" if device else f"• {message}")
    if minutes.get("early_reason"):
        _paragraph(
            pdf,
            _("Opened before the last working day of the month, because: {reason}").format(
                reason=minutes["early_reason"]
            ),
        )
    if minutes.get("warnings_reason"):
        _paragraph(
            pdf,
            _("Opened despite the warnings or faults above, because: {reason}").format(
                reason=minutes["warnings_reason"]
            ),
        )


def _results(pdf: FPDF, minutes: Minutes) -> None:
    count = minutes["count"]
    opened = minutes["opened_at"]
    _paragraph(
        pdf,
        _("At {time} on {date} the committee opened the box and counted {votes} ballots:").format(
            time=_time(opened), date=_date(opened), votes=count["votes"]
        ),
    )
    pdf.ln(1)
    _totals_table(pdf, count)
    dossiers = minutes.get("dossiers_returned")
    if dossiers is not None:
        _paragraph(
            pdf,
            _("Dossiers returned: {dossiers}; participation rate: {rate}.").format(
                dossiers=dossiers, rate=percent(count["votes"], dossiers)
            ),
        )
    for table in TABLES:
        _subheading(pdf, _(table.title))
        _count_table(pdf, table, count)
    _phone_answers(pdf, count)


def _phone_answers(pdf: FPDF, count: Count) -> None:
    """The phone survey's detailed criteria (each answered on the three levels) and the
    citizens' comments, shown for the first time now that the box is open."""
    criteria = count.get("by_criterion") or []
    if criteria:
        _subheading(pdf, _("Phone survey: results by criterion"))
        header = [_("Criterion"), *(_(LEVEL_LABELS[level]) for level in LEVELS), _("Total")]
        rows = [
            [row["name"], *_level_cells(row["by_level"], row["votes"]), str(row["votes"])]
            for row in criteria
        ]
        _table(pdf, header, rows, (51, 30, 30, 30, 24))
    comments = count.get("comments") or []
    if comments:
        _subheading(pdf, _("Comments from the phone survey"))
        for comment in comments:
            who = comment["name"] or comment["clerk"]
            _paragraph(pdf, f"– {who}: {comment['text']}", size=TABLE_SIZE)


def _supplements(pdf: FPDF, minutes: Minutes) -> None:
    _paragraph(
        pdf,
        _(
            "Ballots of boxes opened earlier that arrived after their opening are counted "
            "separately:"
        ),
    )
    for supplement in minutes["supplements"]:
        count = supplement["count"]
        _subheading(
            pdf,
            _("Box {month}: {votes} ballots").format(
                month=_month(supplement["box"]), votes=count["votes"]
            ),
        )
        _totals_table(pdf, count)
        _count_table(pdf, CLERKS, count)


def _next_box(pdf: FPDF, minutes: Minutes) -> None:
    box = minutes["next_box"]
    _paragraph(
        pdf,
        _("The ballot box of {month} has been sealed and is receiving ballots.").format(
            month=_month(box["box"])
        ),
    )
    pdf.ln(1)
    if not box["devices"]:
        _paragraph(pdf, _("No device has reported the opening of this box yet."))
        return
    rows = [
        [device["label"], str(device["open_seq"]), _moment(device["opened_at"])]
        for device in box["devices"]
    ]
    _table(
        pdf,
        [_("Device"), _("Opening record"), _("Zero report at")],
        rows,
        (65, 40, 60),
        align="LRC",
    )


Signer = tuple[str, str]  # (title above the signature, name below it)


def _signature_row(pdf: FPDF, signers: Sequence[Signer], columns: int, space: float) -> None:
    """Side by side, each centred in its column: title, "(Signature and full name)", room to
    sign, the name."""
    _keep_space(pdf, space + 3 * LINE)
    width = pdf.epw / columns
    top = bottom = pdf.get_y()
    size = BODY_SIZE if columns <= 2 else BODY_SIZE - 1
    for column, (title, name) in enumerate(signers):
        x = pdf.l_margin + column * width
        pdf.set_xy(x, top)
        pdf.set_font(FONT, "B", size)
        pdf.multi_cell(width, LINE, title, align="C", new_x="LEFT", new_y="NEXT")
        pdf.set_font(FONT, "I", size - 1)
        pdf.multi_cell(width, LINE, _("(Signature and full name)"), align="C", new_x="LEFT")
        pdf.set_xy(x, top + space)
        pdf.set_font(FONT, "B", size)
        pdf.multi_cell(width, LINE, name, align="C", new_x="LEFT", new_y="NEXT")
        bottom = max(bottom, pdf.get_y())
    pdf.set_y(bottom + LINE)


def _signatures(pdf: FPDF, minutes: Minutes) -> None:
    """The secretary on the left and the chair on the right (Nghị định 30), then the other
    members of the committee, three to a row."""
    attendees = minutes["attendees"]
    secretary, chair = _secretary(attendees), _chair(attendees)
    _keep_space(pdf, 60)  # the closing sentence stays with the first signatures
    pdf.ln(2)
    _paragraph(pdf, _("The minutes were read to the members present, who agreed with them."))
    pdf.ln(LINE)
    main = [
        (_("Secretary").upper(), secretary["name"] if secretary else ""),
        (_("Chair").upper(), chair["name"] if chair else ""),
    ]
    _signature_row(pdf, main, 2, 36)
    others = [
        (label(COMMITTEE_ROLE_LABELS, a["committee_role"]), a["name"])
        for a in attendees
        if a is not secretary and a is not chair
    ]
    for index in range(0, len(others), 3):
        _signature_row(pdf, others[index : index + 3], 3, 30)


def minutes_pdf(minutes: Minutes, content_hash: str) -> bytes:
    """The minutes as an A4 PDF with embedded DejaVu Serif; the same minutes, the same bytes."""
    pdf = _MinutesPDF(
        _("Content check code (SHA-256): {hash}").format(hash=content_hash),
        _("Page {page}/{pages}"),
    )
    opened = datetime.fromisoformat(minutes["opened_at"])
    pdf.set_creation_date(opened)  # not "now": rendering twice must give the same bytes
    pdf.set_creator("hom-phieu")
    pdf.set_author(minutes["office"]["name"])
    pdf.set_title(f"{_('Minutes')} {_month(minutes['box'])}")
    pdf.set_lang(current_language())
    pdf.add_page()
    _header(pdf, minutes)

    sections = [
        (_("Attendees"), _attendees),
        (_("Verification of the devices and their records"), _verification),
        (_("Results of the count"), _results),
    ]
    if minutes["supplements"]:
        sections.append((_("Late ballots of earlier boxes"), _supplements))
    sections.append((_("The next ballot box"), _next_box))
    for number, (title, render) in enumerate(sections, start=1):
        _heading(pdf, f"{number}. {title}")
        render(pdf, minutes)
    _signatures(pdf, minutes)
    return bytes(pdf.output())


# --- XLSX -------------------------------------------------------------------------------------

SHEET_FORBIDDEN = str.maketrans({character: "-" for character in "[]:*?/\\"})
PERCENT_FORMAT = "0.00%"
DATE_TIME_FORMAT = "dd/mm/yyyy hh:mm"


def _sheet_title(text: str) -> str:
    """Excel forbids some characters in sheet names and allows at most 31 of them."""
    return text.translate(SHEET_FORBIDDEN)[:31]


def _naive_local(iso: str | None) -> datetime | None:
    """Excel has no time zones: Vietnam time without its offset."""
    return None if iso is None else _local(iso).replace(tzinfo=None)


def _append(sheet: Worksheet, values: Sequence[Any], *, bold: bool = False) -> None:
    """A row; its floats are shares (shown as percentages), its datetimes Vietnam times.
    Texts stay texts: a comment or a name that starts with "=" is never a formula."""
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
        if isinstance(cell.value, float):
            cell.number_format = PERCENT_FORMAT
        elif isinstance(cell.value, datetime):
            cell.number_format = DATE_TIME_FORMAT
        if bold:
            cell.font = Font(bold=True)


def _widths(sheet: Worksheet) -> None:
    """Column widths from the longest text of each column (a hash stays readable)."""
    longest: dict[int, int] = {}
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            length = 16 if isinstance(cell.value, datetime) else len(str(cell.value))
            longest[cell.column] = max(longest.get(cell.column, 0), length)
    for column, length in longest.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(max(length + 2, 8), 70)


def _level_header() -> list[str]:
    header: list[str] = []
    for level in LEVELS:
        label = _(LEVEL_LABELS[level])
        header += [label, f"{label} (%)"]
    return header


def _level_values(by_level: dict[str, int], votes: int) -> list[int | float]:
    values: list[int | float] = []
    for level in LEVELS:
        values += [by_level[level], _ratio(by_level[level], votes)]
    return values


def _totals_rows(sheet: Worksheet, count: Count) -> None:
    _append(sheet, [_("Level"), _("Ballots"), _("Share")], bold=True)
    for level in LEVELS:
        part = count["by_level"][level]
        _append(sheet, [_(LEVEL_LABELS[level]), part, _ratio(part, count["votes"])])
    _append(sheet, [_("Total"), count["votes"], _ratio(count["votes"], count["votes"])], bold=True)


def _count_rows(sheet: Worksheet, table: CountTable, count: Count) -> None:
    """A breakdown: code, name (and a clerk's title), then count and share per level, total."""
    clerks = table.key == "by_clerk"
    names = [_("Code"), _("Full name"), _("Title")] if clerks else [_(table.column)]
    _append(sheet, [*names, *_level_header(), _("Total")], bold=True)
    for row in count[table.key]:
        if clerks:
            names = [row["key"], row["name"], row.get("title") or ""]
        else:
            names = [_row_name(table, row)]
        _append(sheet, [*names, *_level_values(row["by_level"], row["votes"]), row["votes"]])
    padding = [""] * (2 if clerks else 0)
    totals = _level_values(count["by_level"], count["votes"])
    _append(sheet, [_("Total"), *padding, *totals, count["votes"]], bold=True)


def _summary_sheet(sheet: Worksheet, minutes: Minutes, content_hash: str) -> None:
    count = minutes["count"]
    facts = [
        (_("Office"), minutes["office"]["name"]),
        (_("Unit"), minutes["office"]["unit"]),
        (_("Ballot box"), _month(minutes["box"])),
        (_("Started at"), _naive_local(minutes["started_at"])),
        (_("Opened at"), _naive_local(minutes["opened_at"])),
        (_("Place"), minutes["place"]),
        (_("Ballots"), count["votes"]),
    ]
    dossiers = minutes.get("dossiers_returned")
    if dossiers is not None:
        facts += [
            (_("Dossiers returned"), dossiers),
            (_("Participation rate"), _ratio(count["votes"], dossiers)),
        ]
    facts.append((_("Content check code (SHA-256)"), content_hash))
    for key, value in facts:
        _append(sheet, [key, value])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    sheet.append([])
    _totals_rows(sheet, count)
    sheet.append([])
    _append(sheet, [_("Full name"), _("Committee role"), _("Confirmed at")], bold=True)
    for attendee in minutes["attendees"]:
        role = label(COMMITTEE_ROLE_LABELS, attendee["committee_role"])
        _append(sheet, [attendee["name"], role, _naive_local(attendee["confirmed_at"])])


def _checks_sheet(sheet: Worksheet, minutes: Minutes) -> None:
    # The chain head and the checks' messages share the wide column D.
    header = [
        _("Device"),
        _("Counter"),
        _("Status"),
        _("Chain head"),
        _("Records"),
        _("First record"),
        _("Last record"),
        _("Ballots"),
        _("Not yet synced"),
        _("Not counted"),
        _("Problem"),
        _("Last seen"),
    ]
    _append(sheet, header, bold=True)
    for device in minutes["devices"]:
        problem = device.get("problem")
        _append(
            sheet,
            [
                device["label"],
                device["counter"] or "",
                label(STATUS_LABELS, device["status"]),
                device["chain_head"] or "",
                device["records"],
                device["first_seq"],
                device["last_seq"],
                device["votes"],
                device["unsynced_votes"],
                device["uncounted"],
                problem["message"] if problem else "",
                _naive_local(device.get("last_seen_at")),
            ],
        )
    sheet.append([])
    _append(sheet, [_("Device"), _("Check"), _("Status"), _("Message")], bold=True)
    labels = {device["device_id"]: device["label"] for device in minutes["devices"]}
    for check in minutes["checks"]:
        device = labels.get(check.get("device_id") or "", check.get("device_id") or "")
        status = label(STATUS_LABELS, check["severity"])
        _append(sheet, [device, check["code"], status, check["message"]])
    sheet.freeze_panes = "A2"


def _phone_sheets(workbook: Workbook, count: Count) -> None:
    """The phone survey's criteria (count and share per level) and its comments."""
    criteria = count.get("by_criterion") or []
    if criteria:
        sheet = workbook.create_sheet(_sheet_title(_("By criterion")))
        _append(sheet, [_("Criterion"), *_level_header(), _("Total")], bold=True)
        for row in criteria:
            _append(sheet, [row["name"], *_level_values(row["by_level"], row["votes"]),
                            row["votes"]])  # fmt: skip
    comments = count.get("comments") or []
    if comments:
        sheet = workbook.create_sheet(_sheet_title(_("Comments")))
        _append(sheet, [_("Code"), _("Full name"), _("Comment")], bold=True)
        for comment in comments:
            _append(sheet, [comment["clerk"], comment["name"], comment["text"]])


def minutes_xlsx(minutes: Minutes, content_hash: str) -> bytes:
    """The minutes as a workbook: a summary, one sheet per breakdown, the checks, the late
    ballots; counts are numbers and shares are numbers formatted as percentages."""
    workbook = Workbook()
    summary = workbook.active
    summary.title = _sheet_title(_("Summary"))
    _summary_sheet(summary, minutes, content_hash)
    for table in TABLES:
        sheet = workbook.create_sheet(_sheet_title(_(table.sheet)))
        _count_rows(sheet, table, minutes["count"])
        sheet.freeze_panes = "A2"
    _phone_sheets(workbook, minutes["count"])
    _checks_sheet(workbook.create_sheet(_sheet_title(_("Checks"))), minutes)
    for supplement in minutes["supplements"]:
        title = _("Late ballots {box}").format(box=supplement["box"])
        sheet = workbook.create_sheet(_sheet_title(title))
        _totals_rows(sheet, supplement["count"])
        sheet.append([])
        _count_rows(sheet, CLERKS, supplement["count"])
    for sheet in workbook.worksheets:
        _widths(sheet)
    opened = _naive_local(minutes["opened_at"])
    workbook.properties.created = opened
    workbook.properties.modified = opened
    workbook.properties.creator = "hom-phieu"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- CSV --------------------------------------------------------------------------------------

CSV_HEADER = ("section", "key", "name", *LEVELS, "votes")


def _csv_rows(prefix: str, count: Count) -> Iterable[list[str | int]]:
    for table in TABLES:
        for row in count[table.key]:
            levels = [row["by_level"][level] for level in LEVELS]
            yield [prefix + table.section, row["key"], row["name"], *levels, row["votes"]]
    for row in count.get("by_criterion") or []:
        levels = [row["by_level"][level] for level in LEVELS]
        yield [prefix + "criterion", row["key"], row["name"], *levels, row["votes"]]
    levels = [count["by_level"][level] for level in LEVELS]
    yield [prefix + "total", "", "", *levels, count["votes"]]


def minutes_csv(minutes: Minutes) -> str:
    """The counts as one CSV for spreadsheets: machine codes in the header and the sections,
    names as stored. Starts with a byte-order mark so that Excel reads the Vietnamese."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(_csv_rows("", minutes["count"]))
    for supplement in minutes["supplements"]:
        writer.writerows(_csv_rows(f"supplement {supplement['box']} ", supplement["count"]))
    return "\ufeff" + buffer.getvalue()
