"""Which button presses become votes: debounce, one vote per service, no stuffing.

Pure and clock-free: it is fed raw pin edges with their monotonic times (ms) and asked
to :meth:`PressPolicy.tick` at :meth:`PressPolicy.next_deadline`; it answers with
:class:`Decision` objects for the daemon to carry out (write a VOTE, a REFUSED, an
EVENT, change the screen). The rules, in order:

* **Debounce by stability**: a button changes state only once its raw level has been
  steady for ``bounce_ms``; any storm of contact bounce collapses into one press.
* **Count on release**: a press counts when the button comes back up, if it was held
  less than ``hold_ms``. Held longer, it is refused once as ``held`` (a stuck button,
  or somebody leaning on it) and its release counts for nothing. Counting on release
  lets the same buttons carry the clerk's gestures without casting a vote.
* **Armed mode** (optional): a vote needs the clerk's *served* press first; one vote
  per arming; the arming expires after ``armed_timeout_s``.
* **Minimum gap** between votes, and a **burst** limit per window.
* **Storms**: past ``refused_per_minute`` refused presses in a minute, further ones are
  summed into one ``storm`` refusal at the minute's end: counted, never dropped, and
  the disk is not flooded.

Clerk on duty gesture: hold *served* for ``gesture_s`` to choose the clerk (short
presses of *served* move to the next clerk, holding it again confirms). Without a
served button, and only if ``chord_gesture`` is on (any citizen could do it too), hold
the first and the last rating buttons together for ``gesture_s``; then the first button
moves to the next clerk and the last confirms. Choosing ends by
itself after ``SELECT_TIMEOUT_MS`` without a press.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hom_phieu.ledger.events import RefusalReason
from hom_phieu.ledger.records import SERVED

SELECT_TIMEOUT_MS = 30_000
STORM_WINDOW_MS = 60_000


class Action(StrEnum):
    VOTE = "vote"
    REFUSED = "refused"
    ARMED = "armed"
    ARM_EXPIRED = "arm_expired"
    TICKET = "ticket"  # print the last vote's ticket (print on demand)
    SELECT_START = "select_start"
    SELECT_NEXT = "select_next"
    SELECT_CONFIRM = "select_confirm"
    SELECT_CANCEL = "select_cancel"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    button: str = ""
    reason: RefusalReason | None = None  # why a press was refused (Action.REFUSED only)
    detail: dict[str, Any] = field(default_factory=dict)
    at_ms: int = 0


@dataclass(frozen=True, slots=True)
class Rules:
    bounce_ms: int = 30
    min_gap_ms: int = 3000
    burst_count: int = 5
    burst_window_s: int = 60
    armed_mode: bool = False
    armed_timeout_s: int = 120
    hold_ms: int = 1500
    gesture_s: int = 3
    refused_per_minute: int = 20
    chord_gesture: bool = False  # without a served button: first + last held together
    print_on_demand: bool = False
    thanks_ms: int = 5000  # a ticket can be asked for this long after the vote

    @classmethod
    def from_config(cls, stuffing: Any, *, print_on_demand: bool, thanks_s: int) -> Rules:
        names = [
            "chord_gesture",
            "bounce_ms",
            "min_gap_ms",
            "burst_count",
            "burst_window_s",
            "armed_mode",
            "armed_timeout_s",
            "hold_ms",
            "gesture_s",
            "refused_per_minute",
        ]
        return cls(
            **{name: getattr(stuffing, name) for name in names},
            print_on_demand=print_on_demand,
            thanks_ms=thanks_s * 1000,
        )


@dataclass(slots=True)
class _Button:
    raw_down: bool = False
    raw_at: int = 0
    down: bool = False
    down_at: int = 0
    held_reported: bool = False
    gesture_done: bool = False


class PressPolicy:
    """Feed it edges; ask it at its deadlines; carry out what it decides."""

    def __init__(self, rules: Rules, rating_buttons: list[str], *, has_served: bool) -> None:
        if len(rating_buttons) < 2:
            raise ValueError("at least two rating buttons")
        self.rules = rules
        self.rating = list(rating_buttons)
        self.has_served = has_served
        names = [*self.rating, SERVED] if has_served else self.rating
        self._buttons = {name: _Button() for name in names}
        self._votes: deque[int] = deque()
        self._armed_until: int | None = None
        self._ticket_until: int | None = None
        self._selecting_until: int | None = None
        self._storm_start: int | None = None
        self._storm_logged = 0
        self._storm_suppressed: Counter[str] = Counter()

    # --- inputs ------------------------------------------------------------------------
    def edge(self, button: str, pressed: bool, at_ms: int) -> list[Decision]:
        """A raw edge from the pin; decisions come from :meth:`tick` once it is steady."""
        state = self._buttons.get(button)
        if state is None:
            raise KeyError(f"unknown button {button!r}")
        # Whatever was already steady before this edge settles first: a whole press that
        # waited in the queue while the loop was busy must not be overwritten unseen.
        decisions = self.tick(at_ms)
        state.raw_down, state.raw_at = pressed, at_ms
        if self.rules.bounce_ms == 0:
            decisions += self.tick(at_ms)
        return decisions

    def tick(self, now_ms: int) -> list[Decision]:
        """Everything due by ``now_ms``, in time order."""
        decisions: list[Decision] = []
        settling = [
            (state.raw_at, name, state)
            for name, state in self._buttons.items()
            if state.raw_down != state.down and now_ms - state.raw_at >= self.rules.bounce_ms
        ]
        for _at, name, state in sorted(settling, key=lambda item: item[:2]):  # in time order
            decisions += self._settle(name, state)
        decisions += self._timers(now_ms)
        return decisions

    def vote_failed(self, at_ms: int) -> None:
        """The vote decided at ``at_ms`` could not be recorded: it counts for no rule, and
        there is no ticket to ask for."""
        if at_ms in self._votes:
            self._votes.remove(at_ms)
        self._ticket_until = None

    def pending(self, button: str) -> bool:
        """True while an edge of ``button`` waits to settle."""
        state = self._buttons.get(button)
        return state is not None and state.raw_down != state.down

    @property
    def selecting(self) -> bool:
        return self._selecting_until is not None

    @property
    def armed(self) -> bool:
        return self._armed_until is not None

    def next_deadline(self) -> int | None:
        """The earliest time at which :meth:`tick` may have something to say."""
        times = [self._armed_until, self._ticket_until, self._selecting_until]
        if self._storm_start is not None:
            times.append(self._storm_start + STORM_WINDOW_MS)
        gesture = [self._buttons[n] for n in self._gesture_buttons()]
        if self._gesture_allowed() and all(s.down and not s.gesture_done for s in gesture):
            times.append(max(s.down_at for s in gesture) + self.rules.gesture_s * 1000)
        chord = self._chord_down()
        for name, state in self._buttons.items():
            if state.raw_down != state.down:
                times.append(state.raw_at + self.rules.bounce_ms)
            elif self._may_be_held(name, state, chord):
                times.append(state.down_at + self.rules.hold_ms)
        due = [t for t in times if t is not None]
        return min(due) if due else None

    def _gesture_allowed(self) -> bool:
        return self.has_served or self.rules.chord_gesture

    def _chord_down(self) -> bool:
        """Without a served button, the first and last rating buttons held together."""
        if self.has_served or not self.rules.chord_gesture:
            return False
        return all(self._buttons[n].down for n in self._gesture_buttons())

    def _may_be_held(self, name: str, state: _Button, chord: bool) -> bool:
        return (
            name != SERVED
            and state.down
            and not state.held_reported
            and not state.gesture_done
            and not (chord and name in self._gesture_buttons())
        )

    # --- settled transitions ---------------------------------------------------------------
    def _settle(self, name: str, state: _Button) -> list[Decision]:
        at = state.raw_at
        state.down = state.raw_down
        if state.down:
            state.down_at, state.held_reported, state.gesture_done = at, False, False
            return self._pressed(name, at)
        return self._released(name, state, at)

    def _pressed(self, name: str, at: int) -> list[Decision]:
        if name != SERVED:
            return []
        if self.selecting:
            return []
        if self.rules.print_on_demand and self._ticket_until is not None:
            self._ticket_until = None
            return [Decision(Action.TICKET, SERVED, at_ms=at)]
        if self.rules.armed_mode:
            self._armed_until = at + self.rules.armed_timeout_s * 1000
            return [Decision(Action.ARMED, SERVED, at_ms=at)]
        return []

    def _released(self, name: str, state: _Button, at: int) -> list[Decision]:
        if state.gesture_done or state.held_reported:
            return []  # the press was a gesture, or already refused as held
        if self.selecting:
            return self._select_press(name, at)
        if name == SERVED:
            return []
        return self._vote_or_refuse(name, at)

    def _vote_or_refuse(self, name: str, at: int) -> list[Decision]:
        rules = self.rules
        window = rules.burst_window_s * 1000
        while self._votes and at - self._votes[0] >= window:
            self._votes.popleft()
        if rules.armed_mode and self._armed_until is None:
            return self._refuse(name, RefusalReason.NOT_ARMED, at)
        if self._votes and at - self._votes[-1] < rules.min_gap_ms:
            return self._refuse(name, RefusalReason.MIN_GAP, at, gap_ms=at - self._votes[-1])
        if len(self._votes) >= rules.burst_count:
            return self._refuse(name, RefusalReason.BURST, at, votes_in_window=len(self._votes))
        self._votes.append(at)
        self._armed_until = None
        if rules.print_on_demand:
            self._ticket_until = at + rules.thanks_ms
        return [Decision(Action.VOTE, name, at_ms=at)]

    def _refuse(self, name: str, reason: RefusalReason, at: int, **detail: Any) -> list[Decision]:
        if self._storm_start is None:
            self._storm_start = at
        if self._storm_logged >= self.rules.refused_per_minute:
            self._storm_suppressed[name] += 1
            return []
        self._storm_logged += 1
        return [Decision(Action.REFUSED, name, reason, detail, at)]

    # --- clerk on duty gesture --------------------------------------------------------------
    def _gesture_buttons(self) -> tuple[str, ...]:
        return (SERVED,) if self.has_served else (self.rating[0], self.rating[-1])

    def _select_press(self, name: str, at: int) -> list[Decision]:
        self._selecting_until = at + SELECT_TIMEOUT_MS
        if name == SERVED or name == self.rating[0]:
            return [Decision(Action.SELECT_NEXT, name, at_ms=at)]
        if name == self.rating[-1] and not self.has_served:
            self._selecting_until = None
            return [Decision(Action.SELECT_CONFIRM, name, at_ms=at)]
        return self._refuse(name, RefusalReason.SELECT, at)

    def _gesture(self, now: int) -> list[Decision]:
        if not self._gesture_allowed():
            return []
        names = self._gesture_buttons()
        states = [self._buttons[n] for n in names]
        if not all(s.down and not s.gesture_done for s in states):
            return []
        since = max(s.down_at for s in states)
        if now - since < self.rules.gesture_s * 1000:
            return []
        for s in states:
            s.gesture_done = True
        if self.selecting:
            self._selecting_until = None
            return [Decision(Action.SELECT_CONFIRM, names[0], at_ms=now)]
        self._selecting_until = now + SELECT_TIMEOUT_MS
        self._armed_until = None
        return [Decision(Action.SELECT_START, names[0], at_ms=now)]

    # --- timers -------------------------------------------------------------------------
    def _timers(self, now: int) -> list[Decision]:
        decisions = self._gesture(now)
        chord = self._chord_down()
        for name in self.rating:
            state = self._buttons[name]
            if self._may_be_held(name, state, chord) and now - state.down_at >= self.rules.hold_ms:
                state.held_reported = True
                held_ms = now - state.down_at
                decisions += self._refuse(name, RefusalReason.HELD, state.down_at, held_ms=held_ms)
        if self._armed_until is not None and now >= self._armed_until:
            self._armed_until = None
            decisions.append(Decision(Action.ARM_EXPIRED, SERVED, at_ms=now))
        if self._ticket_until is not None and now >= self._ticket_until:
            self._ticket_until = None
        if self._selecting_until is not None and now >= self._selecting_until:
            self._selecting_until = None
            decisions.append(Decision(Action.SELECT_CANCEL, at_ms=now))
        if self._storm_start is not None and now - self._storm_start >= STORM_WINDOW_MS:
            window_s = STORM_WINDOW_MS // 1000
            for name, presses in sorted(self._storm_suppressed.items()):
                detail = {"presses": presses, "window_s": window_s}
                decisions.append(Decision(Action.REFUSED, name, RefusalReason.STORM, detail, now))
            self._storm_start, self._storm_logged = None, 0
            self._storm_suppressed.clear()
        return decisions
