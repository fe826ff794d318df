"""The clocks every part reads, and Vietnam time.

Nothing in hom-phieu reads the time of day except through a :class:`Clock`: the kiosk's
ballot box, its daemon and the admin server each hold one, so tests and rehearsals can
set it (:class:`FakeClock`, :class:`AdjustableClock`) and the suite never depends on the
day it runs. The rules that decide what time a *record* may carry live with the ledger.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")
# No record of this software can honestly be earlier than its first release. Both bounds
# are Vietnam time, as boxes are: 2100-01-01T00:00+07:00 already falls in box 2100-01.
EARLIEST_PLAUSIBLE_MS = int(datetime(2026, 1, 1, tzinfo=TIMEZONE).timestamp() * 1000)
LATEST_PLAUSIBLE_MS = int(datetime(2100, 1, 1, tzinfo=TIMEZONE).timestamp() * 1000)


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
def _adjtimex() -> Callable[..., int] | None:
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


def now_utc(clock: Clock) -> datetime:
    """The clock's wall time as an aware UTC datetime (for the server's database)."""
    return datetime.fromtimestamp(clock.read().wall_ms / 1000, UTC)


def rehearsal_clock(start_ms: int | None) -> Clock:
    """The system's clock, or (``--clock`` of a rehearsal) one that starts at ``start_ms``,
    synchronised, and runs from there."""
    if start_ms is None:
        return SystemClock()
    clock = AdjustableClock()
    clock.set(start_ms, synced=True)
    return clock
