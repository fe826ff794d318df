"""A kiosk without hardware: MockFactory pins, a file printer, a PNG screen.

Everything else (the daemon, the ballot box, the press rules, rendering, ESC/POS) is the
real code. Tickets are written by python-escpos' ``File`` printer, one file per ticket,
so the simulator can list them and show each as bytes and as an image.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hom_phieu.clock import AdjustableClock, local_iso
from kiosk.presenter import clock_fault_text, sealing_status


@dataclass(frozen=True, slots=True)
class ArchivedTicket:
    id: str
    wall_ms: int


class TicketArchive:
    """The simulated printer's paper: ``tickets/<n>.bin``, as the printer received it."""

    def __init__(self, folder: Path, clock: AdjustableClock) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._tickets: list[ArchivedTicket] = []

    def connection(self) -> _ArchiveConnection:
        """What the printer worker connects to: each write is one ticket's file."""
        return _ArchiveConnection(self)

    def next_path(self) -> Path:
        with self._lock:
            ticket = ArchivedTicket(f"{len(self._tickets) + 1:04d}", self._clock.read().wall_ms)
            self._tickets.append(ticket)
        return self.folder / f"{ticket.id}.bin"

    def list(self) -> list[ArchivedTicket]:
        with self._lock:
            return [t for t in self._tickets if (self.folder / f"{t.id}.bin").exists()]

    def read(self, ticket_id: str) -> bytes | None:
        if ticket_id not in {t.id for t in self.list()}:
            return None
        return (self.folder / f"{ticket_id}.bin").read_bytes()

    def image(self, ticket_id: str) -> Any:
        from hardware.escpos_decode import decode, page_image

        data = self.read(ticket_id)
        return None if data is None else page_image(decode(data))


class _ArchiveConnection:
    """A python-escpos ``File`` printer per ticket, so each ticket is its own file."""

    def __init__(self, archive: TicketArchive) -> None:
        self._archive = archive

    def _raw(self, data: bytes) -> None:
        from hardware.escpos_cache import prepare_escpos

        prepare_escpos()
        from escpos.printer import File

        # Written under another name and renamed once closed: the panel lists a ticket only
        # when its whole file is there (File.open creates it empty before the write).
        final = self._archive.next_path()
        partial = final.with_suffix(".part")
        printer = File(str(partial))
        printer.open()
        try:
            printer._raw(data)
        finally:
            printer.close()
        partial.replace(final)

    def close(self) -> None:
        pass


class Simulation:
    """What the virtual panel needs: the kiosk, its pins, its screen, its paper, its clock."""

    def __init__(self, kiosk: Any, clock: AdjustableClock, archive: TicketArchive, display: Any):
        self.kiosk = kiosk
        self.clock = clock
        self.archive = archive
        self.display = display

    def rating_pins(self) -> dict[str, Any]:
        return {b.name: self.kiosk.controls.buttons[b.name].pin for b in self.kiosk.config.buttons}

    def press(self, name: str, hold_ms: int) -> dict[str, Any]:
        """Press and release a button through its mock pin; answer once it is settled."""
        import time

        pin = self.kiosk.controls.buttons[name].pin
        before = self.kiosk.outcomes.last_id()
        pin.drive_low()
        time.sleep(hold_ms / 1000)
        pin.drive_high()
        # (Generous: a loaded machine may take seconds to commit; the answer comes as soon as
        # the press is settled and carried out.)
        outcomes = self.kiosk.wait_settled(name, before, timeout_s=30)
        if not outcomes:
            return {"button": name, "outcome": "ignored"}
        last = outcomes[-1]
        answer: dict[str, Any] = {"button": name, "outcome": last.action}
        if last.reason:
            answer["reason"] = last.reason
        if last.receipt_code:
            answer["receipt_code"] = last.receipt_code
        if last.seq:
            answer["seq"] = last.seq
        return answer

    def choose_clerk(self, clerk_id: str) -> dict[str, Any]:
        """Make ``clerk_id`` the clerk on duty, as the clerk's gesture would (the event is
        written by the daemon's loop); answer once done, with the clerk now on duty."""
        from kiosk.daemon import CHOOSE_CLERK

        before = self.kiosk.outcomes.last_id()
        self.kiosk.choose_clerk(clerk_id)
        self.kiosk.wait_settled(CHOOSE_CLERK, before, timeout_s=30)
        return {"clerk_on_duty": self.state()["clerk_on_duty"]}

    def roster(self) -> list[dict[str, str]]:
        return [{"id": c.id, "name": c.name, "title": c.title} for c in self.kiosk.identity.roster]

    def wait_quiet(self) -> None:
        """After the clock was set: answer once the loop has looked at the box with the
        new time (a month may have closed), not at its next idle look."""
        from kiosk.daemon import CLOCK_SET

        before = self.kiosk.outcomes.last_id()
        self.kiosk.clock_set()
        self.kiosk.wait_settled(CLOCK_SET, before, timeout_s=30)

    def screen_image(self) -> Any:
        return self.display.last_image

    def state(self) -> dict[str, Any]:
        kiosk = self.kiosk
        box = kiosk.box.state.open_box
        clerk = kiosk.clerk()
        reading = self.clock.read()
        last = kiosk.box.state.last_record
        moment = kiosk.box.peek_time()  # the time a ballot would carry now, and its doubts
        return {
            "buttons": [
                {"name": b.name, "label": b.label, "level": b.level.value}
                for b in kiosk.config.buttons
            ],
            "served_button": kiosk.policy.has_served,
            "clerk_on_duty": {"id": clerk.id, "name": clerk.name, "title": clerk.title},
            "roster": self.roster(),
            "box": {
                "box": box.box if box else None,
                "ballots": box.votes if box else 0,
                "refused_presses": box.refused if box else 0,
            },
            "out_of_service": kiosk.fault,
            "printer": {
                "status": "fault" if kiosk.printing.fault else "ok",
                "fault": kiosk.printing.fault,
            },
            "screen": {
                "status": "fault" if kiosk.screen.fault else "ok",
                "fault": kiosk.screen.fault,
                "frame": kiosk.current_frame.kind.value,
            },
            "armed": kiosk.policy.armed,
            "clock": {
                "now": local_iso(reading.wall_ms),
                "synced": reading.synced,
                "last_record_time_quality": last.tq.value if last else None,
                "fault": clock_fault_text(moment.fault) if moment.fault else None,
            },
            "server": {
                "status": "refused" if kiosk.server.fault else "ok",
                "fault": kiosk.server.fault,
            },
            "device_id": kiosk.box.device_id,
            "sealing": sealing_status(kiosk.box.sealing_key),
        }
