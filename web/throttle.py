"""Wrong enrollment codes per address: a slow-down for scripts guessing codes."""

from __future__ import annotations

import threading
from collections import deque

from web import clock

ENROLL_FAILURES = 10  # wrong codes per address …
ENROLL_WINDOW_S = 15 * 60  # … in this window, then enrollment waits


class EnrollThrottle:
    """Wrong enrollment codes per remote address, in memory: a slow-down, not a wall.

    A code has 31^12 possibilities and expires in hours; this only keeps a script from
    trying thousands a second. A restart forgets, which is acceptable at that strength.
    """

    def __init__(self, limit: int = ENROLL_FAILURES, window_s: float = ENROLL_WINDOW_S) -> None:
        self.limit, self.window_s = limit, window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def blocked(self, address: str) -> bool:
        with self._lock:
            return len(self._recent(address)) >= self.limit

    def failed(self, address: str) -> None:
        with self._lock:
            self._recent(address).append(clock.monotonic_s())

    def _recent(self, address: str) -> deque[float]:
        since = clock.monotonic_s() - self.window_s
        for key in [k for k, v in self._failures.items() if not v or v[-1] < since]:
            del self._failures[key]  # forget quiet addresses: bounded memory
        times = self._failures.setdefault(address, deque())
        while times and times[0] < since:
            times.popleft()
        return times
