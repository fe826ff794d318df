"""The buttons, LEDs and buzzer at the counter, through gpiozero.

Callbacks run on gpiozero's one shared thread, so they only hand the raw edge to
``on_edge`` (which enqueues it); debounce and every rule live in the daemon's main
loop. ``bounce_time`` stays off here: on lgpio it delays every press, and the press
policy debounces by stability instead. Feedback never shows which button was pressed:
after a committed vote all rating LEDs flash together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gpiozero import LED, Buzzer, Device, DigitalInputDevice

from hom_phieu.ledger.records import SERVED

EdgeCallback = Callable[[str, bool], None]


class Controls:
    """Every GPIO device of one kiosk. ``pin_factory`` None: gpiozero's default (lgpio)."""

    def __init__(self, config: Any, on_edge: EdgeCallback, pin_factory: Any = None) -> None:
        self._devices: list[Device] = []
        self.buttons: dict[str, DigitalInputDevice] = {}
        self.leds: dict[str, LED] = {}
        for spec in config.buttons:
            self._button(spec.name, spec.pin, on_edge, pin_factory)
            if spec.led_pin is not None:
                self.leds[spec.name] = self._add(LED(spec.led_pin, pin_factory=pin_factory))
        served = config.served_button
        if served.pin is not None:
            self._button(SERVED, served.pin, on_edge, pin_factory)
        self.served_led = self._optional(LED, served.led_pin, pin_factory)
        self.status_led = self._optional(LED, config.status_led.pin, pin_factory)
        self.buzzer = self._optional(Buzzer, config.buzzer.pin, pin_factory)

    def _add(self, device: Device) -> Any:
        self._devices.append(device)
        return device

    def _optional(self, kind: type, pin: int | None, pin_factory: Any) -> Any:
        return None if pin is None else self._add(kind(pin, pin_factory=pin_factory))

    def _button(self, name: str, pin: int, on_edge: EdgeCallback, pin_factory: Any) -> None:
        # DigitalInputDevice, not Button: Button's hold thread wakes ten times a second
        # per button, and holds are timed by the press policy anyway.
        button = self._add(
            DigitalInputDevice(pin, pull_up=True, bounce_time=None, pin_factory=pin_factory)
        )
        button.when_activated = lambda: on_edge(name, True)
        button.when_deactivated = lambda: on_edge(name, False)
        self.buttons[name] = button

    # --- feedback (returns at once: gpiozero blinks in its own background thread) ------------
    def thank(self) -> None:
        """A committed vote: every rating LED flashes together, one short beep."""
        for led in self.leds.values():
            led.blink(on_time=0.15, off_time=0.15, n=3)
        if self.buzzer is not None:
            self.buzzer.beep(on_time=0.12, off_time=0.1, n=1)

    def refuse(self) -> None:
        """A refused press: two low beeps, no light (nothing was counted)."""
        if self.buzzer is not None:
            self.buzzer.beep(on_time=0.05, off_time=0.08, n=2)

    def show_status(self, healthy: bool, armed: bool = False) -> None:
        if self.status_led is not None:
            if healthy:
                self.status_led.on()
            else:
                self.status_led.blink(on_time=0.2, off_time=0.2)
        if self.served_led is not None:
            self.served_led.value = 1 if armed else 0

    def close(self) -> None:
        for device in reversed(self._devices):
            device.close()
        self._devices.clear()
