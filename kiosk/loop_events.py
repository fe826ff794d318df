"""What other threads hand the daemon's main loop: one small typed value per kind.

gpiozero's callback thread, the printer thread, the sync thread and the signal handlers
only ever put one of these on the loop's queue; the loop alone acts on them (it is the
ballot box's one writer).
"""

from __future__ import annotations

from dataclasses import dataclass

from hom_phieu.protocol.configuration import DeviceConfig


@dataclass(frozen=True, slots=True)
class Edge:
    """A button's raw level changed (gpiozero's callback thread), at monotonic ``at_ms``."""

    button: str
    pressed: bool
    at_ms: int


@dataclass(frozen=True, slots=True)
class Printed:
    """The printer thread finished a job, well or not."""

    job_id: str
    ok: bool
    error: str | None


@dataclass(frozen=True, slots=True)
class Acked:
    """The sync thread: the server holds the records up to ``head_seq`` (a verified ack)."""

    head_seq: int
    head_hash: str
    server_time_ms: int
    mono_ns: int


@dataclass(frozen=True, slots=True)
class Refused:
    """The sync thread: the server refused a push (``error``, its reason, the record it
    names), or answered in a way that cannot be trusted. Votes go on; staff must know."""

    error: str
    message: str
    seq: int | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    """The sync thread: a sync round went through again after a refusal."""


@dataclass(frozen=True, slots=True)
class Configured:
    """The sync thread: the server's signed configuration changed."""

    config: DeviceConfig


@dataclass(frozen=True, slots=True)
class ChooseClerk:
    """The virtual panel: the clerk on duty chosen from the roster (a simulated kiosk
    without a served button or chord gesture still lets a demo vote for every clerk)."""

    clerk_id: str


@dataclass(frozen=True, slots=True)
class ClockSet:
    """The virtual panel set the simulated clock: the box is looked at now (a month may
    close), not at the idle loop's next look."""


@dataclass(frozen=True, slots=True)
class Stop:
    """Finish the loop (SIGTERM, SIGINT)."""


@dataclass(frozen=True, slots=True)
class Settle:
    """Nothing to do but one more pass of the loop: the simulator waits for a press to be
    settled (``Kiosk.wait_settled``)."""


LoopEvent = (
    Edge | Printed | Acked | Refused | Accepted | Configured | ChooseClerk | ClockSet | Settle
) | Stop
