"""The minutes as an XLSX workbook (openpyxl): a summary, one sheet per breakdown, the phone
survey's criteria and comments, the checks, the late ballots.

Counts are numbers and shares are numbers formatted as percentages; times are Vietnam
times; every text is forced to stay text, so a name or a comment that starts with "=" is
never a formula. A pure function of the :class:`web.minutes.Minutes`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from hom_phieu.i18n import _
from web.labels import COMMITTEE_ROLE_LABELS, LEVEL_LABELS, STATUS_LABELS, label
from web.minutes import ClerkRow, Count, LevelCounts, Minutes
from web.minutes_changes import CHANGE_COLUMNS, change_cells
from web.minutes_seal import SEAL_TITLE, seal_lines
from web.minutes_text import (
    CHECK_LABELS,
    CLERKS,
    LEVELS,
    TABLES,
    CountTable,
    local,
    month,
    ratio,
    row_name,
    unverified_note,
)

SHEET_FORBIDDEN = str.maketrans({character: "-" for character in "[]:*?/\\"})
PERCENT_FORMAT = "0.00%"
DATE_TIME_FORMAT = "dd/mm/yyyy hh:mm"

Cell = str | int | float | datetime | None


def _sheet_title(text: str) -> str:
    """Excel forbids some characters in sheet names and allows at most 31 of them."""
    return text.translate(SHEET_FORBIDDEN)[:31]


def _naive_local(moment: datetime | None) -> datetime | None:
    """Excel has no time zones: Vietnam time without its offset."""
    return None if moment is None else local(moment).replace(tzinfo=None)


def _append(sheet: Worksheet, values: Sequence[Cell], *, bold: bool = False) -> None:
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


def _level_header() -> list[Cell]:
    header: list[Cell] = []
    for level in LEVELS:
        name = _(LEVEL_LABELS[level])
        header += [name, f"{name} (%)"]
    return header


def _level_values(by_level: LevelCounts, votes: int) -> list[Cell]:
    values: list[Cell] = []
    for level in LEVELS:
        values += [by_level[level], ratio(by_level[level], votes)]
    return values


def _totals_rows(sheet: Worksheet, count: Count) -> None:
    _append(sheet, [_("Level"), _("Ballots"), _("Share")], bold=True)
    for level in LEVELS:
        part = count.by_level[level]
        _append(sheet, [_(LEVEL_LABELS[level]), part, ratio(part, count.votes)])
    _append(sheet, [_("Total"), count.votes, ratio(count.votes, count.votes)], bold=True)


def _count_rows(sheet: Worksheet, breakdown: CountTable, count: Count) -> None:
    """A breakdown: code, name (and a clerk's title), then count and share per level, total."""
    clerks = breakdown is CLERKS
    names: list[Cell] = [_("Code"), _("Full name"), _("Title")] if clerks else [_(breakdown.column)]
    _append(sheet, [*names, *_level_header(), _("Total")], bold=True)
    for row in breakdown.rows(count):
        if isinstance(row, ClerkRow):
            names = [row.key, row.name, row.title or ""]
        else:
            names = [row_name(breakdown, row)]
        _append(sheet, [*names, *_level_values(row.by_level, row.votes), row.votes])
    padding: list[Cell] = [""] * (2 if clerks else 0)
    totals = _level_values(count.by_level, count.votes)
    _append(sheet, [_("Total"), *padding, *totals, count.votes], bold=True)


def _summary_sheet(sheet: Worksheet, minutes: Minutes, content_hash: str) -> None:
    count = minutes.count
    facts: list[tuple[str, Cell]] = [
        (_("Office"), minutes.office.name),
        (_("Unit"), minutes.office.unit),
        (_("Ballot box"), month(minutes.box)),
        (_("Started at"), _naive_local(minutes.started_at)),
        (_("Opened at"), _naive_local(minutes.opened_at)),
        (_("Place"), minutes.place),
        (_("Ballots"), count.votes),
    ]
    dossiers = minutes.dossiers_returned
    if dossiers is not None:
        facts += [
            (_("Dossiers returned"), dossiers),
            (_("Participation rate"), ratio(count.votes, dossiers)),
        ]
    facts.append((_("Content check code (SHA-256)"), content_hash))
    for key, value in facts:
        _append(sheet, [key, value])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    sheet.append([])
    _totals_rows(sheet, count)
    sheet.append([])
    _append(sheet, [_("Full name"), _("Committee role"), _("Confirmed at")], bold=True)
    for attendee in minutes.attendees:
        role = label(COMMITTEE_ROLE_LABELS, attendee.committee_role)
        _append(sheet, [attendee.name, role, _naive_local(attendee.confirmed_at)])


def _checks_sheet(sheet: Worksheet, minutes: Minutes) -> None:
    # The chain head and the checks' messages share the wide column D.
    header: list[Cell] = [
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
    for device in minutes.devices:
        _append(
            sheet,
            [
                device.label,
                device.counter or "",
                label(STATUS_LABELS, device.status),
                device.chain_head or "",
                device.records,
                device.first_seq,
                device.last_seq,
                device.votes,
                device.unsynced_votes,
                device.uncounted,
                device.problem.message if device.problem else "",
                _naive_local(device.last_seen_at),
            ],
        )
    sheet.append([])
    _append(sheet, [_("Device"), _("Check"), _("Status"), _("Message")], bold=True)
    labels = minutes.device_labels()
    for check in minutes.checks:
        device_label = labels.get(check.device_id or "", check.device_id or "")
        status = label(STATUS_LABELS, check.severity)
        _append(sheet, [device_label, label(CHECK_LABELS, check.code), status, check.message])
    sheet.freeze_panes = "A2"


def _phone_sheets(workbook: Workbook, count: Count) -> None:
    """The phone survey's criteria (count and share per level) and its comments."""
    if count.by_criterion:
        sheet = workbook.create_sheet(_sheet_title(_("By criterion")))
        _append(sheet, [_("Criterion"), *_level_header(), _("Total")], bold=True)
        for row in count.by_criterion:
            _append(sheet, [row.name, *_level_values(row.by_level, row.votes), row.votes])
    if count.comments:
        sheet = workbook.create_sheet(_sheet_title(_("Comments")))
        _append(sheet, [_("Code"), _("Full name"), _("Comment")], bold=True)
        for comment in count.comments:
            _append(sheet, [comment.clerk, comment.name, comment.text])


def _unverified_sheet(workbook: Workbook, count: Count | None) -> None:
    """Phone answers without a verified ticket, per clerk: apart from the official sheets."""
    if count is None:
        return
    sheet = workbook.create_sheet(_sheet_title(_("Unverified opinions")))
    _append(sheet, [unverified_note(count.votes)])
    sheet.append([])
    _count_rows(sheet, CLERKS, count)


def minutes_xlsx(minutes: Minutes, content_hash: str) -> bytes:
    """The minutes as a workbook: a summary, one sheet per breakdown, the checks, the late
    ballots; counts are numbers and shares are numbers formatted as percentages."""
    workbook = Workbook()
    summary = workbook.active
    summary.title = _sheet_title(_("Summary"))
    _summary_sheet(summary, minutes, content_hash)
    for breakdown in TABLES:
        sheet = workbook.create_sheet(_sheet_title(_(breakdown.sheet)))
        _count_rows(sheet, breakdown, minutes.count)
        sheet.freeze_panes = "A2"
    _phone_sheets(workbook, minutes.count)
    _unverified_sheet(workbook, minutes.count.unverified)
    _checks_sheet(workbook.create_sheet(_sheet_title(_("Checks"))), minutes)
    if minutes.seal is not None:  # the box key, who typed a share, the escrow
        sheet = workbook.create_sheet(_sheet_title(_(SEAL_TITLE)))
        for line in seal_lines(minutes.seal):
            _append(sheet, [line])
    if minutes.changes:  # the changes to the settings during the month (web.month_changes)
        sheet = workbook.create_sheet(_sheet_title(_("Changes")))
        _append(sheet, [_(column) for column in CHANGE_COLUMNS], bold=True)
        for change in minutes.changes:
            _append(sheet, [_naive_local(change.at), *change_cells(change)[1:]])
    for supplement in minutes.supplements:
        title = _("Late ballots {box}").format(box=supplement.box)
        sheet = workbook.create_sheet(_sheet_title(title))
        _totals_rows(sheet, supplement.count)
        sheet.append([])
        _count_rows(sheet, CLERKS, supplement.count)
    for sheet in workbook.worksheets:
        _widths(sheet)
    opened = _naive_local(minutes.opened_at)
    workbook.properties.created = opened
    workbook.properties.modified = opened
    workbook.properties.creator = "hom-phieu"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
