"""The minutes as a PDF in the Vietnamese administrative layout (Nghị định 30/2020/NĐ-CP):
the issuing body and the national header side by side, the place-and-date line, the title,
numbered sections, the signature blocks, and on every page the content hash that lets
anyone holding ``minutes.json`` check a printed copy.

A pure function of the :class:`web.minutes.Minutes` (no database, no Flask app); the same
minutes give the same bytes. Labels go through gettext in the caller's language; names,
places, messages and the national header are printed as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fpdf import FPDF

from hom_phieu.formatting import percent
from hom_phieu.i18n import _, current_language
from web.labels import COMMITTEE_ROLE_LABELS, LEVEL_LABELS, STATUS_LABELS, label, place_and_date
from web.minutes import Count, LevelCounts, Minutes, Severity
from web.minutes_changes import CHANGE_COLUMNS, CHANGES_INTRO, CHANGES_TITLE, change_cells
from web.minutes_pdf_layout import (
    BODY_SIZE,
    FONT,
    LINE,
    SMALL_SIZE,
    TABLE_SIZE,
    DocumentPDF,
    heading,
    keep_space,
    national_header,
    paragraph,
    rule,
    subheading,
    table,
)
from web.minutes_seal import SEAL_TITLE, seal_lines
from web.minutes_text import (
    CLERKS,
    LEVELS,
    SEVERITY_LABELS,
    TABLES,
    CountTable,
    chair,
    clock_time,
    day,
    month,
    name_of,
    row_name,
    secretary,
    seq_range,
    unverified_note,
    when,
)

# The national header is always Vietnamese, whatever the language of the labels.


def _header(pdf: FPDF, minutes: Minutes) -> None:
    """The issuing body on the left, the national header on the right, each with its rule."""
    office = minutes.office
    national_header(pdf, [(office.unit.upper(), "B"), (office.name, "")], 70.0)

    pdf.set_font(FONT, "I", BODY_SIZE)
    pdf.cell(0, LINE, place_and_date(minutes.place, minutes.opened_at.isoformat()), align="R")
    pdf.ln(LINE * 2)

    pdf.set_font(FONT, "B", 14)
    pdf.cell(0, 7, _("Minutes").upper(), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 13)
    subtitle = _("Opening of the satisfaction ballot box of {month}").format(
        month=month(minutes.box)
    )
    pdf.multi_cell(0, 6.5, subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
    rule(pdf, pdf.l_margin + pdf.epw / 2, 30)
    pdf.ln(LINE)


def _level_cells(by_level: LevelCounts, votes: int) -> list[str]:
    return [f"{by_level[level]} ({percent(by_level[level], votes)})" for level in LEVELS]


def _count_table(pdf: FPDF, breakdown: CountTable, count: Count) -> None:
    """A breakdown: a name column, one column per level (count and share), the row's total."""
    header = [_(breakdown.column), *(_(LEVEL_LABELS[level]) for level in LEVELS), _("Total")]
    rows = [
        [row_name(breakdown, row), *_level_cells(row.by_level, row.votes), str(row.votes)]
        for row in breakdown.rows(count)
    ]
    total = [_("Total"), *_level_cells(count.by_level, count.votes), str(count.votes)]
    table(pdf, header, rows, (51, 30, 30, 30, 24), total=total)


def _totals_table(pdf: FPDF, count: Count) -> None:
    """The count per level, with shares of all the ballots."""
    votes = count.votes
    rows = [
        [_(LEVEL_LABELS[level]), str(count.by_level[level]), percent(count.by_level[level], votes)]
        for level in LEVELS
    ]
    total = [_("Total"), str(votes), percent(votes, votes)]
    table(pdf, [_("Level"), _("Ballots"), _("Share")], rows, (75, 45, 45), total=total)


def _attendees(pdf: FPDF, minutes: Minutes) -> None:
    started = minutes.started_at
    paragraph(
        pdf,
        _(
            "At {time} on {date}, at {place}, the committee for opening the ballot boxes of "
            "{office} met to open the ballot box of {month}."
        ).format(
            time=clock_time(started),
            date=day(started),
            place=minutes.place,
            office=minutes.office.name,
            month=month(minutes.box),
        ),
    )
    pdf.ln(1)
    rows = [
        [
            str(number),
            attendee.name,
            label(COMMITTEE_ROLE_LABELS, attendee.committee_role),
            when(attendee.confirmed_at),
        ]
        for number, attendee in enumerate(minutes.attendees, start=1)
    ]
    header = [_("No."), _("Full name"), _("Committee role"), _("Confirmed at")]
    table(pdf, header, rows, (12, 55, 58, 40), align="CLLC")
    quorum = minutes.quorum
    paragraph(
        pdf,
        _(
            "{present} of the {members} members of the committee are present (quorum: {required})."
        ).format(
            present=len(minutes.attendees),
            members=quorum.members,
            required=quorum.required,
        ),
    )


def _verification(pdf: FPDF, minutes: Minutes) -> None:
    devices = minutes.devices
    paragraph(
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
            device.label,
            device.counter or "—",
            str(device.records),
            seq_range(device),
            (device.chain_head or "—")[:16],
            str(device.votes),
            label(STATUS_LABELS, device.status),
        ]
        for device in devices
    ]
    table(pdf, header, rows, (25, 22, 17, 25, 36, 17, 23), align="LLRCCRC")
    heads = [device for device in devices if device.chain_head]
    if heads:
        paragraph(pdf, _("Chain heads in full:"), "I", SMALL_SIZE + 1)
        for device in heads:
            paragraph(pdf, f"{device.label}: {device.chain_head}", "", SMALL_SIZE)
        pdf.ln(1)

    labels = minutes.device_labels()
    findings = [check for check in minutes.checks if check.severity != Severity.OK]
    if not findings:
        paragraph(pdf, _("Every check passed."))
    for check in findings:
        severity = SEVERITY_LABELS.get(check.severity)
        message = _(severity).format(message=check.message) if severity else check.message
        device_label = labels.get(check.device_id or "")
        paragraph(pdf, f"• {device_label}: {message}" if device_label else f"• {message}")
    if minutes.early_reason:
        paragraph(
            pdf,
            _("Opened before the last working day of the month, because: {reason}").format(
                reason=minutes.early_reason
            ),
        )
    if minutes.warnings_reason:
        paragraph(
            pdf,
            _("Opened despite the warnings or faults above, because: {reason}").format(
                reason=minutes.warnings_reason
            ),
        )


def _results(pdf: FPDF, minutes: Minutes) -> None:
    count = minutes.count
    opened = minutes.opened_at
    paragraph(
        pdf,
        _("At {time} on {date} the committee opened the box and counted {votes} ballots:").format(
            time=clock_time(opened), date=day(opened), votes=count.votes
        ),
    )
    pdf.ln(1)
    _totals_table(pdf, count)
    dossiers = minutes.dossiers_returned
    if dossiers is not None:
        paragraph(
            pdf,
            _("Dossiers returned: {dossiers}; participation rate: {rate}.").format(
                dossiers=dossiers, rate=percent(count.votes, dossiers)
            ),
        )
    for breakdown in TABLES:
        subheading(pdf, _(breakdown.title))
        _count_table(pdf, breakdown, count)
    _phone_answers(pdf, count)
    _unverified(pdf, count.unverified)


def _unverified(pdf: FPDF, count: Count | None) -> None:
    """Phone answers without a verified ticket: shown apart, never in the result above."""
    if count is None:
        return
    subheading(pdf, _("Unverified opinions from the phone survey (not counted)"))
    paragraph(pdf, unverified_note(count.votes))
    _count_table(pdf, CLERKS, count)
    _phone_answers(pdf, count)


def _phone_answers(pdf: FPDF, count: Count) -> None:
    """The phone survey's detailed criteria (each answered on the three levels) and the
    citizens' comments, shown for the first time now that the box is open."""
    if count.by_criterion:
        subheading(pdf, _("Phone survey: results by criterion"))
        header = [_("Criterion"), *(_(LEVEL_LABELS[level]) for level in LEVELS), _("Total")]
        rows = [
            [row.name, *_level_cells(row.by_level, row.votes), str(row.votes)]
            for row in count.by_criterion
        ]
        table(pdf, header, rows, (51, 30, 30, 30, 24))
    if count.comments:
        subheading(pdf, _("Comments from the phone survey"))
        for comment in count.comments:
            who = comment.name or comment.clerk
            paragraph(pdf, f"– {who}: {comment.text}", size=TABLE_SIZE)


def _supplements(pdf: FPDF, minutes: Minutes) -> None:
    paragraph(
        pdf,
        _(
            "Ballots of boxes opened earlier that arrived after their opening are counted "
            "separately:"
        ),
    )
    for supplement in minutes.supplements:
        count = supplement.count
        subheading(
            pdf,
            _("Box {month}: {votes} ballots").format(
                month=month(supplement.box), votes=count.votes
            ),
        )
        _totals_table(pdf, count)
        _count_table(pdf, CLERKS, count)
        _unverified(pdf, count.unverified)


def _next_box(pdf: FPDF, minutes: Minutes) -> None:
    box = minutes.next_box
    paragraph(
        pdf,
        _("The ballot box of {month} has been sealed and is receiving ballots.").format(
            month=month(box.box)
        ),
    )
    pdf.ln(1)
    if not box.devices:
        paragraph(pdf, _("No device has reported the opening of this box yet."))
        return
    rows = [[device.label, str(device.open_seq), when(device.opened_at)] for device in box.devices]
    table(
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
    keep_space(pdf, space + 3 * LINE)
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
    attendees = minutes.attendees
    the_secretary, the_chair = secretary(attendees), chair(attendees)
    keep_space(pdf, 60)  # the closing sentence stays with the first signatures
    pdf.ln(2)
    paragraph(pdf, _("The minutes were read to the members present, who agreed with them."))
    pdf.ln(LINE)
    main = [
        (_("Secretary").upper(), name_of(the_secretary)),
        (_("Chair").upper(), name_of(the_chair)),
    ]
    _signature_row(pdf, main, 2, 36)
    others = [
        (label(COMMITTEE_ROLE_LABELS, a.committee_role), a.name)
        for a in attendees
        if a is not the_secretary and a is not the_chair
    ]
    for index in range(0, len(others), 3):
        _signature_row(pdf, others[index : index + 3], 3, 30)


def _changes(pdf: FPDF, minutes: Minutes) -> None:
    paragraph(pdf, _(CHANGES_INTRO))
    pdf.ln(1)
    rows = [change_cells(change) for change in minutes.changes or ()]
    table(pdf, [_(c) for c in CHANGE_COLUMNS], rows, (24, 28, 37, 38, 38), align="L")


def _seal(pdf: FPDF, minutes: Minutes) -> None:
    for line in seal_lines(minutes.seal) if minutes.seal is not None else ():
        paragraph(pdf, line)


Section = Callable[[FPDF, Minutes], None]


def minutes_pdf(minutes: Minutes, content_hash: str) -> bytes:
    """The minutes as an A4 PDF with embedded DejaVu Serif; the same minutes, the same bytes."""
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
    _header(pdf, minutes)

    sections: list[tuple[str, Section]] = [
        (_("Attendees"), _attendees),
    ]
    if minutes.seal is not None:  # the box key, who typed a share, the escrow (web.minutes_seal)
        sections.append((_(SEAL_TITLE), _seal))
    sections += [
        (_("Verification of the devices and their records"), _verification),
    ]
    if minutes.changes:
        sections.append((_(CHANGES_TITLE), _changes))
    sections.append((_("Results of the count"), _results))
    if minutes.supplements:
        sections.append((_("Late ballots of earlier boxes"), _supplements))
    sections.append((_("The next ballot box"), _next_box))
    for number, (title, render) in enumerate(sections, start=1):
        heading(pdf, f"{number}. {title}")
        render(pdf, minutes)
    _signatures(pdf, minutes)
    return bytes(pdf.output())
