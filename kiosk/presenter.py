"""What the kiosk shows and prints, from what it knows: pure, no device, no clock.

The daemon (``kiosk.daemon``) owns the state (who the kiosk is, the clerk on duty, the
faults, the ballot box) and the devices; these functions turn that state, a vote's
:class:`Receipt` or a record into plain views (``hom_phieu.render.views``): the screen's
:class:`Frame`, the citizen's :class:`Ticket`, the month-change and results :class:`Slip`.
Times come in as values (a clock reading, a record's ``wall_ms``), so every view can be
tested without hardware and without waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hom_phieu import formatting
from hom_phieu.clock import ClockReading
from hom_phieu.i18n import N_, _
from hom_phieu.ledger.ballot_box import Receipt
from hom_phieu.ledger.events import RefusalReason
from hom_phieu.ledger.opinion import SealingKey
from hom_phieu.ledger.records import LEVEL_LABELS, Kind, Record, TimeQuality
from hom_phieu.ledger.state import LedgerState
from hom_phieu.ledger.timing import ClockFault, ClockFaultKind
from hom_phieu.render.views import ClerkCard, Frame, FrameKind, Slip, Ticket
from kiosk.identity import Identity, OfficeResults


@dataclass(frozen=True, slots=True)
class Scene:
    """What every frame shows besides its kind: who the kiosk is, the clerk on duty, the
    clerk highlighted while choosing, and the time line (empty when the clock is unsure)."""

    identity: Identity
    clerk_id: str
    selected: int = 0
    now_text: str = ""

    @property
    def clerk(self) -> ClerkCard:
        return self.identity.clerk(self.clerk_id)


def frame(scene: Scene, kind: FrameKind, **fields: Any) -> Frame:
    """One screen of ``kind``; ``fields``: its message, receipt code…"""
    identity = scene.identity
    return Frame(
        kind=kind,
        office=identity.office,
        counter=identity.counter,
        clerk=scene.clerk,
        buttons=identity.legend,
        clerks=identity.roster,
        selected=scene.selected,
        now_text=scene.now_text,
        **fields,
    )


def resting_frame(
    scene: Scene,
    fault: str | None,
    printer_fault: str | None,
    *,
    clock_fault: ClockFault | None = None,
    server_fault: str | None = None,
    sealing: str = "",
) -> Frame:
    """The screen between citizens: out of service (the reason, for staff) while votes
    cannot be taken, else the idle screen with notices for staff (the server refuses the
    records, the clock is in doubt, a printer fault, the box has no key of its own)."""
    if fault is not None:
        return frame(scene, FrameKind.OUT_OF_SERVICE, message=fault)
    notices = [
        _("Server: {fault}").format(fault=server_fault) if server_fault else "",
        _("Clock: {fault}").format(fault=clock_fault_text(clock_fault)) if clock_fault else "",
        _("Printer: {fault}").format(fault=printer_fault) if printer_fault else "",
        sealing,
    ]
    return frame(scene, FrameKind.IDLE, message=" · ".join(n for n in notices if n))


def seal_notice(key: SealingKey | None) -> str:
    """What staff must know of the key the open box seals to: nothing when it is the box's
    own key; else that it is the province's escrow key, or that nothing is sealed (an
    installation whose server sends no keys)."""
    if key is None:
        return _("no box key: the ballots are not sealed")
    if key.escrow:
        return _("no box key for this month: ballots sealed with the province's escrow key")
    return ""


def sealing_status(key: SealingKey | None) -> dict[str, Any]:
    """The same as plain data (the virtual panel's state, ``kiosk status``)."""
    return {
        "sealed": key is not None,
        "escrow": key is not None and key.escrow,
        "fingerprint": key.public.fingerprint if key is not None else None,
        "notice": seal_notice(key),
    }


def seal_lines(key: SealingKey | None) -> tuple[tuple[str, str], ...]:
    """The zero report's lines about the box's key: its fingerprint, which the opening
    ceremony compares with the minutes' (a key substituted on the server shows here)."""
    if key is None or key.escrow:
        lines = ((_("Box key"), seal_notice(key)),)
        return lines + (((_("Escrow key"), key.public.fingerprint),) if key else ())
    return ((_("Box key"), key.public.fingerprint),)


def clock_fault_text(fault: ClockFault) -> str:
    """Why the time is in doubt, for staff: what each witness says."""
    claimed, expected = _minute(fault.claimed_ms), _minute(fault.expected_ms)
    if fault.kind is ClockFaultKind.SERVER_DIFFERS:
        message = _("the server's time {claimed} differs from this kiosk's {expected}")
    elif fault.kind is ClockFaultKind.BEHIND_LEDGER:
        message = _("the last record is dated {expected}, ahead of the time {claimed}; "
                    "waiting for the server's time")  # fmt: skip
    else:
        message = _("the clock says {claimed} but the time is {expected}; not followed "
                    "until the server's time confirms it")  # fmt: skip
    return message.format(claimed=claimed, expected=expected)


def _minute(wall_ms: int) -> str:
    return formatting.date_time(wall_ms)[:16]


# Why a press was not counted, for the citizen at the counter: briefly, and what to do.
REFUSED_PRESS_TEXTS = {
    RefusalReason.MIN_GAP: N_("Too soon after the previous vote. Wait a moment, then press once."),
    RefusalReason.BURST: N_("Too many votes in a short time. Please wait a little."),
    RefusalReason.STORM: N_("Too many presses at once. Press one button, once."),
    RefusalReason.HELD: N_("The button was held too long. Press it briefly."),
}


def refused_frame(scene: Scene, reason: RefusalReason | None) -> Frame | None:
    """The screen for a press that was not counted: that it was not, and why; None for a
    refusal the screen already explains (waiting for the clerk, choosing the clerk)."""
    text = REFUSED_PRESS_TEXTS.get(reason) if reason is not None else None
    return frame(scene, FrameKind.REFUSED, message=_(text)) if text else None


def select_frame(scene: Scene, has_served: bool) -> Frame:
    """Choosing the clerk on duty: the roster, and how to move and confirm."""
    hint = (
        _("Served: next clerk. Hold served: confirm.")
        if has_served
        else _("First button: next clerk. Last button: confirm.")
    )
    return frame(scene, FrameKind.CLERK_SELECT, message=hint)


def clock_text(reading: ClockReading) -> str:
    """``22/11/2026 08:15`` for the screen; nothing while the clock is not trusted."""
    return _minute(reading.wall_ms) if reading.synced else ""


def time_text(wall_ms: int, quality: TimeQuality) -> str:
    """The time the kiosk would stamp now, for the screen; nothing unless trusted (a clock
    that jumped is not shown: the screen says what the ballots say)."""
    return _minute(wall_ms) if quality.trusted else ""


def status_text(state: LedgerState) -> str:
    """The one line systemd shows for the service: the open box and its ballots."""
    box = state.open_box
    return _("Box {box}: {ballots} ballots").format(
        box=box.box if box else "-", ballots=box.votes if box else 0
    )


def ticket(identity: Identity, clerk: ClerkCard, receipt: Receipt) -> Ticket:
    """The citizen's ticket for a committed vote: never its level."""
    stamp = formatting.date_time(receipt.wall_ms)
    return Ticket(
        office=identity.office,
        counter=identity.counter,
        clerk_name=clerk.name,
        clerk_title=clerk.title,
        date_text=stamp[:10],
        time_text=stamp[11:16],
        receipt_code=receipt.code,
        survey_url=ticket_survey_url(clerk.survey_url, receipt.code),
        time_unsure=receipt.time_quality == TimeQuality.UNSYNCED,
        receipt_check=identity.receipt_check,
    )


def ticket_survey_url(survey_url: str | None, receipt_code: str) -> str | None:
    """The ticket's QR: the clerk's survey page with the ticket's receipt code, which the
    server takes for one detailed answer (the screen's QR has no code)."""
    if not survey_url:
        return None
    separator = "&" if "?" in survey_url else "?"
    return f"{survey_url}{separator}t={receipt_code}"


def box_slips(identity: Identity, records: list[Record], device_id: str) -> list[Slip]:
    """The slips of every CLOSE (the seal) and OPEN (the zero report) among ``records``."""
    return [
        box_slip(identity, record, device_id)
        for record in records
        if record.kind in (Kind.CLOSE, Kind.OPEN)
    ]


def box_slip(identity: Identity, record: Record, device_id: str) -> Slip:
    """The month-change slip: totals and seal only, never counts by level or clerk; the
    zero report names the key the box's opinions are sealed to."""
    stamp = formatting.date_time(record.wall_ms)
    month = f"{record.box[5:]}/{record.box[:4]}"
    lines: tuple[tuple[str, str], ...]
    if record.kind is Kind.CLOSE:
        title = _("SEAL OF THE BALLOT BOX {month}").format(month=month)
        lines = (
            (_("Ballots"), str(record.body["votes"])),
            (_("Refused presses"), str(record.body["refused"])),
            (_("Seal record"), str(record.seq)),
            (_("Last record hash"), record.body["last_hash"][:16]),
        )
    else:
        title = _("ZERO REPORT OF THE BALLOT BOX {month}").format(month=month)
        keys = identity.keys
        lines = ((_("Ballots"), "0"), (_("Opening record"), str(record.seq)))
        lines += seal_lines(keys.key_for(record.box) if keys is not None else None)
    lines += ((_("Device"), device_id),)
    return Slip(title, identity.office, identity.counter, lines, stamp[:10], stamp[11:16])


def results_slip(identity: Identity, results: OfficeResults, record: Record) -> Slip:
    """The results slip: the office's totals by level of an opened box (public since the
    opening), never by clerk; stamped with the time of its EVENT ``record``."""
    month = f"{results.box[5:]}/{results.box[:4]}"
    title = _("RESULTS OF THE BALLOT BOX OPENING {month}").format(month=month)
    lines = [
        (_("Box opened on"), formatting.date_time_iso(results.opened_at)[:16]),
        (_("Ballots"), str(results.votes)),
    ]
    for level, label in LEVEL_LABELS.items():
        count = results.by_level[level]
        share = formatting.percent(count, results.votes)
        lines.append((_(label), f"{count} ({share})"))
    lines.append((_("Check code"), results.minutes_hash[:16]))
    stamp = formatting.date_time(record.wall_ms)
    scope = _("Office totals (all counters)")
    return Slip(title, identity.office, scope, tuple(lines), stamp[:10], stamp[11:16])


__all__ = [
    "Scene",
    "box_slip",
    "box_slips",
    "clock_fault_text",
    "clock_text",
    "frame",
    "refused_frame",
    "resting_frame",
    "results_slip",
    "seal_lines",
    "seal_notice",
    "sealing_status",
    "select_frame",
    "status_text",
    "ticket",
    "ticket_survey_url",
    "time_text",
]
