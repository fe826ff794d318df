"""Reading the clocks, and deciding what wall time a record may honestly carry.

A Raspberry Pi has no battery clock: after a power cut its wall clock starts from
whatever fake-hwclock saved, until NTP (or the server's signed time) corrects it.
The monotonic clock, by contrast, is right about elapsed time within one boot. So:

* a synchronised OS clock is believed (quality ``synced``);
* otherwise a server time anchor taken in this run, plus monotonic time elapsed
  since, is believed (``anchored``);
* otherwise the wall time is an estimate (``unsynced``): the last stamped wall
  time plus monotonic time elapsed, never a jump of the unsynchronised clock; at
  start-up the unsynchronised clock is believed only up to 14 days past the ledger;
* the stamped wall time never goes below the previous record's (nor below the
  release floor), so the ledger's wall time never runs backwards.

:func:`stamp` is pure; the clocks of :mod:`hom_phieu.clock` supply readings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hom_phieu.clock import EARLIEST_PLAUSIBLE_MS, ClockReading
from hom_phieu.ledger.records import TimeQuality

# A clock reading that strays further than this from what monotonic time predicts
# is a jump, recorded as an EVENT.
JUMP_TOLERANCE_MS = 2_000
# How far ahead of the ledger an unsynchronised clock is believed at start-up: a kiosk
# switched off over the Tết holidays comes back about this much later.
MAX_UNSYNCED_LEAP_MS = 14 * 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class Reference:
    """A wall time known at a monotonic instant of this run."""

    wall_ms: int
    mono_ns: int

    def at(self, mono_ns: int) -> int:
        return self.wall_ms + (mono_ns - self.mono_ns) // 1_000_000


@dataclass(frozen=True, slots=True)
class TimeState:
    """What :func:`stamp` remembers between records. Starts from the ledger's last wall time."""

    last_wall_ms: int = 0
    last_reading: ClockReading | None = None  # previous raw reading in this run
    estimate: Reference | None = None  # previous stamped wall time in this run
    anchor: Reference | None = None  # latest server time anchor in this run


@dataclass(frozen=True, slots=True)
class ClockJump:
    """The wall clock moved differently from monotonic time."""

    expected_ms: int
    actual_ms: int
    synced: bool

    @property
    def delta_ms(self) -> int:
        return self.actual_ms - self.expected_ms


@dataclass(frozen=True, slots=True)
class Stamp:
    wall_ms: int
    tq: TimeQuality
    mono_ns: int
    jump: ClockJump | None
    state: TimeState  # the state to use for the next record, once this one is committed


def stamp(state: TimeState, reading: ClockReading) -> Stamp:
    """Decide the wall time and its quality for a record written at ``reading``."""
    jump = None
    if state.last_reading is not None:
        expected = Reference(state.last_reading.wall_ms, state.last_reading.mono_ns).at(
            reading.mono_ns
        )
        if abs(reading.wall_ms - expected) > JUMP_TOLERANCE_MS:
            jump = ClockJump(expected, reading.wall_ms, reading.synced)

    if reading.synced:
        candidate, quality = reading.wall_ms, TimeQuality.SYNCED
    elif state.anchor is not None:
        candidate, quality = state.anchor.at(reading.mono_ns), TimeQuality.ANCHORED
    elif state.estimate is not None:
        candidate, quality = state.estimate.at(reading.mono_ns), TimeQuality.UNSYNCED
    elif state.last_wall_ms and reading.wall_ms > state.last_wall_ms + MAX_UNSYNCED_LEAP_MS:
        # A run's first record, on a clock nobody vouches for, far ahead of the ledger (a
        # garbage RTC, a mistyped date): following it would lift the floor into the future
        # and hold every trusted time below it, so no month could close for years.
        candidate, quality = state.last_wall_ms, TimeQuality.UNSYNCED
    else:
        candidate, quality = reading.wall_ms, TimeQuality.UNSYNCED

    floor = max(state.last_wall_ms, EARLIEST_PLAUSIBLE_MS)
    if candidate < floor - JUMP_TOLERANCE_MS:
        # The clock went behind the ledger: its word no longer counts. Hold at the floor
        # until the clock catches up (every record keeps mono_ns, so elapsed time is not
        # lost); carrying on by monotonic time instead would never meet the clock again.
        quality = TimeQuality.UNSYNCED
    wall = max(candidate, floor)

    next_state = replace(
        state,
        last_wall_ms=wall,
        last_reading=reading,
        estimate=Reference(wall, reading.mono_ns),
    )
    return Stamp(wall, quality, reading.mono_ns, jump, next_state)


def with_anchor(state: TimeState, server_wall_ms: int, mono_ns: int) -> TimeState:
    """Remember a server-signed time, taken at ``mono_ns`` of this run."""
    return replace(state, anchor=Reference(server_wall_ms, mono_ns))
