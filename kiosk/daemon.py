"""The kiosk's main loop: the one place where presses become ballots.

gpiozero callbacks and the printer thread only put events on a queue; this loop takes
them, asks the press policy what they mean, writes to the ballot box, and only then
gives feedback (LEDs, beep, the thank-you screen) and sends the ticket to the printer.
Nothing here blocks on hardware: the printer has its own thread, the screen draws in
milliseconds, and a fault in either is recorded and shown, never allowed to stop votes.
The loop sleeps until the next deadline (a settling press, a timeout, the watchdog). Idle,
it looks at the box (month change, clock jumps, the printer) when the screen's minute
turns and every ``IDLE_TICK_MS``, so an idle kiosk wakes a few times a minute; while
something is under way (a press, a held screen, a ticket printing) every ``BOX_TICK_MS``.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

from hardware import heap
from hom_phieu import __version__
from hom_phieu.clock import Clock
from hom_phieu.i18n import _
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.errors import BallotBoxError
from hom_phieu.ledger.events import EventType, RefusalReason
from hom_phieu.ledger.records import Record
from hom_phieu.ledger.timing import Stamp
from hom_phieu.protocol.configuration import DeviceConfig
from hom_phieu.render.views import ClerkCard, Frame, FrameKind
from kiosk import presenter
from kiosk.config_schema import KioskConfig
from kiosk.identity import Identity
from kiosk.loop_events import (
    Accepted,
    Acked,
    ChooseClerk,
    ClockSet,
    Configured,
    Edge,
    LoopEvent,
    Printed,
    Refused,
    Settle,
    Stop,
)
from kiosk.outcomes import Outcome, OutcomeLog
from kiosk.ports import ControlsLike, Display, TicketSink
from kiosk.press_policy import SERVED, Action, Decision, PressPolicy, Rules
from kiosk.printing import Printing
from kiosk.screen_watch import WatchedDisplay
from kiosk.sd_notify import Notifier
from kiosk.server_watch import ServerWatch

CHOOSE_CLERK = "clerk"  # the outcomes' name for the panel's choice of the clerk on duty
CLOCK_SET = "clock"  # the outcomes' name for the box looked at after the clock was set
BOX_TICK_MS = 1000  # how often the box is looked at while something is under way
IDLE_TICK_MS = 30_000  # how often idle (and whenever the minute on the screen turns)
MINUTE_MS = 60_000


class Kiosk:
    """Build it, then :meth:`run` it (or :meth:`pump` it step by step in tests)."""

    def __init__(
        self,
        *,
        config: KioskConfig,
        box: BallotBox,
        clock: Clock,
        controls_factory: Callable[[Callable[[str, bool], None]], ControlsLike],
        display: Display,
        printer: TicketSink | None,
        notifier: Notifier | None = None,
        server_config: DeviceConfig | None = None,
        server_url: str | None = None,
    ) -> None:
        self.config = config
        self.box = box
        self.clock = clock
        self.screen = WatchedDisplay(display, self._record_event)
        self.notifier = notifier or Notifier()
        self.policy = PressPolicy(
            Rules.from_config(
                config.anti_stuffing,
                print_on_demand=config.printer.print_tickets == "on_demand",
                thanks_s=config.screen.thanks_s,
            ),
            [b.name for b in config.buttons],
            has_served=config.served_button.pin is not None,
        )
        # SimpleQueue: its put() is reentrant, so a signal handler may call stop() safely.
        self._events: queue.SimpleQueue[LoopEvent] = queue.SimpleQueue()
        self.outcomes = OutcomeLog()  # what became of each press (simulator, tests)
        self.printing = Printing(printer, config.printer, box, self._record_event,
                                 self._refresh_idle)  # fmt: skip
        self._stopping = False
        self._screen_until_ms: int | None = None  # times on the clock's monotonic scale
        self._last_box_tick_ms: int | None = None
        self._ticked_minute: int | None = None  # the box time's minute at the last tick
        self._clock_set = False  # the panel set the clock: say when the box was looked at
        self._last_watchdog = 0.0  # the process's own monotonic time (systemd's view)
        self._select_index = 0
        self.fault: str | None = None  # why votes cannot be taken, for staff
        self.time_quality: str = box.state.last_record.tq.value if box.state.last_record else ""
        self.sync_waker: Callable[[], None] | None = None  # the sync client's wake()
        self.identity = Identity.from_config(config, server_url)  # (the enrollment's server)
        if server_config is not None:  # enrolled: seal to the keys the server sent
            self.identity = self.identity.with_server(server_config)
            box.use_keys(self.identity.keys)
        self.clerk_id = self.identity.clerk(
            box.state.clerk_on_duty or config.device.clerk_on_duty or ""
        ).id
        self.server = ServerWatch(box, clock, self._record_event, self._out_of_service)
        self.controls = controls_factory(self.on_edge)
        self._show_idle()

    # --- inputs from other threads ---------------------------------------------------------
    def on_edge(self, button: str, pressed: bool) -> None:
        """gpiozero callback: stamp and enqueue, nothing else."""
        self._events.put(Edge(button, pressed, self._now_ms()))

    def on_printed(self, job_id: str, ok: bool, error: str | None) -> None:
        """Printer thread callback."""
        self._events.put(Printed(job_id, ok, error))

    def choose_clerk(self, clerk_id: str) -> None:
        """The virtual panel: make ``clerk_id`` (of the roster) the clerk on duty."""
        self._events.put(ChooseClerk(clerk_id))

    def clock_set(self) -> None:
        """The virtual panel set the simulated clock: look at the box at once."""
        self._events.put(ClockSet())

    def stop(self) -> None:
        """Ask the loop to finish (signal handlers call this)."""
        self._events.put(Stop())

    def on_ack(self, head_seq: int, head_hash: str, server_time_ms: int, mono_ns: int) -> None:
        """Sync thread: the server holds our records up to ``head_seq`` (verified ack)."""
        self._events.put(Acked(head_seq, head_hash, server_time_ms, mono_ns))

    def on_refusal(self, news: Refused | Accepted) -> None:
        """Sync thread: the server refused a push, or took one again after refusing."""
        self._events.put(news)

    def on_config(self, config: DeviceConfig) -> None:
        """Sync thread: the server's configuration changed (signature verified)."""
        self._events.put(Configured(config))

    def health(self) -> dict:
        """For the sync thread's health report: plain values only, read without locks."""
        return {
            "time_quality": self.time_quality,
            "printer": self.printing.fault,
            "screen": self.screen.fault,
            "software": __version__,
            "out_of_service": self.fault,
            # (a refusal, a forked chain too, reaches the server one way only: the sync
            # thread's ``refused``/``refused_since_ms``/``refused_error``, kiosk.sync_client)
        }

    # --- the loop -------------------------------------------------------------------------
    def run(self) -> None:
        self.notifier.ready(presenter.status_text(self.box.state))
        settled = False  # idle since the heap was last trimmed
        while not self._stopping:
            idle = self._tick_every_ms() == IDLE_TICK_MS
            if idle and not settled:  # start-up done, the ticket printed: give back the freed
                heap.release()
            settled = idle
            try:
                item = self._events.get(timeout=self._sleep_s())
            except queue.Empty:
                item = None
            if item is not None:
                self._handle(item)
            self.pump()
        self.notifier.stopping()

    def pump(self) -> None:
        """Handle everything queued and everything due, without waiting."""
        while True:
            try:
                self._handle(self._events.get_nowait())
            except queue.Empty:
                break
        now_ms = self._now_ms()
        for decision in self.policy.tick(now_ms):
            self._carry_out(decision)
        minute = self.box.peek_time().wall_ms // MINUTE_MS
        last = self._last_box_tick_ms
        if last is None or now_ms - last >= self._tick_every_ms() or minute != self._ticked_minute:
            self._last_box_tick_ms, self._ticked_minute = now_ms, minute
            self._box_tick()
        if self._screen_until_ms is not None and now_ms >= self._screen_until_ms:
            self._screen_until_ms = None
            self._show_idle()
        elif self.current_frame.kind is FrameKind.IDLE:
            resting = self._resting_frame()  # the minute moved on, a fault came or went
            if resting != self.current_frame:
                self._show(resting)
        interval = self.notifier.watchdog_interval_s
        monotonic = time.monotonic()
        if interval is not None and monotonic - self._last_watchdog >= interval:
            self._last_watchdog = monotonic
            self.notifier.watchdog()
        if self._clock_set:
            self._clock_set = False
            self.outcomes.add(CLOCK_SET, "clock_set")
        self.outcomes.passed()

    def _tick_every_ms(self) -> int:
        """Often while something is under way (a press settling, a screen held, a ticket
        printing: a hanging printer is shown within seconds), seldom when idle."""
        busy = (
            self.policy.next_deadline() is not None
            or self._screen_until_ms is not None
            or self.printing.pending > 0
        )
        return BOX_TICK_MS if busy else IDLE_TICK_MS

    def _sleep_s(self) -> float:
        if self._last_box_tick_ms is None:
            return 0.0  # the box has not been looked at yet (start, the clock was set)
        now_ms = self._now_ms()
        due_ms = [self.policy.next_deadline(), self._screen_until_ms]
        due_ms.append(self._last_box_tick_ms + self._tick_every_ms())
        wall_ms = self.box.peek_time().wall_ms
        waits = [IDLE_TICK_MS / 1000, (MINUTE_MS - wall_ms % MINUTE_MS) / 1000]
        waits += [(t - now_ms) / 1000 for t in due_ms if t is not None]
        if self.notifier.watchdog_interval_s is not None:
            interval = self.notifier.watchdog_interval_s
            waits.append(self._last_watchdog + interval - time.monotonic())
        return max(0.0, min(waits))

    def _handle(self, item: LoopEvent) -> None:
        match item:
            case Edge(button, pressed, at_ms):
                for decision in self.policy.edge(button, pressed, at_ms):
                    self._carry_out(decision)
            case Printed(job_id, ok, error):
                self.printing.printed(job_id, ok, error)
            case Acked():
                self.server.acked(item)
            case Refused():
                self.server.refused(item)
            case Accepted():
                self.server.accepted()
            case Configured(config):
                self._configured(config)
            case ChooseClerk(clerk_id):
                if any(c.id == clerk_id for c in self.identity.roster):
                    self._on_duty(clerk_id)
                    self._show_idle()
                self.outcomes.add(CHOOSE_CLERK, "clerk_on_duty")
            case ClockSet():
                self._last_box_tick_ms, self._clock_set = None, True
            case Stop():
                self._stopping = True

    def _now_ms(self) -> int:
        return self.clock.read().mono_ns // 1_000_000

    # --- decisions ------------------------------------------------------------------------
    def _carry_out(self, decision: Decision) -> None:
        action = decision.action
        if action is Action.VOTE:
            self._vote(decision)
        elif action is Action.REFUSED:
            self._refuse(decision)
        elif action is Action.ARMED:
            self.controls.show_status(self.fault is None, armed=True)
            self._show(self._frame(FrameKind.ARMED))
            self._outcome(decision)
        elif action is Action.ARM_EXPIRED:
            self._record_event(EventType.ARM_EXPIRED)
            self.controls.show_status(self.fault is None, armed=False)
            self._show_idle()
            self._outcome(decision)
        elif action is Action.TICKET:
            self.printing.print_held()
            self._outcome(decision)
        else:
            self._select(decision)

    def _vote(self, decision: Decision) -> None:
        try:
            receipt = self.box.cast_vote(
                clerk=self.clerk_id,
                button=decision.button,
                level=self.identity.levels[decision.button],
            )
        except BallotBoxError as exc:
            self.policy.vote_failed(decision.at_ms)
            self.printing.drop_held()  # no earlier citizen's ticket for a failed vote
            self._out_of_service(str(exc))
            self.controls.refuse()
            self._outcome(decision, action="failed", reason=str(exc))
            return
        self._back_in_service()
        # The vote is durable: only now may anyone be told.
        self.controls.thank()
        self.controls.show_status(True, armed=False)
        if self.server.forked:  # the server will never take this ledger: no receipt it
            self._show(self._frame(FrameKind.THANKS), hold=True)  # (without a receipt code)
        else:  # cannot honour is printed, and the screen says the vote is recorded
            self._show(self._frame(FrameKind.THANKS, receipt_code=receipt.code), hold=True)
            self.printing.ticket(presenter.ticket(self.identity, self.clerk(), receipt))
        self.time_quality = receipt.time_quality
        if self.sync_waker is not None:
            self.sync_waker()
        self._outcome(decision, receipt_code=receipt.code, seq=receipt.seq)

    def _refuse(self, decision: Decision) -> None:
        try:
            record = self.box.refuse(
                button=decision.button,
                reason=decision.reason,
                clerk=self.clerk_id,
                **decision.detail,
            )
        except BallotBoxError as exc:
            self._out_of_service(str(exc))
            self._outcome(decision, action="failed", reason=str(exc))
            return
        self._back_in_service()
        self.controls.refuse()
        if decision.reason is RefusalReason.NOT_ARMED:
            self._show(self._frame(FrameKind.WAITING), hold=True)
        elif (refused := presenter.refused_frame(self._scene(), decision.reason)) is not None:
            self._show(refused, hold=True)  # not the previous citizen's thanks and receipt
        self._outcome(decision, reason=decision.reason, seq=record.seq)

    def _select(self, decision: Decision) -> None:
        clerks = self.identity.roster
        action = decision.action
        if action is Action.SELECT_START:
            ids = [c.id for c in clerks]
            self._select_index = ids.index(self.clerk_id) if self.clerk_id in ids else 0
        elif action is Action.SELECT_NEXT:
            self._select_index = (self._select_index + 1) % len(clerks)
        elif action is Action.SELECT_CONFIRM:
            self._on_duty(clerks[self._select_index].id)
        if action in (Action.SELECT_CONFIRM, Action.SELECT_CANCEL):
            self._show_idle()
        else:
            self._show(presenter.select_frame(self._scene(), self.policy.has_served))
        self._outcome(decision)

    def _on_duty(self, chosen: str) -> None:
        if chosen != self.clerk_id:
            self._record_event(EventType.CLERK_ON_DUTY, clerk=chosen, previous=self.clerk_id)
            self.clerk_id = chosen

    # --- the server ----------------------------------------------------------------------
    def _configured(self, config: DeviceConfig) -> None:
        from kiosk.provision import remember_config

        previous = self.identity.version
        self.identity = self.identity.with_server(config)
        self.box.use_keys(self.identity.keys)  # kept for months: the kiosk may go offline
        self.clerk_id = self.identity.clerk(self.clerk_id).id
        self._record_event(EventType.CONFIG_CHANGE, source="server", previous=previous,
                           version=self.identity.version)  # fmt: skip
        try:
            remember_config(config)
        except OSError as exc:  # the next start will fetch it again
            self._record_event(EventType.CONFIG_NOT_SAVED, error=str(exc))
        self.printing.results_slip(self.identity, in_service=self.fault is None)
        self._refresh_idle()

    # --- the box, the screen --------------------------------------------------------------
    def _box_tick(self) -> None:
        try:
            self.box.tick()
        except BallotBoxError as exc:
            self._out_of_service(str(exc))
            return
        if self.printing.box_slips(self.identity):
            self._refresh_idle()
        self.printing.results_slip(self.identity, in_service=self.fault is None)
        self.printing.check()

    def _record_event(self, event_type: EventType, **detail: Any) -> Record | None:
        """The EVENT written, or None when the ledger refused it (out of service now)."""
        try:
            return self.box.event(event_type, **detail)
        except BallotBoxError as exc:
            self._out_of_service(str(exc))
            return None

    def _show(self, frame: Frame, hold: bool = False) -> None:
        self.current_frame = frame
        hold_ms = self.config.screen.thanks_s * 1000
        self._screen_until_ms = self._now_ms() + hold_ms if hold else None
        self.screen.show(frame)  # a screen fault is written down, never raised

    def _show_idle(self) -> None:
        self._show(self._resting_frame())

    def _resting_frame(self) -> Frame:
        moment = self.box.peek_time()
        return presenter.resting_frame(self._scene(moment), self.fault, self.printing.fault,
                                       clock_fault=moment.fault,
                                       server_fault=self.server.fault,
                                       sealing=self.seal_notice())  # fmt: skip

    def seal_notice(self) -> str:
        """An enrolled kiosk's notice when its open box has no key of its own (a kiosk
        that works alone has none to expect: ``kiosk status`` says it)."""
        if self.identity.keys is None:
            return ""
        return presenter.seal_notice(self.box.sealing_key)

    def _refresh_idle(self) -> None:
        if self._screen_until_ms is None and self.current_frame.kind in (
            FrameKind.IDLE,
            FrameKind.OUT_OF_SERVICE,
        ):
            self._show_idle()

    def _out_of_service(self, reason: str) -> None:
        if self.fault != reason:
            self.fault = reason
            self.controls.show_status(False)
            self.notifier.status(_("Out of service: {reason}").format(reason=reason))
        self._show_idle()

    def _back_in_service(self) -> None:
        if self.fault is not None:
            self.fault = None
            self.controls.show_status(True)
            self.notifier.status(presenter.status_text(self.box.state))
            self._show_idle()

    # --- views (made by kiosk.presenter) --------------------------------------------------
    def clerk(self) -> ClerkCard:
        return self.identity.clerk(self.clerk_id)

    def _scene(self, moment: Stamp | None = None) -> presenter.Scene:
        moment = moment or self.box.peek_time()  # the time the ballots would carry
        now_text = presenter.time_text(moment.wall_ms, moment.tq)
        return presenter.Scene(self.identity, self.clerk_id, self._select_index, now_text)

    def _frame(self, kind: FrameKind, **fields: Any) -> Frame:
        return presenter.frame(self._scene(), kind, **fields)

    # --- for the simulator and tests --------------------------------------------------------
    def _outcome(self, decision: Decision, **fields: Any) -> None:
        values = {"action": decision.action.value, "reason": decision.reason or "", **fields}
        self.outcomes.add(decision.button, **values)

    def wait_settled(
        self, button: str, after_outcome: int, timeout_s: float = 5.0
    ) -> list[Outcome]:
        """Wait until ``button``'s last edge has been settled and carried out."""

        def idle() -> bool:
            return self._events.empty() and not self.policy.pending(button)

        return self.outcomes.wait_settled(
            button, after_outcome, idle, timeout_s, nudge=lambda: self._events.put(Settle())
        )

    def close(self) -> None:
        self.controls.close()


__all__ = ["SERVED", "Display", "Kiosk", "Outcome", "TicketSink"]
