"""The kiosk's configuration: reading and checking a TOML file (``/etc/hom-phieu/kiosk.toml``
on a Pi) against the schema (``kiosk.config_schema``, re-exported here).

:class:`ConfigError` lists every problem, one per line, with its key (``buttons[2].level``:
the second ``[[buttons]]``), what is wrong and the fix. ``hom-phieu kiosk check-config``
shows them; ``tools/config_docs.py`` documents the schema.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
from collections.abc import Sequence
from dataclasses import MISSING, Field, fields
from enum import Enum
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

from hom_phieu.i18n import N_, _
from kiosk.config_schema import (
    COLOURS,
    DEFAULT_BUTTONS,
    DEFAULT_CLERKS,
    FORMS,
    AntiStuffing,
    Button,
    Clerk,
    Device,
    KioskConfig,
    OnePin,
    Printer,
    Screen,
    ServedButton,
    Server,
    show,
)

__all__ = [  # the schema's names too: importers find everything here
    "DEFAULT_BUTTONS",
    "DEFAULT_CLERKS",
    "DEFAULT_PATH",
    "AntiStuffing",
    "Button",
    "Clerk",
    "ConfigError",
    "Device",
    "KioskConfig",
    "OnePin",
    "Printer",
    "Screen",
    "ServedButton",
    "Server",
    "load_config",
    "load_config_or_defaults",
    "parse_config",
]

WHOLE_NUMBER, ALLOWED_VALUE, DATE_TIME = (
    N_("a whole number"),
    N_("an allowed value"),
    N_("a date/time"),
)


class ConfigError(ValueError):
    """The configuration is unusable; ``problems`` lists every reason, one per line."""

    def __init__(self, problems: Sequence[str], source: str = "<string>") -> None:
        self.problems, self.source = list(problems), source
        super().__init__("\n".join(f"{source}: {problem}" for problem in self.problems))


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
    raw, shown = str if enum or hint is Path else hint, show(value)
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
                problems.append(message.format(key=key, value=show(value), other=owner[value]))
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
        problems.append(message.format(value=show(device.clerk_on_duty), ids=_listed(clerks)))
    printer = parts.get("printer")
    needs = Printer.NEEDS.get(printer.kind, ()) if printer else ()
    if missing := [k for k in needs if getattr(printer, k) is None]:
        message = _("printer: kind {kind} needs {keys}; add them to [printer]")
        problems.append(message.format(kind=show(printer.kind), keys=_listed(missing)))
    served, stuffing = parts.get("served_button"), parts.get("anti_stuffing")
    if stuffing and stuffing.armed_mode and served and served.pin is None:
        problems.append(_("anti_stuffing.armed_mode: needs a served button; set served_button.pin"))
    if printer and printer.print_tickets == "on_demand" and served and served.pin is None:
        problems.append(
            _("printer.print_tickets: on_demand needs a served button; set served_button.pin")
        )


def _listed(values: Sequence[Any]) -> str:
    return ", ".join(map(str, values))


def _kind(value: Any) -> str:
    kinds = {bool: N_("true/false"), int: N_("a whole number"), float: N_("a decimal number"),
             str: N_("text"), list: N_("a list"), dict: N_("a table")}  # fmt: skip
    return _(next((w for t, w in kinds.items() if isinstance(value, t)), DATE_TIME))
