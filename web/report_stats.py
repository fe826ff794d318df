"""A satisfaction rate and its uncertainty: the one rule every report, ranking and export
uses.

Pure. The satisfaction rate (tỷ lệ hài lòng) is the share of ballots rated satisfied or
very satisfied. Beside every rate the reports print its 95 % Wilson score interval: with
few ballots a rate says little (3 of 3 is "100 %" but could well be 44 %), and the ranking
(``web.report_ranking``) must not reward a clerk for having been rated rarely.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from hom_phieu.formatting import percent

Z_95 = 1.959963984540054  # the standard normal quantile of a two-sided 95 % interval


@dataclass(frozen=True, slots=True)
class Rate:
    """``part`` of ``whole`` (0 of 0 has no value: shown as "—")."""

    part: int
    whole: int

    @property
    def value(self) -> float | None:
        return self.part / self.whole if self.whole else None

    def text(self) -> str:
        """``63,35%`` (decimal comma), ``—`` of nothing."""
        return percent(self.part, self.whole) if self.whole else "—"

    def wilson(self, z: float = Z_95) -> tuple[float, float] | None:
        """The Wilson score interval (low, high), in 0..1; None of nothing."""
        return _wilson(self.part, self.whole, z)

    def interval_text(self) -> str:
        """``58,10% – 68,27%`` (the 95 % interval), ``—`` of nothing."""
        bounds = self.wilson()
        if bounds is None:
            return "—"
        return " – ".join(_percent_of(bound) for bound in bounds)


@functools.lru_cache(maxsize=4096)  # a ranking compares each row's interval with its neighbours'
def _wilson(part: int, whole: int, z: float) -> tuple[float, float] | None:
    if not whole:
        return None
    p = part / whole
    centre = p + z * z / (2 * whole)
    spread = z * math.sqrt(p * (1 - p) / whole + z * z / (4 * whole * whole))
    divisor = 1 + z * z / whole
    return max(0.0, (centre - spread) / divisor), min(1.0, (centre + spread) / divisor)


def _percent_of(value: float) -> str:
    return f"{100 * value:.2f}".replace(".", ",") + "%"
