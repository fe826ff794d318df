"""The kiosk's systemd unit: valid for systemd, and true to the daemon it starts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"
UNIT = UNITS / "hom-phieu-kiosk.service"


def service() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values.setdefault(key.strip(), []).append(value.strip())
    return values


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd not installed")
@pytest.mark.parametrize("name", ["hom-phieu-kiosk.service", "hom-phieu-web@.service"])
def test_systemd_analyze_verify_is_clean(tmp_path: Path, name: str) -> None:
    # The unit names the installed command; point it at one that exists here.
    unit = UNITS / name
    text = unit.read_text().replace("/opt/hom-phieu/.venv/bin/hom-phieu", sys.executable)
    copy = tmp_path / unit.name
    copy.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_unit_keeps_the_promises_of_the_brief() -> None:
    values = service()
    assert values["Type"] == ["notify"]
    assert values["WatchdogSec"] and values["Restart"] == ["always"]
    assert values["StateDirectory"] == ["hom-phieu"]
    assert any("LG_WD=" in env for env in values["Environment"])
    groups = values["SupplementaryGroups"][0].split()
    assert {"gpio", "lp", "dialout", "video"} <= set(groups)
    assert "PrivateDevices" not in values and "ProtectClock" not in values
    assert "adjtimex" in values["SystemCallFilter"]
    assert values["ExecStart"][0].endswith("hom-phieu kiosk run --config /etc/hom-phieu/kiosk.toml")
