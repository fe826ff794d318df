"""A kiosk daemon for fault tests: real gpiozero buttons on MockFactory pins, a real ballot
box, a python-escpos Dummy printer, no screen; the clock is injected and the loop is pumped
by hand (tests.test_clock_attacks, tests.test_kiosk_faults)."""

from __future__ import annotations

from pathlib import Path

from gpiozero.pins.mock import MockFactory

from hardware.controls import Controls
from hardware.output import FrameDisplay, TicketPrinter
from hardware.printer import PrinterWorker
from hardware.screen import NullScreen
from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Kind, Record
from kiosk.config import parse_config
from kiosk.daemon import Kiosk
from tests.kiosk_helpers import CONFIG, FlakyDummy


class DaemonRig:
    """One kiosk on ``ledger``; :meth:`close` it (the ledger stays for a restart)."""

    def __init__(self, ledger: Path, key: DeviceKey, clock: FakeClock) -> None:
        self.clock = clock
        self.config = parse_config(CONFIG)
        self.factory = MockFactory()
        self.box = BallotBox.open(ledger, key, clock)
        self.paper = FlakyDummy()
        self.worker = PrinterWorker(self.config.printer, self._printed, connect=lambda: self.paper)
        self.kiosk = Kiosk(
            config=self.config,
            box=self.box,
            clock=clock,
            controls_factory=lambda on_edge: Controls(self.config, on_edge, self.factory),
            display=FrameDisplay(NullScreen(), 480, 320),
            printer=TicketPrinter(self.worker, self.config.printer),
        )

    def _printed(self, job_id: str, ok: bool, error: str | None) -> None:
        self.kiosk.on_printed(job_id, ok, error)

    def step(self, ms: int) -> None:
        self.clock.advance(ms)
        self.kiosk.pump()

    def press(self, name: str = "hai_long") -> None:
        """A citizen's press and release, then the time the rules ask between votes."""
        pin = self.kiosk.controls.buttons[name].pin
        pin.drive_low()
        self.step(120)
        pin.drive_high()
        self.step(40)
        self.step(5_000)

    def events(self, event_type: str) -> list[Record]:
        return [
            r
            for r in self.box.records_after(0)
            if r.kind is Kind.EVENT and r.body["type"] == event_type
        ]

    def records(self, kind: Kind) -> list[Record]:
        return [r for r in self.box.records_after(0) if r.kind is kind]

    def close(self) -> None:
        self.kiosk.close()
        self.worker.close()
        self.box.close()
