"""The kiosk configuration: defaults, the example file, every kind of error, the docs."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path
from typing import get_args, get_origin, get_type_hints

import pytest

from hom_phieu import i18n
from hom_phieu.ledger.records import Level
from kiosk import config
from kiosk.config import ConfigError, KioskConfig, load_config, parse_config
from tools import config_docs
from tools.config_docs import render_docs

ROOT = Path(__file__).resolve().parents[1]

TWO_BUTTONS = """
[[buttons]]
name = "tot"
label = "Tốt"
level = "satisfied"
pin = 17

[[buttons]]
name = "chua_tot"
label = "Chưa tốt"
level = "not_satisfied"
pin = 27
"""


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in their English source form, whatever catalogs exist."""
    before = i18n.current_language()
    i18n.set_language("en")
    yield
    i18n.set_language(before)


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return caught.value.problems


def only_problem(text: str) -> str:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


# --- defaults and the example ---------------------------------------------------------------
def test_empty_file_gives_valid_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("HOM_PHIEU_HOME", str(tmp_path))
    cfg = parse_config("")
    assert cfg == KioskConfig()
    assert cfg.device.office == "UBND xã Demo" and cfg.device.language == "vi"
    assert [b.name for b in cfg.buttons] == ["rat_hai_long", "hai_long", "khong_hai_long"]
    assert [b.label for b in cfg.buttons] == ["Rất hài lòng", "Hài lòng", "Không hài lòng"]
    assert [b.level for b in cfg.buttons] == [
        Level.VERY_SATISFIED,
        Level.SATISFIED,
        Level.NOT_SATISFIED,
    ]
    assert [(b.pin, b.led_pin, b.colour) for b in cfg.buttons] == [
        (17, 5, "green"),
        (27, 6, "yellow"),
        (22, 13, "red"),
    ]
    assert cfg.device.clerk_on_duty == "lan"
    assert cfg.clerk_on_duty.name == "Nguyễn Thị Lan"
    assert cfg.anti_stuffing.bounce_ms == 30 and cfg.anti_stuffing.armed_mode is False
    assert cfg.printer.kind == "none" and cfg.screen.kind == "png"
    assert (cfg.screen.width, cfg.screen.height) == (480, 320)
    assert cfg.server.url is None
    # Paths default to the state folder, resolved when asked (HOM_PHIEU_HOME honoured).
    assert cfg.ledger_path == tmp_path / "kiosk" / "ballot-box.sqlite3"
    assert cfg.key_path == tmp_path / "kiosk" / "device-key.pem"


def test_config_is_frozen():
    cfg = parse_config("")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.device.office = "x"  # type: ignore[misc]


def test_example_file_parses_to_the_defaults():
    example = ROOT / "kiosk.example.toml"
    assert load_config(example) == parse_config("")


def test_example_file_mentions_every_key():
    text = (ROOT / "kiosk.example.toml").read_text(encoding="utf-8")
    for section in dataclasses.fields(KioskConfig):
        header = f"[{section.name}]" if section.name in ("buttons", "clerks") else section.name
        assert f"[{header}]" in text, section.name
        for key in dataclasses.fields(_section_class(section.name)):
            assert re.search(rf"^#? ?{key.name} = ", text, re.M), f"{section.name}.{key.name}"


def test_values_are_converted():
    cfg = parse_config(
        TWO_BUTTONS
        + """
[device]
ledger = "/data/box.sqlite3"
clerk_on_duty = "b"

[[clerks]]
id = "a"
name = "A"

[[clerks]]
id = "b"
name = "B"
survey_url = "https://example.gov.vn/s/b"

[printer]
kind = "usb"
usb_vendor_id = 0x0416
usb_product_id = 0x5011
"""
    )
    assert cfg.device.ledger == Path("/data/box.sqlite3") and cfg.ledger_path == cfg.device.ledger
    assert cfg.buttons[0].level is Level.SATISFIED
    assert cfg.button("chua_tot").colour == "red"  # by level when not given
    assert cfg.clerk_on_duty.name == "B"
    assert (cfg.printer.usb_vendor_id, cfg.printer.usb_product_id) == (0x0416, 0x5011)
    with pytest.raises(KeyError):
        cfg.button("nope")


def test_load_config_or_defaults(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "DEFAULT_PATH", tmp_path / "kiosk.toml")
    assert config.load_config_or_defaults() == KioskConfig()
    (tmp_path / "kiosk.toml").write_text('[device]\ncounter = "Quầy 7"\n', encoding="utf-8")
    assert config.load_config_or_defaults().device.counter == "Quầy 7"
    with pytest.raises(ConfigError, match="file not found"):
        config.load_config_or_defaults(tmp_path / "other.toml")  # an explicit path must exist


# --- errors -------------------------------------------------------------------------------
def test_unknown_key_suggests_the_close_one():
    assert (
        only_problem('[device]\nofice = "x"') == "device.ofice: unknown key; did you mean office?"
    )
    assert only_problem("[printr]") == "printr: unknown key; did you mean printer?"
    problem = only_problem("[buzzer]\nvolume = 3")
    assert problem == "buzzer.volume: unknown key; the keys here are: pin"


def test_unknown_key_inside_an_array_entry():
    text = TWO_BUTTONS.replace("pin = 27", "pin = 27\nled_pni = 6")
    assert only_problem(text) == "buttons[2].led_pni: unknown key; did you mean led_pin?"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[anti_stuffing]\nbounce_ms = "30"',
            'anti_stuffing.bounce_ms: expected a whole number, got "30" (text)',
        ),
        (
            "[anti_stuffing]\nmin_gap_ms = true",
            "anti_stuffing.min_gap_ms: expected a whole number, got true (true/false)",
        ),
        (
            "[screen]\nwidth = 480.0",
            "screen.width: expected a whole number, got 480.0 (a decimal number)",
        ),
        (
            '[anti_stuffing]\narmed_mode = "yes"',
            'anti_stuffing.armed_mode: expected true or false, got "yes" (text)',
        ),
        ("[device]\noffice = 7", "device.office: expected text in quotes, got 7 (a whole number)"),
        ("[device]\nledger = 7", "device.ledger: expected text in quotes, got 7 (a whole number)"),
        ("device = 1", "device: expected a table, got a whole number"),
        ("[buttons]", "buttons: expected [[buttons]] tables, got a table"),
    ],
)
def test_wrong_type_names_the_expected_type(text, expected):
    assert only_problem(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[anti_stuffing]\nbounce_ms = 300",
            "anti_stuffing.bounce_ms: 300 is out of range; use a whole number from 0 to 200",
        ),
        (
            "[status_led]\npin = 28",
            "status_led.pin: 28 is out of range; use a BCM GPIO number from 0 to 27",
        ),
        (
            "[printer]\nport = 0",
            "printer.port: 0 is out of range; use a whole number from 1 to 65535",
        ),
        (
            "[printer]\npaper_width_mm = 57",
            "printer.paper_width_mm: 57 is not an allowed value; use one of: 58, 80",
        ),
        (
            '[printer]\nkind = "bluetooth"',
            'printer.kind: "bluetooth" is not an allowed value; '
            "use one of: none, usb, serial, network, file",
        ),
        (
            "[screen]\nrotate = 45",
            "screen.rotate: 45 is not an allowed value; use one of: 0, 90, 180, 270",
        ),
        (
            '[device]\nlanguage = "fr"',
            'device.language: "fr" is not an allowed value; use one of: vi, en',
        ),
        (
            '[server]\nurl = "ftp://example.gov.vn"',
            'server.url: "ftp://example.gov.vn" is not a web address; start it with http(s)://',
        ),
        ('[device]\noffice = "  "', "device.office: must not be empty"),
    ],
)
def test_out_of_range_or_not_allowed_says_what_is(text, expected):
    assert only_problem(text) == expected


def test_bad_level_lists_the_levels():
    text = TWO_BUTTONS.replace('level = "not_satisfied"', 'level = "rat hai long"')
    assert only_problem(text) == (
        'buttons[2].level: "rat hai long" is not a level; '
        "use one of: very_satisfied, satisfied, not_satisfied"
    )


def test_button_fields_are_checked():
    text = TWO_BUTTONS.replace('name = "tot"', 'name = "Tốt"').replace(
        "pin = 27", 'pin = 27\ncolour = "pink"'
    )
    assert problems_of(text) == [
        'buttons[1].name: "Tốt" is not an identifier; use only a-z, 0-9 and _',
        'buttons[2].colour: "pink" is not a colour; '
        "use #rrggbb or one of: green, yellow, orange, red, blue, white",
    ]
    assert parse_config(TWO_BUTTONS.replace("pin = 27", 'pin = 27\ncolour = "#00aaFF"'))


def test_required_keys_of_an_entry():
    text = TWO_BUTTONS.replace("pin = 17\n", "")
    problem = only_problem(text)
    assert problem.startswith("buttons[1].pin: missing; this key is required (")


@pytest.mark.parametrize("count", [1, 6])
def test_two_to_five_buttons(count):
    text = "".join(
        f'[[buttons]]\nname = "b{i}"\nlabel = "B{i}"\nlevel = "satisfied"\npin = {i + 2}\n'
        for i in range(count)
    )
    assert only_problem(text) == f"buttons: {count} given; use 2 to 5 [[buttons]] tables"


def test_duplicate_pin_names_both_keys():
    assert only_problem("[buzzer]\npin = 17") == (
        "buzzer.pin: GPIO 17 is already used by buttons[1].pin; give each its own pin"
    )
    text = TWO_BUTTONS.replace("pin = 27", "pin = 27\nled_pin = 17")
    assert only_problem(text) == (
        "buttons[2].led_pin: GPIO 17 is already used by buttons[1].pin; give each its own pin"
    )
    problem = only_problem("[served_button]\npin = 23\nled_pin = 24\n[status_led]\npin = 24")
    assert problem.startswith("status_led.pin: GPIO 24 is already used by served_button.led_pin")


def test_duplicate_names_and_ids():
    text = TWO_BUTTONS.replace('name = "chua_tot"', 'name = "tot"')
    assert only_problem(text) == (
        'buttons[2].name: "tot" is already used by buttons[1].name; give each button its own name'
    )
    text = '[[clerks]]\nid = "a"\nname = "A"\n[[clerks]]\nid = "a"\nname = "B"'
    assert only_problem(text).startswith('clerks[2].id: "a" is already used by clerks[1].id')


@pytest.mark.parametrize(
    ("kind", "given", "missing"),
    [
        ("usb", "usb_vendor_id = 0x0416", "usb_product_id"),
        ("usb", "", "usb_vendor_id, usb_product_id"),
        ("serial", "baudrate = 19200", "serial_device"),
        ("network", "port = 9100", "host"),
        ("file", "", "file"),
    ],
)
def test_printer_kind_needs_its_connection_keys(kind, given, missing):
    problem = only_problem(f'[printer]\nkind = "{kind}"\n{given}')
    assert problem == f'printer: kind "{kind}" needs {missing}; add them to [printer]'


@pytest.mark.parametrize(
    "connection",
    [
        'kind = "serial"\nserial_device = "/dev/ttyUSB0"',
        'kind = "network"\nhost = "192.168.1.50"',
        'kind = "file"\nfile = "/dev/usb/lp0"',
    ],
)
def test_printer_kinds_with_their_keys_are_valid(connection):
    assert parse_config(f"[printer]\n{connection}").printer.kind in connection


def test_clerk_on_duty_must_be_in_the_roster():
    text = '[device]\nclerk_on_duty = "hoa"\n[[clerks]]\nid = "lan"\nname = "Lan"'
    assert only_problem(text) == (
        'device.clerk_on_duty: "hoa" is not in [[clerks]]; use one of: lan'
    )
    assert only_problem('[device]\nclerk_on_duty = "hoa"').startswith("device.clerk_on_duty:")


def test_armed_mode_needs_a_served_button():
    problem = only_problem("[anti_stuffing]\narmed_mode = true")
    assert problem == "anti_stuffing.armed_mode: needs a served button; set served_button.pin"
    assert parse_config("[anti_stuffing]\narmed_mode = true\n[served_button]\npin = 23")


def test_toml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('[device]\noffice = "UBND"\ncounter = Quầy 1\n', encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: line 3, column ")
    assert "not valid TOML" in message
    assert len(caught.value.problems) == 1


def test_syntax_error_at_the_end_of_the_document():
    problem = only_problem('[device]\noffice = "UBND')
    assert problem.startswith("line 2, column ")


def test_all_problems_are_reported_together(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(
        '[device]\nlanguge = "vi"\n'
        "[anti_stuffing]\nbounce_ms = -1\n"
        '[printer]\nkind = "network"\n'
        "[buzzer]\npin = 22\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    error = caught.value
    assert error.source == str(path)
    assert error.problems == [
        "device.languge: unknown key; did you mean language?",
        "anti_stuffing.bounce_ms: -1 is out of range; use a whole number from 0 to 200",
        "buzzer.pin: GPIO 22 is already used by buttons[3].pin; give each its own pin",
        'printer: kind "network" needs host; add them to [printer]',
    ]  # in file order, then the rules that span several keys
    assert str(error).splitlines() == [f"{path}: {p}" for p in error.problems]
    assert isinstance(error, ValueError)


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "etc" / "kiosk.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: file not found")


def test_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_bytes('[device]\noffice = "Quán"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_messages_go_through_translation(monkeypatch):
    monkeypatch.setattr(config, "_", lambda message: "«" + message + "»")
    problem = only_problem("[anti_stuffing]\nbounce_ms = 300")
    assert problem.startswith("«{key}".replace("{key}", "anti_stuffing.bounce_ms"))


# --- documentation and command line ---------------------------------------------------------
def _section_class(name: str) -> type:
    hint = get_type_hints(KioskConfig)[name]
    return get_args(hint)[0] if get_origin(hint) is tuple else hint


def test_every_field_has_a_doc():
    assert all(f.metadata.get("doc", "").strip() for f in dataclasses.fields(KioskConfig))
    for section in dataclasses.fields(KioskConfig):
        for key in dataclasses.fields(_section_class(section.name)):
            assert key.metadata.get("doc", "").strip(), f"{section.name}.{key.name}"
            assert key.name in render_docs()


def test_committed_docs_match_the_schema():
    committed = (ROOT / "docs" / "kiosk-config.md").read_text(encoding="utf-8")
    assert committed == render_docs(), "run: python tools/config_docs.py"
    assert config_docs.main(["--check"]) == 0


def test_defaults_shown_in_the_docs_are_valid():
    blocks = re.findall(r"```toml\n(.*?)```", render_docs(), re.S)
    assert len(blocks) == 2
    assert parse_config("\n".join(blocks)) == parse_config("")


def test_stale_docs_are_named(monkeypatch, tmp_path, capsys):
    stale = tmp_path / "kiosk-config.md"
    stale.write_text(render_docs().replace("Rating buttons.", "Buttons."), encoding="utf-8")
    monkeypatch.setattr(config_docs, "DOC", stale)
    monkeypatch.setattr(config_docs, "ROOT", tmp_path)
    assert config_docs.main(["--check"]) == 1
    assert "stale" in capsys.readouterr().out
    assert config_docs.main([]) == 0 and stale.read_text(encoding="utf-8") == render_docs()


def test_docs_tool_runs_as_a_script():
    result = subprocess.run(
        [sys.executable, "tools/config_docs.py", "--check"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
    )
    assert result.returncode == 0 and result.stdout == ""


def test_the_modules_keep_one_job_each():
    """Schema, validation and documentation apart; the check is ``hom-phieu kiosk
    check-config``, not a second command line in the module."""
    for name in ("config.py", "config_schema.py"):
        text = (ROOT / "kiosk" / name).read_text(encoding="utf-8")
        assert "argparse" not in text and "__main__" not in text, name
        assert len(text.splitlines()) < 400, name
