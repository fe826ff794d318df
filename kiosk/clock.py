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

:func:`stamp` is pure; :class:`SystemClock` and :class:`FakeClock` supply readings.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

from kiosk.records import TimeQuality

TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# No record of this software can honestly be earlier than its first release.
EARLIEST_PLAUSIBLE_MS = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
LATEST_PLAUSIBLE_MS = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000)
# A clock reading that strays further than this from what monotonic time predicts
# is a jump, recorded as an EVENT.
JUMP_TOLERANCE_MS = 2_000
# How far ahead of the ledger an unsynchronised clock is believed at start-up: a kiosk
# switched off over the Tết holidays comes back about this much later.
MAX_UNSYNCED_LEAP_MS = 14 * 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class ClockReading:
    """One look at the clocks."""

    wall_ms: int  # the OS wall clock, milliseconds since the Unix epoch
    mono_ns: int  # monotonic nanoseconds since the kernel booted
    synced: bool  # the OS reports its clock synchronised to a time source


class Clock(Protocol):
    def read(self) -> ClockReading: ...


class SystemClock:
    """The real clocks of this machine."""

    def read(self) -> ClockReading:
        return ClockReading(
            wall_ms=time.time_ns() // 1_000_000,
            mono_ns=time.clock_gettime_ns(time.CLOCK_BOOTTIME),
            synced=kernel_clock_synchronised(),
        )


def kernel_clock_synchronised() -> bool:
    """Ask the kernel (adjtimex, read-only) whether NTP has synchronised the clock.

    systemd-timesyncd, chrony and ntpd all clear the kernel's unsynchronised flag once
    they have a good source; ``adjtimex`` then returns something other than
    TIME_ERROR (5). Unknown platforms count as unsynchronised: honest, never fatal.
    """
    adjtimex = _adjtimex()
    if adjtimex is None:
        return False
    buffer = ctypes.create_string_buffer(512)  # struct timex, modes = 0: read only
    return adjtimex(buffer) not in (-1, 5)


@cache
def _adjtimex():
    """libc's adjtimex, looked up once (find_library runs a subprocess on Linux)."""
    libc_name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(libc_name, use_errno=True).adjtimex if libc_name else None
    except (OSError, AttributeError):
        return None


class FakeClock:
    """An injectable clock for tests and simulation; times in milliseconds."""

    def __init__(self, wall_ms: int, *, synced: bool = True, mono_ns: int = 10**9) -> None:
        self.wall_ms = wall_ms
        self.mono_ns = mono_ns
        self.synced = synced

    @classmethod
    def at(cls, iso: str, *, synced: bool = True) -> FakeClock:
        return cls(parse_iso_ms(iso), synced=synced)

    def read(self) -> ClockReading:
        return ClockReading(self.wall_ms, self.mono_ns, self.synced)

    def advance(self, ms: int) -> None:
        """Time passes: both clocks move together."""
        self.wall_ms += ms
        self.mono_ns += ms * 1_000_000

    def advance_to(self, iso: str) -> None:
        """Time passes until ``iso`` (both clocks move)."""
        self.advance(parse_iso_ms(iso) - self.wall_ms)

    def set_wall(self, wall_ms: int, *, synced: bool | None = None) -> None:
        """Somebody (NTP, a technician) sets the wall clock; monotonic time is untouched."""
        self.wall_ms = wall_ms
        if synced is not None:
            self.synced = synced

    def reboot(self, wall_ms: int | None = None, *, synced: bool = False) -> None:
        """Power cycle: monotonic time restarts, the wall clock is whatever the Pi guesses."""
        self.mono_ns = 10**9
        if wall_ms is not None:
            self.wall_ms = wall_ms
        self.synced = synced


class AdjustableClock:
    """Real time, with a wall clock that can be set and marked (un)synchronised.

    The simulator's clock: ``POST /api/clock`` sets it like NTP or a technician
    would, and monotonic time keeps running untouched, as on a real device.
    """

    def __init__(self, *, synced: bool = True) -> None:
        self._setting = (0, synced)  # (offset, synced) swapped as one: readers never mix them

    @property
    def synced(self) -> bool:
        return self._setting[1]

    def read(self) -> ClockReading:
        offset_ms, synced = self._setting
        return ClockReading(
            wall_ms=time.time_ns() // 1_000_000 + offset_ms,
            mono_ns=time.monotonic_ns(),
            synced=synced,
        )

    def set(self, wall_ms: int, synced: bool) -> None:
        self._setting = (wall_ms - time.time_ns() // 1_000_000, synced)


def parse_iso_ms(iso: str) -> int:
    """ISO-8601 to epoch milliseconds; a time without offset is Vietnam time."""
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TIMEZONE)
    return int(moment.timestamp() * 1000)


def box_of(wall_ms: int) -> str:
    """The monthly box (``YYYY-MM``, Vietnam time) that a wall time falls in."""
    # Vietnam has kept UTC+7 without daylight saving since 1975, so months turn on whole
    # UTC hours: the answer per hour can be remembered (this runs on every vote).
    return _box_of_hour(wall_ms // 3_600_000)


@lru_cache(maxsize=64)
def _box_of_hour(hour: int) -> str:
    moment = datetime.fromtimestamp(hour * 3600, TIMEZONE)
    return f"{moment.year:04d}-{moment.month:02d}"


def local_iso(wall_ms: int) -> str:
    """Wall time as ISO-8601 in Vietnam time, to the millisecond."""
    return datetime.fromtimestamp(wall_ms / 1000, TIMEZONE).isoformat(timespec="milliseconds")


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
