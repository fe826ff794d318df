"""The numbered sections of the minutes as blocks (paragraphs, sub-headings, tables), every
text translated in the current language: who attended, how the box was unsealed, the
verification of the devices, the changes of the month, the count, the late ballots of earlier
boxes and the next box.

Read by :mod:`web.minutes_document`, which adds the header, the closing lines and the
signatures; the PDF and the printable page show these same blocks. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from hom_phieu.formatting import percent
from hom_phieu.i18n import _
from web.labels import COMMITTEE_ROLE_LABELS, LEVEL_LABELS, STATUS_LABELS, label
from web.minutes import Count, LevelCounts, Minutes, Severity
from web.minutes_changes import CHANGE_COLUMNS, CHANGES_INTRO, CHANGES_TITLE, change_cells
from web.minutes_seal import SEAL_TITLE, seal_lines
from web.minutes_text import (
    CLERKS,
    LEVELS,
    SEVERITY_LABELS,
    TABLES,
    CountTable,
    clock_time,
    day,
    month,
    next_box_lines,
    row_name,
    seq_range,
    unverified_note,
    when,
)


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str
    style: str = ""  # "" or "I" (italic)
    small: bool = False
    kind: ClassVar[str] = "paragraph"


@dataclass(frozen=True, slots=True)
class Subheading:
    text: str
    kind: ClassVar[str] = "subheading"


@dataclass(frozen=True, slots=True)
class Table:
    """A bordered table; ``widths`` (mm) and ``align`` (a letter per column, L, C or R, the
    last standing for the rest) are the PDF's; the page lets the browser size it."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    widths: tuple[float, ...]
    align: str = "LR"
    total: tuple[str, ...] | None = None
    kind: ClassVar[str] = "table"


Block = Paragraph | Subheading | Table


@dataclass(frozen=True, slots=True)
class Section:
    title: str  # with its number: "1. Thành phần"
    blocks: tuple[Block, ...]


Blocks = list[Block]


def _level_cells(by_level: LevelCounts, votes: int) -> list[str]:
    return [f"{by_level[level]} ({percent(by_level[level], votes)})" for level in LEVELS]


def _count_table(breakdown: CountTable, count: Count) -> Table:
    """A breakdown: a name column, one column per level (count and share), the row's total."""
    header = (_(breakdown.column), *(_(LEVEL_LABELS[level]) for level in LEVELS), _("Total"))
    rows = tuple(
        (row_name(breakdown, row), *_level_cells(row.by_level, row.votes), str(row.votes))
        for row in breakdown.rows(count)
    )
    total = (_("Total"), *_level_cells(count.by_level, count.votes), str(count.votes))
    return Table(header, rows, (51, 30, 30, 30, 24), total=total)


def _totals_table(count: Count) -> Table:
    """The count per level, with shares of all the ballots."""
    votes = count.votes
    rows = tuple(
        (_(LEVEL_LABELS[level]), str(count.by_level[level]), percent(count.by_level[level], votes))
        for level in LEVELS
    )
    total = (_("Total"), str(votes), percent(votes, votes))
    return Table((_("Level"), _("Ballots"), _("Share")), rows, (75, 45, 45), total=total)


def _attendees(minutes: Minutes) -> Blocks:
    started = minutes.started_at
    opening = _(
        "At {time} on {date}, at {place}, the committee for opening the ballot boxes of "
        "{office} met to open the ballot box of {month}."
    ).format(
        time=clock_time(started),
        date=day(started),
        place=minutes.place,
        office=minutes.office.name,
        month=month(minutes.box),
    )
    rows = tuple(
        (
            str(number),
            attendee.name,
            label(COMMITTEE_ROLE_LABELS, attendee.committee_role),
            when(attendee.confirmed_at),
        )
        for number, attendee in enumerate(minutes.attendees, start=1)
    )
    header = (_("No."), _("Full name"), _("Committee role"), _("Confirmed at"))
    quorum = minutes.quorum
    present = _(
        "{present} of the {members} members of the committee are present (quorum: {required})."
    ).format(present=len(minutes.attendees), members=quorum.members, required=quorum.required)
    return [
        Paragraph(opening),
        Table(header, rows, (12, 55, 58, 40), align="CLLC"),
        Paragraph(present),
    ]


def _seal(minutes: Minutes) -> Blocks:
    return [Paragraph(line) for line in (seal_lines(minutes.seal) if minutes.seal else ())]


def _verification(minutes: Minutes) -> Blocks:
    devices = minutes.devices
    blocks: Blocks = [
        Paragraph(
            _(
                "The committee verified the signed records of every device of the office "
                "(signatures and hash chain):"
            )
        )
    ]
    header = (
        _("Device"),
        _("Counter"),
        _("Records"),
        _("Record numbers"),
        _("Chain head"),
        _("Ballots"),
        _("Status"),
    )
    rows = tuple(
        (
            device.label,
            device.counter or "—",
            str(device.records),
            seq_range(device),
            (device.chain_head or "—")[:16],
            str(device.votes),
            label(STATUS_LABELS, device.status),
        )
        for device in devices
    )
    blocks.append(Table(header, rows, (25, 22, 17, 25, 36, 17, 23), align="LLRCCRC"))
    heads = [device for device in devices if device.chain_head]
    if heads:
        blocks.append(Paragraph(_("Chain heads in full:"), "I", small=True))
        blocks += [Paragraph(f"{d.label}: {d.chain_head}", small=True) for d in heads]

    labels = minutes.device_labels()
    findings = [check for check in minutes.checks if check.severity != Severity.OK]
    if not findings:
        blocks.append(Paragraph(_("Every check passed.")))
    for check in findings:
        severity = SEVERITY_LABELS.get(check.severity)
        message = _(severity).format(message=check.message) if severity else check.message
        device_label = labels.get(check.device_id or "")
        blocks.append(Paragraph(f"• {device_label}: {message}" if device_label else f"• {message}"))
    if minutes.early_reason:
        text = _("Opened before the last working day of the month, because: {reason}")
        blocks.append(Paragraph(text.format(reason=minutes.early_reason)))
    if minutes.warnings_reason:
        text = _("Opened despite the warnings or faults above, because: {reason}")
        blocks.append(Paragraph(text.format(reason=minutes.warnings_reason)))
    return blocks


def _results(minutes: Minutes) -> Blocks:
    count = minutes.count
    opened = minutes.opened_at
    blocks: Blocks = [
        Paragraph(
            _(
                "At {time} on {date} the committee opened the box and counted {votes} ballots:"
            ).format(time=clock_time(opened), date=day(opened), votes=count.votes)
        ),
        _totals_table(count),
    ]
    dossiers = minutes.dossiers_returned
    if dossiers is not None:
        blocks.append(
            Paragraph(
                _("Dossiers returned: {dossiers}; participation rate: {rate}.").format(
                    dossiers=dossiers, rate=percent(count.votes, dossiers)
                )
            )
        )
    for breakdown in TABLES:
        blocks += [Subheading(_(breakdown.title)), _count_table(breakdown, count)]
    return blocks + _phone_answers(count) + _unverified(count.unverified)


def _unverified(count: Count | None) -> Blocks:
    """Phone answers without a verified ticket: shown apart, never in the result above."""
    if count is None:
        return []
    return [
        Subheading(_("Unverified opinions from the phone survey (not counted)")),
        Paragraph(unverified_note(count.votes)),
        _count_table(CLERKS, count),
        *_phone_answers(count),
    ]


def _phone_answers(count: Count) -> Blocks:
    """The phone survey's detailed criteria (each answered on the three levels) and the
    citizens' comments, shown for the first time now that the box is open."""
    blocks: Blocks = []
    if count.by_criterion:
        header = (_("Criterion"), *(_(LEVEL_LABELS[level]) for level in LEVELS), _("Total"))
        rows = tuple(
            (row.name, *_level_cells(row.by_level, row.votes), str(row.votes))
            for row in count.by_criterion
        )
        blocks += [
            Subheading(_("Phone survey: results by criterion")),
            Table(header, rows, (51, 30, 30, 30, 24)),
        ]
    if count.comments:
        blocks.append(Subheading(_("Comments from the phone survey")))
        blocks += [
            Paragraph(f"– {c.name or c.clerk}: {c.text}", small=True) for c in count.comments
        ]
    return blocks


def _supplements(minutes: Minutes) -> Blocks:
    blocks: Blocks = [
        Paragraph(
            _(
                "Ballots of boxes opened earlier that arrived after their opening are counted "
                "separately:"
            )
        )
    ]
    for supplement in minutes.supplements:
        count = supplement.count
        title = _("Box {month}: {votes} ballots").format(
            month=month(supplement.box), votes=count.votes
        )
        blocks += [Subheading(title), _totals_table(count), _count_table(CLERKS, count)]
        blocks += _unverified(count.unverified)
    return blocks


def _next_box(minutes: Minutes) -> Blocks:
    box = minutes.next_box
    # (on the due day, the cut-off and when the next box opens: web.minutes_text)
    blocks: Blocks = [Paragraph(line) for line in next_box_lines(minutes)]
    if not box.devices:
        return blocks
    rows = tuple((d.label, str(d.open_seq), when(d.opened_at)) for d in box.devices)
    header = (_("Device"), _("Opening record"), _("Zero report at"))
    return [*blocks, Table(header, rows, (65, 40, 60), align="LRC")]


def _changes(minutes: Minutes) -> Blocks:
    rows = tuple(tuple(change_cells(change)) for change in minutes.changes or ())
    header = tuple(_(column) for column in CHANGE_COLUMNS)
    return [Paragraph(_(CHANGES_INTRO)), Table(header, rows, (24, 28, 37, 38, 38), align="L")]


def sections(minutes: Minutes) -> tuple[Section, ...]:
    """The numbered sections, in order; those without content are left out."""
    parts: list[tuple[str, Callable[[Minutes], Blocks]]] = [(_("Attendees"), _attendees)]
    if minutes.seal is not None:  # the box key, who typed a share, the escrow (web.minutes_seal)
        parts.append((_(SEAL_TITLE), _seal))
    parts.append((_("Verification of the devices and their records"), _verification))
    if minutes.changes:
        parts.append((_(CHANGES_TITLE), _changes))
    parts.append((_("Results of the count"), _results))
    if minutes.supplements:
        parts.append((_("Late ballots of earlier boxes"), _supplements))
    parts.append((_("The next ballot box"), _next_box))
    return tuple(
        Section(f"{number}. {title}", tuple(render(minutes)))
        for number, (title, render) in enumerate(parts, start=1)
    )
