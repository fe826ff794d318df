"""``hom-phieu kiosk selftest``: walk a technician through every part, report what failed.

Each button is pressed on request (its LED lights while the kiosk waits), the buzzer
beeps, the screen shows the test pattern with Vietnamese text, and the printer prints a
test slip. What a machine can check it checks (a press arrived, the printer took the
bytes); what only eyes and ears can check is asked. Nothing is written to the ballot
box: the selftest never touches the ledger. It needs the GPIO pins, so the kiosk
service must be stopped first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hom_phieu import formatting
from hom_phieu.i18n import _
from hom_phieu.render.views import ButtonLegend, Frame, FrameKind, Slip
from kiosk.press_policy import SERVED

PRESS_TIMEOUT_S = 20.0
PRINT_TIMEOUT_S = 30.0
VIETNAMESE_SAMPLE = "Đặng Thị Ngọc Ánh, Nguyễn Văn Lưỡng, ỄỆỸỴ"


class Technician(Protocol):
    def say(self, text: str) -> None: ...
    def confirm(self, question: str) -> bool: ...
    def waiting_for_press(self, button: str) -> None: ...  # a hook for simulated hands


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


class Selftest:
    """Runs the checks over the kiosk's own parts: controls, display, printer."""

    def __init__(
        self,
        config: Any,
        controls_factory: Callable[[Callable[[str, bool], None]], Any],
        display: Any,
        printer_factory: Callable[[Callable[[str, bool, str | None], None]], Any] | None,
        technician: Technician,
        clock_ms: Callable[[], int],
    ) -> None:
        self.config = config
        self.display = display
        self.printer_factory = printer_factory
        self.technician = technician
        self.clock_ms = clock_ms
        self._pressed: dict[str, threading.Event] = {}
        self.controls = controls_factory(self._edge)
        self.checks: list[Check] = []

    def _edge(self, button: str, pressed: bool) -> None:
        if pressed and button in self._pressed:
            self._pressed[button].set()

    def run(self) -> list[Check]:
        self._screen()
        for spec in self.config.buttons:
            self._button(spec.name, spec.label, self.controls.leds.get(spec.name))
        if SERVED in self.controls.buttons:
            self._button(SERVED, _("Served"), self.controls.served_led)
        self._status_led()
        self._buzzer()
        self._printer()
        return self.checks

    # --- the checks -----------------------------------------------------------------------
    def _screen(self) -> None:
        device = self.config.device
        legend = tuple(ButtonLegend(b.name, b.label, b.colour) for b in self.config.buttons)
        frame = Frame(FrameKind.TEST, device.office, device.counter, buttons=legend)
        try:
            self.display.show(frame)
        except Exception as exc:
            self._record(_("screen"), False, str(exc))
            return
        question = _("Does the screen show the test pattern with «{sample}» written correctly?")
        self._record(
            _("screen"), self.technician.confirm(question.format(sample=VIETNAMESE_SAMPLE))
        )

    def _button(self, name: str, label: str, led: Any) -> None:
        event = self._pressed.setdefault(name, threading.Event())
        if led is not None:
            led.on()
        self.technician.say(
            _("Press the button «{label}» ({name}).").format(label=label, name=name)
        )
        self.technician.waiting_for_press(name)
        arrived = event.wait(PRESS_TIMEOUT_S)
        what = _("button {name}").format(name=name)
        detail = "" if arrived else _("no press within {seconds} s: check the wiring and the pin")
        self._record(what, arrived, detail.format(seconds=int(PRESS_TIMEOUT_S)))
        if led is not None:
            lit = self.technician.confirm(_("Was the button's light on?"))
            led.off()
            self._record(_("light of {name}").format(name=name), lit)

    def _status_led(self) -> None:
        led = self.controls.status_led
        if led is None:
            return
        led.blink(on_time=0.3, off_time=0.3)
        ok = self.technician.confirm(_("Is the status light blinking?"))
        led.off()
        self._record(_("status light"), ok)

    def _buzzer(self) -> None:
        buzzer = self.controls.buzzer
        if buzzer is None:
            return
        buzzer.beep(on_time=0.2, off_time=0.2, n=2)
        self._record(_("buzzer"), self.technician.confirm(_("Did you hear two beeps?")))

    def _printer(self) -> None:
        if self.printer_factory is None:
            self.technician.say(_("No printer is configured: skipped."))
            return
        from hardware.printer import slip_data

        stamp = formatting.date_time(self.clock_ms())
        slip = Slip(
            title=_("TEST TICKET"),
            office=self.config.device.office,
            counter=self.config.device.counter,
            lines=((_("Sample"), VIETNAMESE_SAMPLE),),
            date_text=stamp[:10],
            time_text=stamp[11:16],
        )
        done = threading.Event()
        result: list[tuple[bool, str | None]] = []

        def on_result(job_id: str, ok: bool, error: str | None) -> None:
            result.append((ok, error))
            done.set()

        worker = self.printer_factory(on_result)
        try:
            worker.submit("selftest", slip_data(slip, self.config.printer))
            answered = done.wait(PRINT_TIMEOUT_S)
        except Exception as exc:
            self._record(_("printer"), False, str(exc))
            return
        finally:
            worker.close()
        if not answered:
            self._record(_("printer"), False, _("no answer from the printer"))
            return
        ok, error = result[0]
        if not ok:
            self._record(_("printer"), False, error or "")
            return
        question = _("Did a test ticket come out with «{sample}» written correctly?")
        self._record(
            _("printer"), self.technician.confirm(question.format(sample=VIETNAMESE_SAMPLE))
        )

    def _record(self, name: str, ok: bool, detail: str = "") -> None:
        self.checks.append(Check(name, ok, detail))
        mark = "OK" if ok else _("FAILED")
        self.technician.say(f"  [{mark}] {name}" + (f": {detail}" if detail else ""))

    def close(self) -> None:
        self.controls.close()


def report(checks: list[Check]) -> str:
    failed = [c for c in checks if not c.ok]
    if not failed:
        return _("Selftest passed: {count} checks.").format(count=len(checks))
    lines = [_("Selftest FAILED: {failed} of {count} checks.").format(
        failed=len(failed), count=len(checks))]  # fmt: skip
    lines += [f"  - {c.name}" + (f": {c.detail}" if c.detail else "") for c in failed]
    return "\n".join(lines)
