"""Waiting on a condition, never for a fixed time: poll until it holds or a deadline passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], what: str = "", timeout_s: float = 15.0, every_s: float = 0.02
) -> T:
    """The first truthy answer of ``condition()``, polled every ``every_s`` seconds; after
    ``timeout_s`` the last (falsy) answer, or an AssertionError naming ``what`` if given."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = condition()
        if answer:
            return answer
        if time.monotonic() >= deadline:
            if what:
                raise AssertionError(f"waited {timeout_s} s for {what}")
            return answer
        time.sleep(every_s)
