"""The kiosk configuration's schema: every section and key of ``kiosk.toml``.

The single source of truth: frozen dataclasses whose fields carry type, default, rules
(choices, range, form) and a one-line ``doc``. ``kiosk.config`` validates a file against
them (errors naming the key and the fix); ``tools/config_docs.py`` writes
``docs/kiosk-config.md`` from them. An empty file gives defaults a simulated kiosk runs on.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, dataclass_transform

from hom_phieu import paths
from hom_phieu.i18n import LANGUAGES, N_
from hom_phieu.ledger.records import Level

PRINT_WHEN, SCREENS = ("always", "on_demand", "never"), ("none", "framebuffer", "luma", "png")
RESULTS_SLIP = ("never", "once")
COLOURS = ("green", "yellow", "orange", "red", "blue", "white")
LEVEL_COLOURS = dict(very_satisfied="green", satisfied="yellow", not_satisfied="red")
COLOUR_PATTERN = "#[0-9a-fA-F]{6}|" + "|".join(COLOURS)
FORMS = {  # name: (pattern, what a value must be, how to fix it)
    "identifier": (r"[a-z0-9_]+", N_("an identifier"), N_("use only a-z, 0-9 and _")),
    "code": (r"[a-z0-9][a-z0-9_-]*", N_("a code"), N_("use only a-z, 0-9, _ and -")),
    "url": (r"https?://[^\s/?#]+\S*", N_("a web address"), N_("start it with http(s)://")),
    "colour": (COLOUR_PATTERN, N_("a colour"), N_("use #rrggbb or one of: {names}")),
}


def setting(default: Any = MISSING, doc: str = "", **rules: Any) -> Any:
    """One key. ``rules``: choices, low, high, form, what (noun for errors), shown (the default
    as the docs show it). No default: required (only inside ``[[…]]`` entries)."""
    return field(default=default, metadata={"doc": doc, **rules})


def gpio(doc: str, default: Any = None) -> Any:
    return setting(default, doc, low=0, high=27, what=N_("a BCM GPIO number"))


def section(default: Any, doc: str, **rules: Any) -> Any:
    return field(default_factory=lambda: default, metadata={"doc": doc, **rules})


@dataclass_transform(frozen_default=True, field_specifiers=(field, setting, gpio, section))
def schema(cls: type) -> type:
    """A section of the configuration: a frozen dataclass."""
    return dataclass(frozen=True)(cls)


def show(value: Any) -> str:
    """A value as TOML (and JSON) writes it: ``"vi"``, ``true``, ``17``."""
    return json.dumps(value, ensure_ascii=False, default=str)


@schema
class Device:
    office: str = setting("UBND xã Demo", "Office name, on the screen and tickets.")
    office_code: str = setting("demo", "Office code known to the admin server.", form="code")
    counter: str = setting("Quầy 1", "Counter name, on the screen and tickets.")
    language: str = setting("vi", "Language of the screen and tickets.", choices=LANGUAGES)
    clerk_on_duty: str | None = setting(None, "Id of the clerk on duty.", shown="first clerk")
    ledger: Path | None = setting(
        None, "The ballot box (SQLite).", shown="`<state>/kiosk/ballot-box.sqlite3`"
    )
    key: Path | None = setting(
        None, "Ed25519 signing key, made on the device.", shown="`<state>/kiosk/device-key.pem`"
    )


@schema
class Button:
    name: str = setting(doc="Name used in records and the API; unique.", form="identifier")
    label: str = setting(doc="Text shown for this button.")
    level: Level = setting(doc="Satisfaction level a press counts as.", what=N_("a level"))
    pin: int = gpio("BCM GPIO of the push button (other side to ground).", MISSING)
    led_pin: int | None = gpio("BCM GPIO of the button's LED.")
    colour: str | None = setting(None, "LED and screen colour.", form="colour", shown="by level")

    def __post_init__(self) -> None:
        if self.colour is None:
            object.__setattr__(self, "colour", LEVEL_COLOURS[self.level])


@schema
class ServedButton:
    pin: int | None = gpio("BCM GPIO of the clerk's *served* button; unset: none.")
    led_pin: int | None = gpio("BCM GPIO of the served button's LED.")


@schema
class OnePin:
    pin: int | None = gpio("BCM GPIO it is wired to; unset: not fitted.")


@schema
class Clerk:
    id: str = setting(doc="Clerk code used in records (as on the server); unique.", form="code")
    name: str = setting(doc="Full name shown on the screen.")
    title: str = setting("", "Job title shown under the name.")
    survey_url: str | None = setting(None, "Phone survey page behind the QR code.", form="url")


@schema
class AntiStuffing:
    bounce_ms: int = setting(30, "Debounce time (keep it 20–50 ms).", low=0, high=200)
    min_gap_ms: int = setting(3000, "Presses sooner after a vote are refused.", low=0, high=600_000)
    burst_count: int = setting(5, "Most votes per burst window; more refused.", low=1, high=999)
    burst_window_s: int = setting(60, "Length of the burst window, in seconds.", low=1, high=86_400)
    armed_mode: bool = setting(False, "Count a vote only after the clerk presses *served*.")
    armed_timeout_s: int = setting(120, "Seconds an armed vote stays valid.", low=1, high=3600)
    hold_ms: int = setting(1500, "A press held longer is not a vote.", low=300, high=10_000)
    gesture_s: int = setting(3, "Hold to choose the clerk on duty (see docs).", low=2, high=30)
    chord_gesture: bool = setting(
        False, "No served button: first + last buttons held choose the clerk (anyone can)."
    )
    refused_per_minute: int = setting(
        20, "Refused presses logged one by one per minute; more are summed.", low=1, high=600
    )


@schema
class Printer:
    NEEDS: ClassVar = {"usb": ("usb_vendor_id", "usb_product_id"), "serial": ("serial_device",),
                       "network": ("host",), "file": ("file",)}  # fmt: skip
    kind: str = setting("none", "How the printer is connected.", choices=("none", *NEEDS))
    profile: str = setting("POS-5890", "python-escpos printer profile.")
    paper_width_mm: int = setting(58, "Paper width.", choices=(58, 80))
    print_tickets: str = setting("always", "When to print.", choices=PRINT_WHEN)
    print_box_slips: bool = setting(True, "Print the seal and zero-report slips at a month change.")
    results_slip: str = setting(
        "never",
        "When the committee has opened a box: print the office's results slip (totals by "
        "level, never by clerk) once, or never.",
        choices=RESULTS_SLIP,
    )
    usb_vendor_id: int | None = setting(None, "USB vendor id, e.g. 0x0416.", high=0xFFFF)
    usb_product_id: int | None = setting(None, "USB product id, e.g. 0x5011.", high=0xFFFF)
    serial_device: Path | None = setting(None, "Serial port, e.g. /dev/ttyUSB0.")
    baudrate: int = setting(9600, "Serial speed.", low=1200, high=921_600)
    host: str | None = setting(None, "Network printer's host name or address.")
    port: int = setting(9100, "Network printer's TCP port.", low=1, high=65_535)
    file: Path | None = setting(None, "Device or file to write to, e.g. /dev/usb/lp0.")


@schema
class Screen:
    kind: str = setting("png", "Screen driver (png: files, to simulate).", choices=SCREENS)
    device: Path = setting(Path("/dev/fb0"), "Framebuffer device (kind framebuffer).")
    width: int = setting(480, "Width in pixels.", low=16, high=7680)
    height: int = setting(320, "Height in pixels.", low=16, high=4320)
    rotate: int = setting(0, "Rotation in degrees.", choices=(0, 90, 180, 270))
    thanks_s: int = setting(5, "Seconds the thank-you screen stays.", low=1, high=60)
    luma_driver: str = setting("ili9341", "luma.lcd driver (kind luma), e.g. st7735.")
    spi_port: int = setting(0, "SPI bus of the luma display.", low=0, high=6)
    spi_device: int = setting(0, "SPI chip select of the luma display.", low=0, high=3)
    dc_pin: int = gpio("BCM GPIO of the luma display's DC line.", 24)
    rst_pin: int = gpio("BCM GPIO of the luma display's reset line.", 25)


@schema
class Server:
    url: str | None = setting(None, "Admin server; unset: the kiosk works alone.", form="url")
    sync_interval_s: int = setting(30, "Seconds between two syncs.", low=5, high=86_400)


DEFAULT_BUTTONS = (
    Button("rat_hai_long", "Rất hài lòng", Level.VERY_SATISFIED, 17, 5, "green"),
    Button("hai_long", "Hài lòng", Level.SATISFIED, 27, 6, "yellow"),
    Button("khong_hai_long", "Không hài lòng", Level.NOT_SATISFIED, 22, 13, "red"),
)
DEFAULT_CLERKS = (Clerk("lan", "Nguyễn Thị Lan", "Công chức một cửa"),)


@schema
class KioskConfig:
    device: Device = section(Device(), "The office, the counter and the device's files.")
    buttons: tuple[Button, ...] = section(DEFAULT_BUTTONS, "Rating buttons.", low=2, high=5)
    served_button: ServedButton = section(ServedButton(), "The clerk's *served* button.")
    status_led: OnePin = section(OnePin(), "The status LED (ready / fault).")
    buzzer: OnePin = section(OnePin(), "The buzzer that confirms a vote.")
    clerks: tuple[Clerk, ...] = section(DEFAULT_CLERKS, "Roster if no server.", low=1, high=99)
    anti_stuffing: AntiStuffing = section(AntiStuffing(), "Rules against ballot stuffing.")
    printer: Printer = section(Printer(), "The ticket printer.")
    screen: Screen = section(Screen(), "The screen.")
    server: Server = section(Server(), "The admin server.")

    def __post_init__(self) -> None:
        if self.device.clerk_on_duty is None and self.clerks:
            on_duty = replace(self.device, clerk_on_duty=self.clerks[0].id)
            object.__setattr__(self, "device", on_duty)

    @property
    def ledger_path(self) -> Path:
        return self.device.ledger or paths.default_ledger_path()

    @property
    def key_path(self) -> Path:
        return self.device.key or paths.default_key_path()

    @property
    def clerk_on_duty(self) -> Clerk:
        return next(c for c in self.clerks if c.id == self.device.clerk_on_duty)

    def button(self, name: str) -> Button:
        """The button called ``name``; KeyError if there is none."""
        return {b.name: b for b in self.buttons}[name]
