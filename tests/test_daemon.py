"""The kiosk daemon with real gpiozero devices on MockFactory pins, a real ballot box,
real rendering and python-escpos printers; the clock is injected."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from hardware.controls import Controls
from hardware.escpos_decode import decode
from hardware.output import FrameDisplay, TicketPrinter
from hardware.printer import PrinterWorker
from hardware.screen import NullScreen
from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Kind
from hom_phieu.render.views import FrameKind
from kiosk.config import parse_config
from kiosk.daemon import Kiosk
from tests.kiosk_helpers import CONFIG, FlakyDummy
from tests.polling import wait_for


class Rig:
    def __init__(
        self, tmp_path: Path, key: DeviceKey, text: str = CONFIG, screen=None, clock=None
    ) -> None:
        self.config = parse_config(text)
        self.clock = clock or FakeClock.at("2026-11-03T08:00:00")
        self.factory = MockFactory()
        self.box = BallotBox.open(tmp_path / "ledger.sqlite3", key, self.clock)
        self.screen = screen or NullScreen()
        self.display = FrameDisplay(self.screen, 480, 320)
        self.paper = FlakyDummy()
        self.worker = PrinterWorker(self.config.printer, self._printed, connect=lambda: self.paper)
        self.printer = TicketPrinter(self.worker, self.config.printer)
        self.kiosk = Kiosk(
            config=self.config,
            box=self.box,
            clock=self.clock,
            controls_factory=lambda on_edge: Controls(self.config, on_edge, self.factory),
            display=self.display,
            printer=self.printer,
        )

    def _printed(self, job_id: str, ok: bool, error: str | None) -> None:
        self.kiosk.on_printed(job_id, ok, error)

    def pin(self, name: str):
        return self.kiosk.controls.buttons[name].pin

    def step(self, ms: int) -> None:
        self.clock.advance(ms)
        self.kiosk.pump()

    def press(self, name: str, hold_ms: int = 120) -> None:
        self.pin(name).drive_low()
        self.step(hold_ms)
        self.pin(name).drive_high()
        self.step(40)

    def settle_printer(self) -> None:
        assert self.worker.wait_idle(10)
        self.kiosk.pump()

    def records(self, kind: Kind):
        return [r for r in self.box.records_after(0) if r.kind is kind]

    def close(self) -> None:
        self.kiosk.close()
        self.worker.close()
        self.box.close()


@pytest.fixture
def rig(tmp_path: Path, key: DeviceKey):
    made = Rig(tmp_path, key)
    yield made
    made.close()


def test_a_press_is_a_vote_then_thanks_then_a_ticket(rig: Rig) -> None:
    rig.press("hai_long")
    (vote,) = rig.records(Kind.VOTE)
    assert vote.body["level"] == "satisfied" and vote.body["clerk"] == "lan"
    frame = rig.kiosk.current_frame
    assert frame.kind is FrameKind.THANKS and frame.receipt_code
    rig.settle_printer()
    (job,) = rig.paper.jobs
    printed = decode(job)
    assert printed.cuts == 1 and printed.images
    rig.step(5000)  # the thank-you screen goes back to idle
    assert rig.kiosk.current_frame.kind is FrameKind.IDLE


def test_feedback_is_the_same_whatever_the_level(rig: Rig) -> None:
    """All rating LEDs flash together: onlookers cannot tell which button counted."""
    leds = [
        rig.kiosk.controls.leds[name].pin for name in ("rat_hai_long", "hai_long", "khong_hai_long")
    ]
    for led in leds:
        led.clear_states()
    rig.press("khong_hai_long")
    rig.kiosk.controls.leds["khong_hai_long"]._blink_thread.join(2)
    histories = [[state.state for state in led.states] for led in leds]
    assert histories[0] == histories[1] == histories[2]
    assert histories[0].count(True) == 3


def test_a_bounce_storm_on_the_pin_is_one_vote(rig: Rig) -> None:
    pin = rig.pin("rat_hai_long")
    for _ in range(25):
        pin.drive_low()
        rig.step(1)
        pin.drive_high()
        rig.step(1)
    pin.drive_low()
    rig.step(150)
    for _ in range(5):
        pin.drive_high()
        rig.step(2)
        pin.drive_low()
        rig.step(2)
    pin.drive_high()
    rig.step(50)
    assert len(rig.records(Kind.VOTE)) == 1
    assert rig.records(Kind.REFUSED) == []


def test_a_held_button_is_refused_not_counted(rig: Rig) -> None:
    rig.press("rat_hai_long", hold_ms=4000)
    assert rig.records(Kind.VOTE) == []
    (refused,) = rig.records(Kind.REFUSED)
    assert refused.body["reason"] == "held" and refused.body["button"] == "rat_hai_long"


def test_too_quick_second_vote_is_refused(rig: Rig) -> None:
    rig.press("hai_long")
    rig.step(500)
    rig.press("rat_hai_long")
    assert len(rig.records(Kind.VOTE)) == 1
    (refused,) = rig.records(Kind.REFUSED)
    assert refused.body["reason"] == "min_gap"
    rig.settle_printer()
    assert len(rig.paper.jobs) == 1  # no ticket for a refused press


def test_armed_mode_needs_the_served_button(tmp_path: Path, key: DeviceKey) -> None:
    text = CONFIG.replace("min_gap_ms = 3000", "min_gap_ms = 3000\narmed_mode = true")
    rig = Rig(tmp_path, key, text=text)
    try:
        rig.press("hai_long")
        assert rig.records(Kind.VOTE) == []
        assert rig.records(Kind.REFUSED)[0].body["reason"] == "not_armed"
        assert rig.kiosk.current_frame.kind is FrameKind.WAITING
        rig.step(4000)
        rig.press("served")
        assert rig.kiosk.current_frame.kind is FrameKind.ARMED
        assert rig.kiosk.controls.served_led.is_lit
        rig.press("hai_long")
        assert len(rig.records(Kind.VOTE)) == 1
        assert not rig.kiosk.controls.served_led.is_lit
    finally:
        rig.close()


def test_clerk_on_duty_gesture_is_recorded_and_survives_restart(tmp_path: Path, key) -> None:
    rig = Rig(tmp_path, key)
    try:
        rig.press("served", hold_ms=3200)
        assert rig.kiosk.current_frame.kind is FrameKind.CLERK_SELECT
        rig.press("served")  # next: Đặng Thị Ngọc Ánh
        assert rig.kiosk.current_frame.selected == 1
        rig.press("served", hold_ms=3200)  # confirm
        events = [r.body for r in rig.records(Kind.EVENT) if r.body["type"] == "clerk_on_duty"]
        assert events == [{"type": "clerk_on_duty", "clerk": "anh", "previous": "lan"}]
        rig.step(3000)
        rig.press("rat_hai_long")
        assert rig.records(Kind.VOTE)[-1].body["clerk"] == "anh"
        assert len(rig.records(Kind.VOTE)) == 1
    finally:
        rig.close()
    again = Rig(tmp_path, key)
    try:
        assert again.kiosk.clerk_id == "anh"
        assert again.kiosk.current_frame.clerk.name == "Đặng Thị Ngọc Ánh"
    finally:
        again.close()


def test_printer_failing_mid_ticket_keeps_the_vote_once_and_shows_the_fault(rig: Rig) -> None:
    rig.paper.fail_next = True
    rig.press("hai_long")
    rig.settle_printer()
    assert len(rig.records(Kind.VOTE)) == 1
    faults = [r.body for r in rig.records(Kind.EVENT) if r.body["type"] == "printer_fault"]
    assert len(faults) == 1 and "Input/output error" in faults[0]["error"]
    assert rig.kiosk.printing.fault
    rig.step(5000)
    idle = rig.kiosk.current_frame
    assert idle.kind is FrameKind.IDLE and idle.message  # staff see the fault
    assert rig.paper.jobs == []  # the failed ticket is not printed again
    rig.step(3000)
    rig.press("rat_hai_long")
    rig.settle_printer()
    assert len(rig.records(Kind.VOTE)) == 2 and len(rig.paper.jobs) == 1
    kinds = [r.body["type"] for r in rig.records(Kind.EVENT)]
    assert kinds.count("printer_fault") == 1 and kinds.count("printer_recovered") == 1
    assert rig.kiosk.printing.fault is None


class BrokenScreen(NullScreen):
    def _put(self, image) -> None:
        raise OSError("HDMI cable unplugged")


def test_a_broken_screen_never_stops_votes(tmp_path: Path, key: DeviceKey) -> None:
    rig = Rig(tmp_path, key, screen=BrokenScreen())
    try:
        rig.press("hai_long")
        rig.step(3000)
        rig.press("hai_long")
        assert len(rig.records(Kind.VOTE)) == 2
        faults = [r for r in rig.records(Kind.EVENT) if r.body["type"] == "screen_fault"]
        assert len(faults) == 1 and "HDMI" in faults[0].body["error"]
    finally:
        rig.close()


def test_full_disk_puts_the_kiosk_out_of_service_and_loses_nothing(rig: Rig) -> None:
    rig.press("hai_long")
    conn = rig.box.store.conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    for _ in range(40):  # until the ledger cannot grow
        rig.step(3500)
        rig.press("hai_long")
        if rig.kiosk.fault:
            break
    assert rig.kiosk.fault and "full" in rig.kiosk.fault
    assert rig.kiosk.current_frame.kind is FrameKind.OUT_OF_SERVICE
    acknowledged = [o for o in rig.kiosk.outcomes.after(0) if o.action == "vote"]
    conn.execute("PRAGMA max_page_count = 1073741823")  # space freed
    rig.step(60_000)
    rig.press("rat_hai_long")
    assert rig.kiosk.fault is None
    assert rig.kiosk.current_frame.kind is FrameKind.THANKS
    stored = {r.seq for r in rig.records(Kind.VOTE)}
    assert {o.seq for o in acknowledged} <= stored


def test_box_slips_at_first_start_and_for_a_month_turned_while_switched_off(
    tmp_path: Path, key: DeviceKey
) -> None:
    text = CONFIG.replace("print_box_slips = false", "print_box_slips = true")
    clock = FakeClock.at("2026-11-30T17:00:00")
    rig = Rig(tmp_path, key, text=text, clock=clock)
    rig.step(1000)
    rig.settle_printer()
    assert len(rig.paper.jobs) == 1  # the first box's zero report
    rig.close()
    clock.reboot(wall_ms=FakeClock.at("2026-12-01T07:30:00").wall_ms, synced=True)
    rig = Rig(tmp_path, key, text=text, clock=clock)  # the month turned while it was off
    try:
        rig.step(1000)
        rig.settle_printer()
        assert len(rig.paper.jobs) == 2  # the seal of November, the zero report of December
        closes = rig.records(Kind.CLOSE)
        assert [c.box for c in closes] == ["2026-11"]
        rig.step(1000)
        rig.settle_printer()
        assert len(rig.paper.jobs) == 2  # printed once
    finally:
        rig.close()


def test_a_stalled_printer_is_shown_while_it_hangs(tmp_path: Path, key: DeviceKey) -> None:
    release = threading.Event()

    class Jammed(FlakyDummy):
        def _raw(self, msg: bytes) -> None:
            release.wait(30)  # a usblp write with no paper: it just blocks
            super()._raw(msg)

    rig = Rig(tmp_path, key)
    rig.paper = Jammed()
    rig.worker._stall_after_s = 0.2
    try:
        rig.press("hai_long")
        # Until the worker has been busy past its 0.2 s threshold, not a fixed guess at it.
        wait_for(lambda: rig.worker.status.state == "fault", "the printer's stall")
        rig.step(1000)
        assert rig.kiosk.printing.fault and len(rig.records(Kind.VOTE)) == 1
        faults = [r for r in rig.records(Kind.EVENT) if r.body["type"] == "printer_fault"]
        assert len(faults) == 1
    finally:
        release.set()
        rig.settle_printer()
        rig.close()
    assert rig.kiosk.printing.fault is None  # the ticket came out in the end


def test_on_demand_ticket_is_never_an_earlier_citizens(tmp_path: Path, key: DeviceKey) -> None:
    text = CONFIG.replace(
        "print_box_slips = false", 'print_box_slips = false\nprint_tickets = "on_demand"'
    )
    rig = Rig(tmp_path, key, text=text)
    try:
        rig.press("hai_long")
        rig.press("served")  # the clerk asks for this citizen's ticket
        rig.settle_printer()
        assert len(rig.paper.jobs) == 1
        rig.step(3000)
        conn = rig.box.store.conn
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
        for _ in range(40):  # until a vote fails for lack of space
            rig.press("hai_long")
            rig.press("served")
            if rig.kiosk.fault:
                break
            rig.step(3000)
        assert rig.kiosk.fault
        rig.settle_printer()
        printed = len(rig.paper.jobs)
        rig.press("served")
        rig.settle_printer()
        assert len(rig.paper.jobs) == printed  # nothing printed for the failed vote
    finally:
        rig.close()
