"""The ``hom-phieu`` command as technicians run it: a real process, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.records import Level
from tests.ledger_tools import raw_connection

COMMAND = str(Path(sys.executable).with_name("hom-phieu"))


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOM_PHIEU_HOME": str(home)}
    return subprocess.run([COMMAND, *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture
def sealed_ledger(ledger_path: Path, key, clock) -> Path:
    with BallotBox.open(ledger_path, key, clock) as box:
        box.cast_vote(clerk="clerk-lan", button="rat_hai_long", level=Level.VERY_SATISFIED)
        box.cast_vote(clerk="clerk-binh", button="khong_hai_long", level=Level.NOT_SATISFIED)
        box.refuse(button="rat_hai_long", reason="min_gap", clerk="clerk-lan")
    return ledger_path


@pytest.mark.parametrize(
    "args",
    [
        (),
        ("kiosk",),
        ("kiosk", "verify"),
        ("kiosk", "status"),
        ("kiosk", "check-config"),
        ("demo",),
    ],
)
def test_help_on_every_level(args: tuple[str, ...], isolated_home: Path) -> None:
    result = run(*args, "--help", home=isolated_home)  # Vietnamese unless --lang en
    assert result.returncode == 0 and "Cách dùng:" in result.stdout
    assert "Hiện hướng dẫn này rồi thoát." in result.stdout and "Usage:" not in result.stdout
    english = run("--lang", "en", *args, "--help", home=isolated_home)
    assert english.returncode == 0 and "Usage:" in english.stdout
    assert "Show this message and exit." in english.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--version",), "hom-phieu, phiên bản "),
        (("--version", "--lang", "en"), "hom-phieu, version "),  # --lang after an eager option
        (("--help", "--lang=en"), "Usage: hom-phieu"),
    ],
)
def test_lang_speaks_wherever_it_is_typed(args: tuple[str, ...], expected: str,
                                          isolated_home: Path) -> None:  # fmt: skip
    result = run(*args, home=isolated_home)
    assert result.returncode == 0 and result.stdout.startswith(expected), result.stdout


def test_help_of_a_command_speaks_vietnamese(isolated_home: Path) -> None:
    result = run("kiosk", "provision", "--help", home=isolated_home)
    assert "Đăng ký thiết bị này với máy chủ quản trị" in result.stdout
    assert "Mã đăng ký dùng một lần lấy từ trang quản trị." in result.stdout
    assert "[bắt buộc]" in result.stdout and "Tùy chọn:" in result.stdout


def test_verify_intact_ledger(sealed_ledger: Path, tmp_path: Path, isolated_home) -> None:
    result = run(
        "--lang",
        "en",
        "kiosk",
        "verify",
        "--ledger",
        str(sealed_ledger),
        "--key",
        str(tmp_path / "device-key.pem"),
        home=isolated_home,
    )
    assert result.returncode == 0, result.stderr
    assert "Ledger intact: 5 records" in result.stdout


def test_verify_names_the_first_bad_record(sealed_ledger: Path, isolated_home: Path) -> None:
    raw_connection(sealed_ledger).execute("DELETE FROM records WHERE seq = 3")
    result = run(
        "--lang", "en", "kiosk", "verify", "--ledger", str(sealed_ledger), home=isolated_home
    )
    assert result.returncode == 1
    assert "record 4: removed: record 3 is missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_verify_speaks_vietnamese_by_default(sealed_ledger: Path, isolated_home: Path) -> None:
    raw_connection(sealed_ledger).execute("DELETE FROM records WHERE seq = 3")
    result = run("kiosk", "verify", "--ledger", str(sealed_ledger), home=isolated_home)
    assert result.returncode == 1
    english = run(
        "--lang", "en", "kiosk", "verify", "--ledger", str(sealed_ledger), home=isolated_home
    )
    assert result.stderr != english.stderr
    assert any(ord(ch) > 0x1E00 for ch in result.stderr), result.stderr  # ạ, ế, ổ …


def test_missing_ledger_is_a_clear_error(isolated_home: Path) -> None:
    result = run("--lang", "en", "kiosk", "verify", home=isolated_home)
    assert result.returncode == 2
    assert "no ledger at" in result.stderr and str(isolated_home) in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_names_the_key(tmp_path: Path, isolated_home: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('[anti_stuffing]\nmin_gap_ms = "soon"\n', encoding="utf-8")
    result = run("--lang", "en", "kiosk", "status", "--config", str(config), home=isolated_home)
    assert result.returncode == 2
    assert "anti_stuffing.min_gap_ms" in result.stderr and "Traceback" not in result.stderr


def test_status_json_never_reveals_sealed_counts(sealed_ledger: Path, isolated_home) -> None:
    result = run("kiosk", "status", "--json", "--ledger", str(sealed_ledger), home=isolated_home)
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["intact"] is True
    assert status["open_box"] == {
        "box": "2026-11",
        "opened_seq": 2,
        "ballots": 2,
        "refused_presses": 1,
    }
    assert status["head"]["seq"] == 5 and status["unsynced_records"] == 5
    assert status["last_boot"]["boot"] == 1
    for secret in ["very_satisfied", "not_satisfied", "clerk-lan", "clerk-binh", "hai_long"]:
        assert secret not in result.stdout
    text = run("kiosk", "status", "--ledger", str(sealed_ledger), home=isolated_home).stdout
    for secret in ["very_satisfied", "not_satisfied", "clerk-lan", "clerk-binh", "hai_long"]:
        assert secret not in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--clock", "2026-10-30T08:00"), "--clock only sets the simulated clock"),
        (("--simulate", "--clock", "30/10/2026"), "not an ISO-8601 time: 30/10/2026"),
    ],
)
def test_a_wrong_simulated_clock_is_a_clear_error(args, message, isolated_home: Path) -> None:
    result = run("--lang", "en", "kiosk", "run", *args, home=isolated_home)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_check_config_names_each_key_and_its_fix(tmp_path: Path, isolated_home: Path) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text('[device]\ncounter = "Quầy 2"\n', encoding="utf-8")
    bad.write_text("[screen]\nrotate = 45\n[buzzer]\npin = 99\n", encoding="utf-8")
    result = run("--lang", "en", "kiosk", "check-config", "--config", str(good), home=isolated_home)
    assert result.returncode == 0 and f"{good}: the configuration is valid" in result.stdout
    result = run("--lang", "en", "kiosk", "check-config", "--config", str(bad), home=isolated_home)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{bad}: screen.rotate: 45 is not an allowed value; use one of: 0, 90, 180, 270",
        f"{bad}: buzzer.pin: 99 is out of range; use a BCM GPIO number from 0 to 27",
    ]
    absent = tmp_path / "absent.toml"
    result = run(
        "--lang", "en", "kiosk", "check-config", "--config", str(absent), home=isolated_home
    )
    assert result.returncode == 2 and "file not found" in result.stderr


def test_check_config_without_a_file_checks_the_defaults(monkeypatch, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from hom_phieu import i18n
    from hom_phieu.cli import main
    from kiosk import config

    monkeypatch.setattr(config, "DEFAULT_PATH", tmp_path / "kiosk.toml")
    monkeypatch.setattr(i18n, "_process_language", i18n._process_language)  # --lang: put back
    result = CliRunner().invoke(main, ["--lang", "en", "kiosk", "check-config"])
    assert result.exit_code == 0 and "the built-in defaults apply" in result.output
    (tmp_path / "kiosk.toml").write_text("[printer]\nkind = 'usb'\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["--lang", "en", "kiosk", "check-config"])
    assert result.exit_code == 2 and 'printer: kind "usb" needs' in result.output
