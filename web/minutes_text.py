"""What every rendering of the minutes says the same way: times, months, the breakdowns and
their titles, row names, who chairs and who is secretary.

The printable page (``templates/ceremony/minutes.html``), the PDF, the XLSX and the CSV all
read one :class:`web.minutes.Minutes` and name things through these helpers. Labels are
msgids, translated at use in the current language; percentages are computed, never stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hom_phieu.clock import TIMEZONE
from hom_phieu.i18n import N_, _, ngettext
from hom_phieu.ledger.records import Level
from web.ceremony_calendar import month_end, month_start, next_box
from web.labels import CHANNEL_LABELS, label
from web.minutes import (
    Attendee,
    ClerkChannelRow,
    ClerkRow,
    Count,
    CountRow,
    DeviceEntry,
    Minutes,
    Severity,
)

LEVELS = tuple(level.value for level in Level)
CHAIR_ROLES = ("ubnd_leader", "ubnd_deputy")  # who chairs the opening, in order of preference
SECRETARY_ROLE = "secretary"
CHECK_LABELS = {  # what each check of the checklist is about (CheckEntry.code), in words
    "chain": N_("hash chain and signatures"),
    "records": N_("records of the box"),
    "open": N_("opening record (zero report)"),
    "close": N_("closing record"),
    "sync": N_("synchronisation"),
    "refused": N_("refused presses"),
    "clock": N_("device clock"),
    "clock_ahead": N_("clock set ahead"),
    "equivocation": N_("conflicting records"),
    "unopened": N_("ballots in boxes not yet opened"),
    "answer_burst": N_("burst of phone answers"),
    "seal": N_("box key"),
    "seal_escrow": N_("escrow key"),
    "seal_clear": N_("ballots not sealed"),
    "seal_key": N_("ballots sealed to another key"),
    "counted": N_("ballots counted"),
    "committee": N_("change of the committee"),
    "dossiers": N_("dossiers returned"),
}
SEVERITY_LABELS = {
    Severity.WARNING: N_("Warning: {message}"),
    Severity.FAULT: N_("Fault: {message}"),
}


@dataclass(frozen=True)
class CountTable:
    """One breakdown of a count: which it is and what it is called."""

    key: str  # the Count's field: by_clerk, by_counter, …
    section: str  # the CSV's section code
    title: str  # msgid of the PDF heading
    sheet: str  # msgid of the XLSX sheet
    column: str  # msgid of the name column

    def rows(self, count: Count) -> Sequence[ClerkRow | ClerkChannelRow | CountRow]:
        rows: Sequence[ClerkRow | ClerkChannelRow | CountRow] | None = getattr(count, self.key)
        return rows or ()


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
    CountTable(
        "by_clerk_channel",
        "clerk_channel",
        N_("Results by clerk, channel by channel"),
        N_("By clerk and channel"),
        N_("Clerk · channel"),
    ),
)
CLERKS = TABLES[0]


def local(moment: datetime) -> datetime:
    """A time of the minutes in Vietnam time."""
    return moment.astimezone(TIMEZONE)


def day(moment: datetime) -> str:
    """``30/11/2026``."""
    return local(moment).strftime("%d/%m/%Y")


def clock_time(moment: datetime) -> str:
    """``16:05``."""
    return local(moment).strftime("%H:%M")


def when(moment: datetime | None) -> str:
    """``16:05 on 30/11/2026`` (``16:05 ngày 30/11/2026``), or a dash."""
    if moment is None:
        return "—"
    return _("{time} on {date}").format(time=clock_time(moment), date=day(moment))


def month(box: str) -> str:
    """A box ``2026-11`` as people write the month: ``11/2026``."""
    year, number = box.split("-")
    return f"{number}/{year}"


def row_name(table: CountTable, row: ClerkRow | ClerkChannelRow | CountRow) -> str:
    """What a row of a breakdown is called in the PDF and the XLSX."""
    if table.key == "by_channel":
        return label(CHANNEL_LABELS, row.key)
    if isinstance(row, ClerkChannelRow):
        return f"{clerk_name(row.key, row.name)} · {label(CHANNEL_LABELS, row.channel)}"
    if table.key == "by_clerk":
        return clerk_name(row.key, row.name)
    return row.name or row.key


def clerk_name(code: str, name: str) -> str:
    """``Nguyễn Thị Lan (lan)``; a code not (or no longer) in the office's list says so."""
    if not name:
        return _("{code} (not in the list)").format(code=code)
    return f"{name} ({code})"


def ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def seq_range(device: DeviceEntry) -> str:
    """``120–1131``, or a dash for a device without records of the box."""
    if device.first_seq is None:
        return "—"
    return f"{device.first_seq}–{device.last_seq}"


def chair(attendees: Sequence[Attendee]) -> Attendee | None:
    """Who chairs: the People's Committee leader, else the deputy."""
    for role in CHAIR_ROLES:
        for attendee in attendees:
            if attendee.committee_role == role:
                return attendee
    return None


def secretary(attendees: Sequence[Attendee]) -> Attendee | None:
    return next((a for a in attendees if a.committee_role == SECRETARY_ROLE), None)


def name_of(attendee: Attendee | None) -> str:
    """The name under a signature (empty when nobody holds the role)."""
    return attendee.name if attendee is not None else ""


def unverified_note(answers: int) -> str:
    """What the unverified phone answers are, in every rendering of the minutes."""
    return ngettext(
        "{count} phone answer came without a ticket (from the QR code on the screen) or with "
        "a ticket that did not check out. Anybody can send such answers again and again, so "
        "they are shown here as opinions and are not part of the official result above.",
        "{count} phone answers came without a ticket (from the QR code on the screen) or with "
        "a ticket that did not check out. Anybody can send such answers again and again, so "
        "they are shown here as opinions and are not part of the official result above.",
        answers,
    ).format(count=answers)


def cut_off(minutes: Minutes) -> bool:
    """Whether the box was opened before its month was over (on the due day, the month's
    last working day): the opening is then the box's cut-off."""
    return minutes.opened_at < month_end(minutes.box)


def next_box_lines(minutes: Minutes) -> list[str]:
    """What the minutes say of the ballots after the opening and of the next box, in every
    rendering: on the due day, the cut-off and when the next box opens; after the month,
    that the next box is collecting (and, when no device has opened it, that too)."""
    following = next_box(minutes.box)
    if cut_off(minutes):
        return [
            _(
                "This opening at {time} is the cut-off of the box of {month}: ballots of "
                "{month} recorded after the devices' last sync before it are counted as a "
                "supplement at the next opening."
            ).format(time=when(minutes.opened_at), month=month(minutes.box)),
            _("The ballot box of {month} opens on {day}, when the month begins.").format(
                month=month(following), day=day(month_start(following))
            ),
        ]
    lines = [
        _("The ballot box of {month} has been sealed and is receiving ballots.").format(
            month=month(following)
        )
    ]
    if not minutes.next_box.devices:
        lines.append(_("No device has reported the opening of this box yet."))
    return lines
