"""The kiosk's side of the tests: a complete kiosk configuration, a printer that can fail
on cue, and provisioning a kiosk process's home against a running server."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from escpos.printer import Dummy

from tests.kiosk_process import COMMAND

CONFIG = """
[device]
office = "UBND phường Bến Thành"
counter = "Quầy 2"

[[buttons]]
name = "rat_hai_long"
label = "Rất hài lòng"
level = "very_satisfied"
pin = 17
led_pin = 5

[[buttons]]
name = "hai_long"
label = "Hài lòng"
level = "satisfied"
pin = 27
led_pin = 6

[[buttons]]
name = "khong_hai_long"
label = "Không hài lòng"
level = "not_satisfied"
pin = 22
led_pin = 13

[served_button]
pin = 23
led_pin = 24

[buzzer]
pin = 18

[[clerks]]
id = "lan"
name = "Nguyễn Thị Lan"
title = "Công chức một cửa"
survey_url = "https://hcc.example.gov.vn/s/lan"

[[clerks]]
id = "anh"
name = "Đặng Thị Ngọc Ánh"
title = "Công chức tư pháp"

[anti_stuffing]
min_gap_ms = 3000

[printer]
kind = "file"
file = "/dev/null"
print_box_slips = false
"""


class FlakyDummy(Dummy):
    """python-escpos' Dummy printer that can be told to fail halfway through a ticket."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next = False
        self.jobs: list[bytes] = []

    def _raw(self, msg: bytes) -> None:
        if self.fail_next:
            self.fail_next = False
            super()._raw(msg[: len(msg) // 2])
            raise OSError(5, "Input/output error")
        super()._raw(msg)
        self.jobs.append(bytes(msg))


def provision(home: Path, config: Path, server_url: str, code: str) -> None:
    """``hom-phieu kiosk provision`` for the kiosk whose state is in ``home``."""
    done = subprocess.run(
        [COMMAND, "--lang", "en", "kiosk", "provision", "--config", str(config),
         "--server", server_url, "--code", code],
        env={**os.environ, "HOM_PHIEU_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Enrolled as" in done.stdout, done.stdout
