"""Reading the clocks, and deciding what wall time a record may honestly carry.

A Raspberry Pi has no battery clock: after a power cut its wall clock starts from
whatever fake-hwclock saved, until NTP (or the server's signed time) corrects it.
The monotonic clock, by contrast, is right about elapsed time within one boot. So:

* a synchronised OS clock is believed (quality ``synced``) while it keeps step with
  monotonic time since this run's *reference* (below), within :data:`MAX_CLOCK_STEP_MS`;
* otherwise a server time anchor taken in this run, plus monotonic time elapsed
  since, is believed (``anchored``);
* otherwise the wall time is an estimate (``unsynced``): the last stamped wall
  time plus monotonic time elapsed, never a jump of the unsynchronised clock; at
  start-up the unsynchronised clock is believed only up to 14 days past the ledger;
* the stamped wall time never goes below the previous record's (nor below the
  release floor), so the ledger's wall time never runs backwards.

The *reference* of a run is the first trusted time it saw: the ledger's last record when
the kernel has not rebooted since it was written (monotonic time still counts from the
same start), else the first synchronised reading (believed up to
:data:`MAX_SYNCED_LEAP_MS` past the ledger: across a reboot nothing measures how long the
kiosk was off) or the first server anchor. It is not moved by the readings it checks, so
no series of small steps can walk the time away. A trusted time that strays further is
a **clock fault**: not followed (no month is closed on it) until the other witness
agrees: the server's signed time confirms the clock, or this machine's clock confirms the
server's. When both witnesses put the ledger's last time far in the future (a bogus box
opened before this rule), :class:`Correction` says so and the ballot box goes back.

:func:`stamp` is pure; the clocks of :mod:`hom_phieu.clock` supply readings.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from hom_phieu.clock import EARLIEST_PLAUSIBLE_MS, LATEST_PLAUSIBLE_MS, ClockReading
from hom_phieu.ledger.records import Record, TimeQuality

DAY_MS = 24 * 3600 * 1000
# A clock reading that strays further than this from what monotonic time predicts
# is a jump, recorded as an EVENT.
JUMP_TOLERANCE_MS = 2_000
# How far ahead of the ledger an unsynchronised clock is believed at start-up: a kiosk
# switched off over the Tết holidays comes back about this much later.
MAX_UNSYNCED_LEAP_MS = 14 * DAY_MS
# How far a trusted time (the synchronised clock, the server's signed time) may stray from
# the run's reference plus monotonic time before it is a clock fault. A box turns at
# midnight, when offices are closed: a shift below this moves no citizen's ballot.
MAX_CLOCK_STEP_MS = 2 * 3600 * 1000
# How far past the ledger a run's first synchronised reading is believed without the
# server's word: a kiosk put away for a season.
MAX_SYNCED_LEAP_MS = 62 * DAY_MS
# Two server times that agree this closely (network delays) say nothing new.
SERVER_REPEAT_MS = 60_000


@dataclass(frozen=True, slots=True)
class Reference:
    """A wall time known at a monotonic instant of this run."""

    wall_ms: int
    mono_ns: int

    def at(self, mono_ns: int) -> int:
        return self.wall_ms + (mono_ns - self.mono_ns) // 1_000_000


class ClockFaultKind(StrEnum):
    """Why the kiosk's time is in doubt (the ``fault`` of a ``clock_fault`` EVENT)."""

    CLOCK_STEPPED = "clock_stepped"  # the synchronised clock left monotonic time
    CLOCK_FAR_AHEAD = "clock_far_ahead"  # a run's first synchronised reading, far ahead
    BEHIND_LEDGER = "behind_ledger"  # trusted time far behind the ledger's last record
    SERVER_DIFFERS = "server_differs"  # the server's signed time far from this kiosk's


@dataclass(frozen=True, slots=True)
class ClockFault:
    kind: ClockFaultKind
    claimed_ms: int  # what the clock (or the server) says
    expected_ms: int  # what this kiosk's trusted time (or its ledger) says


@dataclass(frozen=True, slots=True)
class Correction:
    """The server's signed time, confirmed by this machine's clock, is far behind the
    ledger's last record: go back to it (the ballot box seals the box and reopens the
    month of ``wall_ms``; ``docs/ledger-format.md``)."""

    wall_ms: int  # the server's time now: its anchor plus monotonic time since
    server_wall_ms: int  # the server-signed time it rests on
    abandoned_ms: int  # the ledger's last wall time, which was ahead


@dataclass(frozen=True, slots=True)
class TimeState:
    """What :func:`stamp` remembers between records. Starts from the ledger's last wall time."""

    last_wall_ms: int = 0
    last_reading: ClockReading | None = None  # previous raw reading in this run
    estimate: Reference | None = None  # previous stamped wall time in this run
    anchor: Reference | None = None  # latest believed server time anchor in this run
    trusted: Reference | None = None  # the run's reference (see the module's docstring)
    server: Reference | None = None  # latest server time seen in this run, believed or not
    server_fault: ClockFault | None = None  # the server's time differs from the reference
    fault: ClockFault | None = None  # the clock fault when the last record was written


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
    fault: ClockFault | None = None  # the time is in doubt: shown to staff, logged
    correction: Correction | None = None  # the ledger's time is far ahead: go back


def resumed(
    last_wall_ms: int, last: Record | None, same_kernel_boot: bool, reading: ClockReading
) -> TimeState:
    """The state a run starts from: the ledger's last record is its reference when the
    kernel has not rebooted since it was written (its monotonic time still counts: it has
    moved on since, ``reading`` shows) and its time was trusted."""
    trusted = None
    if same_kernel_boot and last is not None and last.tq.trusted and reading.mono_ns > last.mono_ns:
        trusted = Reference(last.wall_ms, last.mono_ns)
    return TimeState(last_wall_ms=last_wall_ms, trusted=trusted)


def stamp(state: TimeState, reading: ClockReading) -> Stamp:
    """Decide the wall time and its quality for a record written at ``reading``."""
    jump = None
    if state.last_reading is not None:
        expected = Reference(state.last_reading.wall_ms, state.last_reading.mono_ns).at(
            reading.mono_ns
        )
        if abs(reading.wall_ms - expected) > JUMP_TOLERANCE_MS:
            jump = ClockJump(expected, reading.wall_ms, reading.synced)

    mono = reading.mono_ns
    follow, state, fault = _judge_clock(state, reading) if reading.synced else (False, state, None)
    fault = fault or state.server_fault
    if follow:
        candidate, quality = reading.wall_ms, TimeQuality.SYNCED
    elif state.anchor is not None:
        candidate, quality = state.anchor.at(mono), TimeQuality.ANCHORED
    elif state.estimate is not None:
        candidate, quality = state.estimate.at(mono), TimeQuality.UNSYNCED
    elif state.last_wall_ms and reading.wall_ms > state.last_wall_ms + MAX_UNSYNCED_LEAP_MS:
        # A run's first record, on a clock nobody vouches for, far ahead of the ledger (a
        # garbage RTC, a mistyped date): following it would lift the floor into the future
        # and hold every trusted time below it, so no month could close for years.
        candidate, quality = state.last_wall_ms, TimeQuality.UNSYNCED
    else:
        candidate, quality = reading.wall_ms, TimeQuality.UNSYNCED

    floor = max(state.last_wall_ms, EARLIEST_PLAUSIBLE_MS)
    correction = None
    if candidate < floor - JUMP_TOLERANCE_MS:
        # The clock went behind the ledger: its word no longer counts. Hold at the floor
        # until the clock catches up (every record keeps mono_ns, so elapsed time is not
        # lost); carrying on by monotonic time instead would never meet the clock again.
        if quality.trusted and candidate < floor - MAX_CLOCK_STEP_MS:
            fault = fault or ClockFault(ClockFaultKind.BEHIND_LEDGER, candidate, floor)
            correction = _correction(state, reading)
        quality = TimeQuality.UNSYNCED
    wall = max(candidate, floor)

    next_state = replace(
        state,
        last_wall_ms=wall,
        last_reading=reading,
        estimate=Reference(wall, mono),
        fault=fault,
    )
    return Stamp(wall, quality, mono, jump, next_state, fault, correction)


def with_anchor(
    state: TimeState, server_wall_ms: int, mono_ns: int, reading: ClockReading
) -> TimeState:
    """Take in a server-signed time, taken at ``mono_ns`` of this run; ``reading``: this
    machine's clock now. Believed when it keeps step with the run's reference (or is the
    run's first trusted time, not far ahead of the ledger), or when this machine's clock
    agrees with it; else it is a clock fault (``server_differs``)."""
    anchor = Reference(server_wall_ms, mono_ns)
    now = anchor.at(reading.mono_ns)
    state = replace(state, server=anchor)
    reference = _reference(state, reading)
    clock_agrees = _agree(reading.wall_ms, now)
    if reference is None:
        base = state.last_wall_ms
        if clock_agrees or not base or server_wall_ms <= base + MAX_SYNCED_LEAP_MS:
            return replace(state, anchor=anchor, trusted=anchor, server_fault=None)
        fault = ClockFault(ClockFaultKind.SERVER_DIFFERS, now, base)
        return replace(state, server_fault=fault)
    if _agree(now, reference.at(reading.mono_ns)):
        return replace(state, anchor=anchor, trusted=reference, server_fault=None)
    if clock_agrees:  # two witnesses against the reference: the reference was wrong
        return replace(state, anchor=anchor, trusted=anchor, server_fault=None)
    fault = ClockFault(ClockFaultKind.SERVER_DIFFERS, now, reference.at(reading.mono_ns))
    return replace(state, server_fault=fault)


def anchor_wanted(
    state: TimeState, server_wall_ms: int, mono_ns: int, reading: ClockReading
) -> bool:
    """Whether a server time (an ack's) says something this run does not know yet: the
    time is in doubt, or the server disagrees with what would be stamped now. A server
    time that only repeats the last one seen (extrapolated) is not worth a record."""
    now = Reference(server_wall_ms, mono_ns).at(reading.mono_ns)
    seen = state.server
    if seen is not None and _agree(now, seen.at(reading.mono_ns), SERVER_REPEAT_MS):
        return False
    moment = stamp(state, reading)
    return moment.fault is not None or not _agree(now, moment.wall_ms)


def corrected(moment: Stamp) -> Stamp:
    """The moment of a :class:`Correction`: the server's time, anchored; the run goes on
    from there (the ledger's floor is the corrected time)."""
    correction = moment.correction
    if correction is None:
        raise ValueError("this moment needs no correction")
    wall = correction.wall_ms
    state = replace(
        moment.state,
        last_wall_ms=wall,
        estimate=Reference(wall, moment.mono_ns),
        trusted=moment.state.anchor,
    )
    return Stamp(wall, TimeQuality.ANCHORED, moment.mono_ns, None, state, moment.fault)


def _agree(a_ms: int, b_ms: int, tolerance_ms: int = MAX_CLOCK_STEP_MS) -> bool:
    return abs(a_ms - b_ms) <= tolerance_ms


def _reference(state: TimeState, reading: ClockReading) -> Reference | None:
    """The run's reference, unless monotonic time restarted since (a reboot the ledger's
    kernel boot id could not tell)."""
    trusted = state.trusted
    return trusted if trusted is not None and reading.mono_ns >= trusted.mono_ns else None


def _judge_clock(
    state: TimeState, reading: ClockReading
) -> tuple[bool, TimeState, ClockFault | None]:
    """Whether a synchronised reading is followed, the state after it, and its fault."""
    mono = reading.mono_ns
    reference = _reference(state, reading)
    if reference is None:  # the run's first trusted time
        base = state.last_wall_ms
        plausible = reading.wall_ms < LATEST_PLAUSIBLE_MS and (
            not base or reading.wall_ms <= base + MAX_SYNCED_LEAP_MS
        )
        if plausible:
            return True, replace(state, trusted=Reference(reading.wall_ms, mono)), None
        confirmed = _confirmed(state, reading)
        if confirmed is not None:
            return True, confirmed, None
        return False, state, ClockFault(ClockFaultKind.CLOCK_FAR_AHEAD, reading.wall_ms, base)
    if _agree(reading.wall_ms, reference.at(mono)):
        return True, state, None
    confirmed = _confirmed(state, reading)
    if confirmed is not None:
        return True, confirmed, None
    fault = ClockFault(ClockFaultKind.CLOCK_STEPPED, reading.wall_ms, reference.at(mono))
    return False, state, fault


def _confirmed(state: TimeState, reading: ClockReading) -> TimeState | None:
    """The state once the server's signed time (the last seen) confirms the clock's
    reading: the server's time is the run's reference and anchor; None when it does not."""
    server = state.server
    if server is None or not _agree(reading.wall_ms, server.at(reading.mono_ns)):
        return None
    return replace(state, anchor=server, trusted=server, server_fault=None)


def _correction(state: TimeState, reading: ClockReading) -> Correction | None:
    anchor = state.anchor
    if anchor is None:
        return None
    now = anchor.at(reading.mono_ns)
    if not _agree(reading.wall_ms, now) or now >= state.last_wall_ms - MAX_CLOCK_STEP_MS:
        return None
    return Correction(now, anchor.wall_ms, state.last_wall_ms)
