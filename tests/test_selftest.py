"""The technician's walk-through, with MockFactory pins and python-escpos' Dummy printer."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from escpos.printer import Dummy
from gpiozero.pins.mock import MockFactory

from hardware.controls import Controls
from hardware.escpos_decode import decode
from hardware.output import FrameDisplay
from hardware.printer import PrinterWorker
from hardware.screen import NullScreen
from hom_phieu.render.views import FrameKind
from kiosk import selftest as selftest_module
from kiosk.config import parse_config
from kiosk.selftest import Selftest, report
from tests.kiosk_helpers import CONFIG


class Hands:
    """A technician who presses what is asked (except ``skip``) and answers yes."""

    def __init__(self, skip: set[str] = frozenset()) -> None:
        self.skip = skip
        self.said: list[str] = []
        self.asked: list[str] = []
        self.controls: Controls | None = None

    def say(self, text: str) -> None:
        self.said.append(text)

    def confirm(self, question: str) -> bool:
        self.asked.append(question)
        return True

    def waiting_for_press(self, button: str) -> None:
        if button in self.skip:
            return
        pin = self.controls.buttons[button].pin
        threading.Timer(0.02, lambda: (pin.drive_low(), pin.drive_high())).start()


def walk(hands: Hands, paper: Dummy | None, monkeypatch) -> tuple[list, FrameDisplay]:
    monkeypatch.setattr(selftest_module, "PRESS_TIMEOUT_S", 1.0)
    config = parse_config(CONFIG)
    factory = MockFactory()
    display = FrameDisplay(NullScreen(), 480, 320)

    def controls(on_edge):
        hands.controls = Controls(config, on_edge, factory)
        return hands.controls

    printer = None
    if paper is not None:

        def printer(on_result):
            return PrinterWorker(config.printer, on_result, connect=lambda: paper)

    test = Selftest(config, controls, display, printer, hands, lambda: 1_795_000_000_000)
    try:
        return test.run(), display
    finally:
        test.close()


def test_everything_answers(monkeypatch) -> None:
    paper = Dummy()
    checks, display = walk(Hands(), paper, monkeypatch)
    assert all(c.ok for c in checks), report(checks)
    names = [c.name for c in checks]
    assert "button served" in names and "buzzer" in names and "printer" in names
    assert display.last_image is not None
    printed = decode(paper.output)
    assert printed.images and printed.cuts == 1
    assert report(checks).startswith("Selftest passed")


def test_a_dead_button_and_a_dead_printer_are_reported(monkeypatch) -> None:
    class DeadPrinter(Dummy):
        def _raw(self, msg: bytes) -> None:
            raise OSError(19, "No such device")

    checks, _ = walk(Hands(skip={"hai_long"}), DeadPrinter(), monkeypatch)
    failed = {c.name: c.detail for c in checks if not c.ok}
    assert set(failed) == {"button hai_long", "printer"}
    assert "no press within" in failed["button hai_long"]
    text = report(checks)
    assert "FAILED: 2 of" in text and "hai_long" in text


@pytest.mark.parametrize("lang, expected", [("en", "Selftest passed"), ("vi", "Tự kiểm tra đạt")])
def test_selftest_command_rehearsal(lang: str, expected: str, isolated_home: Path) -> None:
    command = str(Path(sys.executable).with_name("hom-phieu"))
    result = subprocess.run(
        [command, "--lang", lang, "kiosk", "selftest", "--simulate", "--yes"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOM_PHIEU_HOME": str(isolated_home)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert expected in result.stdout


def test_selftest_shows_the_test_frame(monkeypatch) -> None:
    seen = []

    class Watching(FrameDisplay):
        def show(self, frame) -> None:
            seen.append(frame.kind)
            super().show(frame)

    monkeypatch.setattr(selftest_module, "PRESS_TIMEOUT_S", 1.0)
    config = parse_config(CONFIG)
    factory = MockFactory()
    hands = Hands()

    def controls(on_edge):
        hands.controls = Controls(config, on_edge, factory)
        return hands.controls

    test = Selftest(config, controls, Watching(NullScreen(), 480, 320), None, hands, lambda: 0)
    try:
        test.run()
    finally:
        test.close()
    assert seen == [FrameKind.TEST]
    assert any("No printer" in line for line in hands.said)
