"""The EVENT records that tell what the clock did: jumps, faults and their end.

Pure: from the moment a record is about to be stamped with (``hom_phieu.ledger.timing``)
and the fault of the ledger's last write, the bodies to write first. The ballot box writes
them in one transaction with nothing else, so the ledger says when the time came into doubt
and when it was trusted again; ``kiosk status`` reads them back.
"""

from __future__ import annotations

from typing import Any

from hom_phieu.ledger.events import EventType
from hom_phieu.ledger.records import Kind
from hom_phieu.ledger.timing import ClockFault, Stamp


def clock_specs(previous: ClockFault | None, moment: Stamp) -> list[tuple[Kind, dict[str, Any]]]:
    """The EVENTs to write before anything else at ``moment``: a jump, a fault that begins
    (or changes its kind), a fault that ends."""
    specs: list[tuple[Kind, dict[str, Any]]] = []
    jump = moment.jump
    if jump is not None:
        body = {"type": EventType.CLOCK_JUMP.value, "expected_ms": jump.expected_ms,
                "clock_ms": jump.actual_ms, "delta_ms": jump.delta_ms,
                "clock_synced": jump.synced}  # fmt: skip
        specs.append((Kind.EVENT, body))
    fault = moment.fault
    if fault is not None and (previous is None or previous.kind is not fault.kind):
        body = {"type": EventType.CLOCK_FAULT.value, "fault": fault.kind.value,
                "claimed_ms": fault.claimed_ms, "expected_ms": fault.expected_ms}  # fmt: skip
        specs.append((Kind.EVENT, body))
    elif fault is None and previous is not None:
        body = {"type": EventType.CLOCK_RECOVERED.value, "fault": previous.kind.value}
        specs.append((Kind.EVENT, body))
    return specs
