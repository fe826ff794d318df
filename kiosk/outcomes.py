"""What became of each press, kept for the simulator's API and the tests.

The daemon's loop appends an :class:`Outcome` for every decision it carried out and marks
each pass of its loop; other threads (the virtual panel, a test) read them and wait for
a button's press to be settled, under one condition variable.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of a press, for the simulator's API and the tests."""

    id: int
    button: str
    action: str
    reason: str = ""
    receipt_code: str = ""
    seq: int = 0


class OutcomeLog:
    """The last thousand outcomes, and the loop's passes (thread-safe)."""

    def __init__(self) -> None:
        self._outcomes: deque[Outcome] = deque(maxlen=1000)
        self._ids = itertools.count(1)
        self._changed = threading.Condition()
        self._passes = 0

    def add(
        self, button: str, action: str, reason: str = "", receipt_code: str = "", seq: int = 0
    ) -> None:
        outcome = Outcome(next(self._ids), button, action, reason, receipt_code, seq)
        with self._changed:
            self._outcomes.append(outcome)
            self._changed.notify_all()

    def passed(self) -> None:
        """The loop has handled everything queued and due once more."""
        with self._changed:
            self._passes += 1
            self._changed.notify_all()

    def last_id(self) -> int:
        with self._changed:
            return self._outcomes[-1].id if self._outcomes else 0

    def after(self, outcome_id: int) -> list[Outcome]:
        with self._changed:
            return [o for o in self._outcomes if o.id > outcome_id]

    def wait_settled(
        self,
        button: str,
        after_outcome: int,
        idle: Callable[[], bool],
        timeout_s: float,
        nudge: Callable[[], None] | None = None,
    ) -> list[Outcome]:
        """Wait until ``button``'s last edge has been settled and carried out: ``idle()``
        says nothing of it waits in the loop's queue or the press policy. ``nudge()`` makes
        the loop pass once more: an idle loop passes only every half minute, and a press
        it ignored (shorter than the bounce time) leaves no outcome to wait for."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            start = self._passes
            while True:
                mine = [o for o in self._outcomes if o.id > after_outcome and o.button == button]
                # An outcome decided while the button was still held (a refusal for holding,
                # a gesture) comes before its release has settled: wait for that too, or
                # the next press would be taken for the release's bounce.
                if idle() and (mine or self._passes > start + 1):
                    return mine
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return mine
                if nudge is not None and idle():
                    nudge()
                self._changed.wait(remaining)
