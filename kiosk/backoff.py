"""How long the sync client waits after failures: exponential, capped, jittered."""

from __future__ import annotations

import random

BACKOFF_INITIAL_S = 1.0
BACKOFF_MAX_S = 300.0


def backoff_s(
    failures: int,
    *,
    initial_s: float = BACKOFF_INITIAL_S,
    maximum_s: float = BACKOFF_MAX_S,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after ``failures`` failures in a row: doubling, capped, jittered.

    The jitter (between half and all of the step) keeps a commune's kiosks, all cut off
    by the same outage, from coming back at the same instant.
    """
    step = min(maximum_s, initial_s * 2 ** min(max(failures - 1, 0), 30))
    return step * (0.5 + 0.5 * (rng or random).random())
