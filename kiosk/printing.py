"""The kiosk's printer side: print jobs, the ticket held for *served*, the slips, faults.

The loop (:mod:`kiosk.daemon`) hands this what a vote, a month change or the server's
configuration has to print; it numbers the jobs, holds the on-demand ticket, works out
which month-change and results slips are due, and turns the printer thread's reports (and
its status, for a write that just hangs) into one ``printer_fault`` EVENT per fault and a
``printer_recovered`` when a job prints again. The printer has its own thread
(``hardware.printer``): nothing here waits on it, and nothing here stops a vote.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from hom_phieu.i18n import _
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.events import EventType
from hom_phieu.render.views import Slip, Ticket
from kiosk import presenter
from kiosk.config_schema import Printer
from kiosk.identity import Identity
from kiosk.ports import RecordEvent, TicketSink


class Printing:
    """What the kiosk prints and how its printer is doing (``fault``, for staff)."""

    def __init__(
        self,
        printer: TicketSink | None,
        settings: Printer,
        box: BallotBox,
        record_event: RecordEvent,
        fault_changed: Callable[[], None],
    ) -> None:
        self.printer = printer
        self.settings = settings
        self.box = box
        self._record_event = record_event
        self._fault_changed = fault_changed  # the daemon shows the new state to staff
        self.fault: str | None = None  # why the printer failed; None while it prints
        self._job_ids = itertools.count(1)
        self.pending = 0  # jobs submitted whose outcome the printer thread has not reported
        self._held: Ticket | None = None  # the last vote's ticket, until *served* is pressed
        self._slipped_seq = box.started_at_seq  # slips for box changes from this run on

    # --- what to print --------------------------------------------------------------------
    def ticket(self, ticket: Ticket) -> None:
        """A committed vote's ticket, as ``print_tickets`` says: now, held until the clerk
        presses *served* (``on_demand``), or never."""
        mode = self.settings.print_tickets
        if mode == "always":
            self.submit(ticket)
        elif mode == "on_demand":
            self._held = ticket

    def print_held(self) -> None:
        """The clerk pressed *served* while the thank-you screen showed."""
        if self._held is not None:
            self.submit(self._held)
            self._held = None

    def drop_held(self) -> None:
        """A vote failed: no earlier citizen's ticket may come out for it."""
        self._held = None

    def box_slips(self, identity: Identity) -> bool:
        """Slips for every CLOSE and OPEN since the last look, wherever they were written
        (at start-up, before a vote, or by the tick). True when there were any: the box on
        the screen changed."""
        if self.box.state.head_seq <= self._slipped_seq:
            return False
        written = self.box.records_after(self._slipped_seq)
        self._slipped_seq = written[-1].seq if written else self._slipped_seq
        slips = presenter.box_slips(identity, written, self.box.device_id)
        if slips and self.settings.print_box_slips:
            for slip in slips:
                self.submit(slip)
        return bool(slips)

    def results_slip(self, identity: Identity, in_service: bool) -> None:
        """The results slip of the office's newly opened box, once per box (printer key
        ``results_slip = "once"``). The EVENT is written first, so a crash or a printer
        fault can cost a slip but never print one twice; the ledger's verified state knows
        them. Out of service, the ledger cannot take the EVENT: the slip waits."""
        results = identity.results
        if (
            results is None
            or self.settings.results_slip != "once"
            or self.printer is None
            or not in_service
            or results.box in self.box.state.results_slips  # its EVENT is in the ledger
        ):
            return
        record = self._record_event(
            EventType.RESULTS_SLIP, box=results.box, minutes_hash=results.minutes_hash
        )
        if record is not None:
            self.submit(presenter.results_slip(identity, results, record))

    def submit(self, view: Ticket | Slip) -> None:
        if self.printer is not None:
            self.pending += 1
            self.printer.submit(f"job-{next(self._job_ids)}", view)

    # --- how the printer is doing -----------------------------------------------------------
    def printed(self, job_id: str, ok: bool, error: str | None) -> None:
        """The printer thread's report on a job (through the loop's queue)."""
        self.pending = max(0, self.pending - 1)
        if ok and self.fault is not None:
            self.fault = None
            self._record_event(EventType.PRINTER_RECOVERED, job=job_id)
            self._fault_changed()
        elif not ok and self.fault is None:
            self.fault = error or _("the printer failed")
            self._record_event(EventType.PRINTER_FAULT, job=job_id, error=self.fault)
            self._fault_changed()

    def check(self) -> None:
        """A write that hangs (no paper on a printer that cannot say so) reports nothing:
        ask the printer how it is, so staff see the fault while it lasts."""
        status = getattr(self.printer, "status", None)
        if status is not None and status.state == "fault" and self.fault is None:
            self.fault = status.reason or _("the printer failed")
            self._record_event(EventType.PRINTER_FAULT, error=self.fault)
            self._fault_changed()


__all__ = ["Printing"]
