"""The kiosk's configuration: a TOML file (``/etc/hom-phieu/kiosk.toml`` on a Pi).

The schema is the single source of truth: frozen dataclasses whose fields carry type, default
and a one-line ``doc``, read by the validator and by :func:`render_docs`. An empty file gives
defaults a simulated kiosk runs on. :class:`ConfigError` lists every problem, one per line,
with its key (``buttons[2].level``: the second ``[[buttons]]``), what is wrong and the fix.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import tomllib
import types
from collections.abc import Sequence
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any, ClassVar, dataclass_transform, get_args, get_origin, get_type_hints

from hom_phieu import paths
from hom_phieu.i18n import LANGUAGES, N_, _
from hom_phieu.ledger.records import Level

PRINT_WHEN, SCREENS = ("always", "on_demand", "never"), ("none", "framebuffer", "luma", "png")
RESULTS_SLIP = ("never", "once")
COLOURS = ("green", "yellow", "orange", "red", "blue", "white")
LEVEL_COLOURS = dict(very_satisfied="green", satisfied="yellow", not_satisfied="red")
COLOUR_PATTERN = "#[0-9a-fA-F]{6}|" + "|".join(COLOURS)
WHOLE_NUMBER, ALLOWED_VALUE, DATE_TIME = (
    N_("a whole number"),
    N_("an allowed value"),
    N_("a date/time"),
)
FORMS = {  # name: (pattern, what a value must be, how to fix it)
    "identifier": (r"[a-z0-9_]+", N_("an identifier"), N_("use only a-z, 0-9 and _")),
    "code": (r"[a-z0-9][a-z0-9_-]*", N_("a code"), N_("use only a-z, 0-9, _ and -")),
    "url": (r"https?://[^\s/?#]+\S*", N_("a web address"), N_("start it with http(s)://")),
    "colour": (COLOUR_PATTERN, N_("a colour"), N_("use #rrggbb or one of: {names}")),
}


class ConfigError(ValueError):
    """The configuration is unusable; ``problems`` lists every reason, one per line."""

    def __init__(self, problems: Sequence[str], source: str = "<string>") -> None:
        self.problems, self.source = list(problems), source
        super().__init__("\n".join(f"{source}: {problem}" for problem in self.problems))


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


# --- the schema ---------------------------------------------------------------------------
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


# --- loading and validation ---------------------------------------------------------------
DEFAULT_PATH = Path("/etc/hom-phieu/kiosk.toml")


def load_config_or_defaults(path: Path | str | None = None) -> KioskConfig:
    """``path`` when given (it must exist); else :data:`DEFAULT_PATH` if it exists; else the
    embedded defaults. What ``--config`` options should call."""
    if path is None and not DEFAULT_PATH.exists():
        return KioskConfig()
    return load_config(DEFAULT_PATH if path is None else path)


def load_config(path: Path | str) -> KioskConfig:
    """Read and validate the file at ``path``; a missing file is a :class:`ConfigError`."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        problem = _("file not found; create it (see kiosk.example.toml) or give another path")
    except UnicodeDecodeError:
        problem = _("not UTF-8 text; save the file as UTF-8")
    except OSError as exc:
        problem = _("cannot read the file ({reason})").format(reason=exc.strerror or exc)
    else:
        return parse_config(text, str(path))
    raise ConfigError([problem], str(path))


def parse_config(text: str, source: str = "<string>") -> KioskConfig:
    """Validate TOML ``text``; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([_syntax_problem(str(exc), text)], source) from None
    problems: list[str] = []
    parts = _table(data, KioskConfig, "", problems, top=True)
    _cross_check(parts, problems)
    if problems:
        raise ConfigError(problems, source)
    return KioskConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in parts.items()})


def _syntax_problem(message: str, text: str) -> str:
    found = re.search(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$", message)
    if found is None:
        return _("not valid TOML ({reason})").format(reason=message)
    line, column = found.groups()
    if line is None:  # at the end of the document
        line, column = text.count("\n") + 1, len(text.rsplit("\n", 1)[-1]) + 1
    return _(
        "line {line}, column {column}: not valid TOML ({reason}); "
        "check the quotes, brackets and = on that line"
    ).format(line=line, column=column, reason=message[: found.start()])


def _table(data: Any, cls: type, key: str, problems: list[str], top: bool = False) -> Any:
    """Build ``cls`` from ``data`` (in file order), or append the problems and return None.
    At the top, return a dict of every section (arrays as lists; None for broken entries)."""
    if not isinstance(data, dict):
        message = _("{key}: expected a table, got {actual}")
        problems.append(message.format(key=key, actual=_kind(data)))
        return None
    before, known, hints = len(problems), {f.name: f for f in fields(cls)}, get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, value in data.items():
        sub, spec, hint = f"{key}.{name}" if key else name, known.get(name), hints.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, known, n=1)
            if close:
                message = _("{key}: unknown key; did you mean {suggestion}?")
            else:
                message = _("{key}: unknown key; the keys here are: {suggestion}")
            problems.append(message.format(key=sub, suggestion=_listed(close or list(known))))
        elif top and get_origin(hint) is tuple:
            values[name] = _array(value, get_args(hint)[0], spec, sub, problems)
        elif top:
            values[name] = _table(value, hint, sub, problems)
        elif (converted := _value(value, hint, spec.metadata, sub, problems)) is not _BAD:
            values[name] = converted
    for name, spec in known.items():
        if name in data:
            continue
        if spec.default_factory is not MISSING:  # a section left out: its defaults
            values[name] = spec.default_factory()
        elif spec.default is MISSING:
            message = _("{key}: missing; this key is required ({doc})")
            problems.append(message.format(key=f"{key}.{name}", doc=spec.metadata["doc"]))
    if top:
        return values
    return cls(**values) if len(problems) == before else None


def _array(data: Any, cls: type, spec: Field, key: str, problems: list[str]) -> Any:
    if not isinstance(data, list):
        message = _("{key}: expected [[{key}]] tables, got {actual}")
        problems.append(message.format(key=key, actual=_kind(data)))
        return None
    low, high = spec.metadata["low"], spec.metadata["high"]
    if not low <= len(data) <= high:
        message = _("{key}: {count} given; use {low} to {high} [[{key}]] tables")
        problems.append(message.format(key=key, count=len(data), low=low, high=high))
    return [_table(item, cls, f"{key}[{i}]", problems) for i, item in enumerate(data, 1)]


_BAD = object()
_EXPECTED = {bool: N_("true or false"), int: N_("a whole number"), str: N_("text in quotes")}


def _value(value: Any, hint: Any, rules: Any, key: str, problems: list[str]) -> Any:
    """Check one value against its declared type and rules; return it converted, or _BAD."""
    if isinstance(hint, types.UnionType):  # X | None: None only means "absent"
        hint = next(t for t in get_args(hint) if t is not type(None))
    enum = issubclass(hint, Enum)
    raw, shown = str if enum or hint is Path else hint, _show(value)
    choices = rules.get("choices") or (tuple(hint) if enum else ())
    low, high, form = rules.get("low", 0), rules.get("high"), FORMS.get(rules.get("form", ""))
    what = _(rules.get("what", WHOLE_NUMBER if high else ALLOWED_VALUE))
    if type(value) is not raw:
        message, expected = _("{key}: expected {expected}, got {value} ({actual})"), _EXPECTED[raw]
        problem = message.format(key=key, expected=_(expected), value=shown, actual=_kind(value))
    elif isinstance(value, str) and not value.strip():
        problem = _("{key}: must not be empty").format(key=key)
    elif choices and value not in choices:
        message = _("{key}: {value} is not {what}; use one of: {choices}")
        problem = message.format(key=key, value=shown, what=what, choices=_listed(choices))
    elif high is not None and not low <= value <= high:
        message = _("{key}: {value} is out of range; use {what} from {low} to {high}")
        problem = message.format(key=key, value=shown, what=what, low=low, high=high)
    elif form and not re.fullmatch(form[0], value):
        fix = _(form[2]).format(names=_listed(COLOURS))
        message = _("{key}: {value} is not {what}; {fix}")
        problem = message.format(key=key, value=shown, what=_(form[1]), fix=fix)
    else:
        return value if raw is hint else hint(value)
    problems.append(problem)
    return _BAD


def _cross_check(parts: dict[str, Any], problems: list[str]) -> None:
    """Rules across keys: unique names and pins, the clerk on duty, the printer connection."""

    def each(name: str) -> list[tuple[str, Any]]:
        return [(f"{name}[{i}]", x) for i, x in enumerate(parts.get(name) or [], 1) if x]

    def unique(keyed: list[tuple[str, Any]], message: str) -> None:
        owner: dict[Any, str] = {}
        for key, value in keyed:
            if value is not None and value in owner:
                problems.append(message.format(key=key, value=_show(value), other=owner[value]))
            owner.setdefault(value, key)

    message = _("{key}: {value} is already used by {other}; give each button its own name")
    unique([(f"{k}.name", b.name) for k, b in each("buttons")], message)
    message = _("{key}: {value} is already used by {other}; give each clerk their own id")
    unique([(f"{k}.id", c.id) for k, c in each("clerks")], message)
    pins = [(f"{k}.{f}", getattr(b, f)) for k, b in each("buttons") for f in ("pin", "led_pin")]
    for name in ("served_button", "status_led", "buzzer"):
        if part := parts.get(name):
            pins += [(f"{name}.{f.name}", getattr(part, f.name)) for f in fields(part)]
    if (screen := parts.get("screen")) and screen.kind == "luma":
        pins += [(f"screen.{f}", getattr(screen, f)) for f in ("dc_pin", "rst_pin")]
    unique(pins, _("{key}: GPIO {value} is already used by {other}; give each its own pin"))
    device, clerks = parts.get("device"), [c.id for _key, c in each("clerks")]
    roster_ok = parts.get("clerks") and None not in parts["clerks"]
    if device and roster_ok and device.clerk_on_duty not in (None, *clerks):
        message = _("device.clerk_on_duty: {value} is not in [[clerks]]; use one of: {ids}")
        problems.append(message.format(value=_show(device.clerk_on_duty), ids=_listed(clerks)))
    printer = parts.get("printer")
    needs = Printer.NEEDS.get(printer.kind, ()) if printer else ()
    if missing := [k for k in needs if getattr(printer, k) is None]:
        message = _("printer: kind {kind} needs {keys}; add them to [printer]")
        problems.append(message.format(kind=_show(printer.kind), keys=_listed(missing)))
    served, stuffing = parts.get("served_button"), parts.get("anti_stuffing")
    if stuffing and stuffing.armed_mode and served and served.pin is None:
        problems.append(_("anti_stuffing.armed_mode: needs a served button; set served_button.pin"))
    if printer and printer.print_tickets == "on_demand" and served and served.pin is None:
        problems.append(
            _("printer.print_tickets: on_demand needs a served button; set served_button.pin")
        )


def _listed(values: Sequence[Any]) -> str:
    return ", ".join(map(str, values))


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _kind(value: Any) -> str:
    kinds = {bool: N_("true/false"), int: N_("a whole number"), float: N_("a decimal number"),
             str: N_("text"), list: N_("a list"), dict: N_("a table")}  # fmt: skip
    return _(next((w for t, w in kinds.items() if isinstance(value, t)), DATE_TIME))


# --- documentation ------------------------------------------------------------------------
def render_docs() -> str:
    """The Markdown reference of every section and key, from the schema (always English)."""
    out = [
        "# Kiosk configuration (`kiosk.toml`)\n",
        "<!-- Made by `python -m kiosk.config --docs > docs/kiosk-config.md`; do not edit. -->\n",
        "The kiosk reads TOML from `/etc/hom-phieu/kiosk.toml` (or `--config FILE`); every key",
        "is optional, and an empty file gives the defaults below, on which a simulated kiosk",
        "runs. `kiosk.example.toml` is a commented example. `python -m kiosk.config --check FILE`",
        "lists every problem with its key (`buttons[2].pin` is in the second `[[buttons]]`,",
        "counted from 1) and the fix. `<state>` is `$HOM_PHIEU_HOME`, else `$STATE_DIRECTORY`,",
        "else `~/.local/share/hom-phieu`. Pins are BCM GPIO numbers, each used at most once.",
    ]
    hints = get_type_hints(KioskConfig)
    for spec in fields(KioskConfig):
        array = get_origin(hints[spec.name]) is tuple
        cls = get_args(hints[spec.name])[0] if array else hints[spec.name]
        doc = spec.metadata["doc"]
        if array:
            low, high = spec.metadata["low"], spec.metadata["high"]
            doc += f" From {low} to {high} entries; *required* keys must be given."
        if cls is Printer:
            needs = "; ".join(f"`{k}` needs {', '.join(v)}" for k, v in Printer.NEEDS.items())
            doc += f" Each `kind` needs its connection keys: {needs}."
        title = f"## `[[{spec.name}]]`" if array else f"## `[{spec.name}]`"
        out += ["", title, "", doc, "", "| Key | Type | Default | Meaning |", "|---|---|---|---|"]
        item_hints = get_type_hints(cls)
        for f in fields(cls):
            kind = _doc_type(item_hints[f.name], f.metadata)
            out.append(f"| `{f.name}` | {kind} | {_doc_default(f)} | {f.metadata['doc']} |")
        if array:
            out += ["", "Default:", "", "```toml"]
            for item in spec.default_factory():
                values = [(f.name, getattr(item, f.name)) for f in fields(item)]
                out.append(f"[[{spec.name}]]")
                out += [f"{k} = {_show(v)}" for k, v in values if v is not None] + [""]
            out[-1] = "```"
    return "\n".join(out) + "\n"


def _doc_type(hint: Any, rules: Any) -> str:
    if isinstance(hint, types.UnionType):
        hint = next(t for t in get_args(hint) if t is not type(None))
    text = {bool: "boolean", int: "integer", Path: "path"}.get(hint, "text")
    if choices := rules.get("choices") or (tuple(hint) if issubclass(hint, Enum) else ()):
        return text + ": " + " / ".join(f"`{_show(c)}`" for c in choices)
    if "high" in rules:
        return f"{text}, {rules.get('low', 0)}–{rules['high']}"
    if "form" in rules:
        return f"{text}; {FORMS[rules['form']][2].format(names=', '.join(COLOURS))}"
    return text


def _doc_default(spec: Field) -> str:
    if "shown" in spec.metadata:
        return spec.metadata["shown"]
    if spec.default is MISSING:
        return "*required*"
    return "unset" if spec.default is None else f"`{_show(spec.default)}`"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kiosk.config --docs`` or ``--check FILE``."""
    parser = argparse.ArgumentParser(
        prog="python -m kiosk.config", description="Check a kiosk.toml, or print its reference."
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--docs", action="store_true", help="print the Markdown reference")
    group.add_argument("--check", metavar="FILE", help="validate FILE; exit 1 with the problems")
    args = parser.parse_args(argv)
    if args.docs:
        sys.stdout.write(render_docs())
        return 0
    try:
        load_config(args.check)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(_("{source}: the configuration is valid").format(source=args.check))
    return 0


if __name__ == "__main__":
    sys.exit(main())
