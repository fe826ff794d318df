"""The faults staff must know that the ledger itself records: a clock in doubt, and a server
that refuses the records. ``kiosk status`` reads them back from the EVENTs the daemon wrote
(``clock_fault`` / ``clock_recovered``, ``sync_refused``), so a technician sees them in a
shell as staff see them on the screen.
"""

from __future__ import annotations

from typing import Any

from hom_phieu.clock import local_iso
from hom_phieu.ledger.events import EventType
from hom_phieu.ledger.records import Kind, Record
from hom_phieu.ledger.timing import ClockFault, ClockFaultKind
from kiosk.presenter import clock_fault_text


class FaultWatch:
    """Follows a ledger's records in order; then says which faults still stand."""

    def __init__(self) -> None:
        self.clock: Record | None = None  # the clock_fault EVENT not yet over
        self.refused: Record | None = None  # the last sync_refused EVENT

    def see(self, record: Record) -> None:
        if record.kind is Kind.BOOT:
            self.clock = None  # each run says again whether its time is in doubt
        if record.kind is not Kind.EVENT:
            return
        kind = record.body.get("type")
        if kind == EventType.CLOCK_FAULT:
            self.clock = record
        elif kind == EventType.CLOCK_RECOVERED:
            self.clock = None
        elif kind == EventType.SYNC_REFUSED:
            self.refused = record

    def status(self, acked_seq: int) -> dict[str, Any]:
        """``clock`` and ``server``: each None, or since when and what (words for people).
        A refusal is over once the server has acknowledged a record written after it."""
        found: dict[str, Any] = {"clock": None, "server": None}
        clock = self.clock
        if clock is not None:
            fault = _clock_fault(clock)
            found["clock"] = {
                "since": local_iso(clock.wall_ms),
                "fault": clock.body.get("fault"),
                "message": clock_fault_text(fault) if fault else str(clock.body.get("fault")),
            }
        refused = self.refused
        if refused is not None and refused.seq > acked_seq:
            found["server"] = {
                "since": local_iso(refused.wall_ms),
                "error": refused.body.get("error"),
                "seq": refused.body.get("seq"),
                "message": str(refused.body.get("message") or refused.body.get("error")),
            }
        return found


def _clock_fault(record: Record) -> ClockFault | None:
    body = record.body
    try:
        kind = ClockFaultKind(str(body.get("fault")))
    except ValueError:  # a newer kiosk's word
        return None
    claimed, expected = body.get("claimed_ms"), body.get("expected_ms")
    if type(claimed) is not int or type(expected) is not int:
        return None
    return ClockFault(kind, claimed, expected)
