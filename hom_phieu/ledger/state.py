"""What the verifier keeps as it walks a ledger: the open box's tally, recomputed from
its records, and the state a writer needs to go on appending."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hom_phieu.ledger.records import GENESIS_PREV, Record


@dataclass(slots=True)
class BoxTally:
    """Counts of one box recomputed from its records (never from stored counters)."""

    box: str
    open_seq: int
    votes: int = 0
    refused: int = 0
    counts: dict[str, Counter[str]] = field(default_factory=dict)  # clerk -> level -> n
    buttons: Counter[str] = field(default_factory=Counter)

    def add_vote(self, record: Record) -> None:
        body = record.body
        self.votes += 1
        self.counts.setdefault(body["clerk"], Counter())[body["level"]] += 1
        self.buttons[body["button"]] += 1

    def seal(self) -> dict[str, Any]:
        """The counts a CLOSE record carries for this box, in canonical shape."""
        return {
            "votes": self.votes,
            "refused": self.refused,
            "counts": {clerk: dict(sorted(c.items())) for clerk, c in sorted(self.counts.items())},
            "buttons": dict(sorted(self.buttons.items())),
        }


@dataclass(slots=True)
class LedgerState:
    """What a verified ledger leaves behind: enough to go on appending to it."""

    head_seq: int = 0
    head_hash: str = GENESIS_PREV
    last_wall_ms: int = 0
    boot: int = 0
    open_box: BoxTally | None = None
    closed_boxes: list[str] = field(default_factory=list)
    last_record: Record | None = None
    last_boot: Record | None = None
    clerk_on_duty: str | None = None  # from the last ``clerk_on_duty`` EVENT
    results_slips: set[str] = field(default_factory=set)  # boxes of ``results_slip`` EVENTs
