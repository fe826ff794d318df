"""``hom-phieu demo``: a counter's ballot box at work, on this machine, without hardware.

Until the kiosk daemon with its simulated buttons and screen exists, the demo shows
the part that does exist, for real: a device key is made, simulated citizens cast
ballots into this month's sealed box (each committed before its receipt code is
shown), a too-quick second press is refused and logged, and the whole ledger is then
verified as ``hom-phieu kiosk verify`` would. Everything is written under
``$HOM_PHIEU_HOME/demo`` and kept, so the commands it prints can be tried on it.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

from hom_phieu import formatting, paths
from hom_phieu.i18n import _
from kiosk.ballot_box import BallotBox
from kiosk.device_key import DeviceKey
from kiosk.ledger_report import inspect_ledger
from kiosk.records import Level

DEMO_BUTTONS = (
    ("rat_hai_long", Level.VERY_SATISFIED),
    ("hai_long", Level.SATISFIED),
    ("khong_hai_long", Level.NOT_SATISFIED),
)
DEMO_CLERKS = ("nguyen-thi-lan", "tran-van-binh")


def run_demo(votes: int, echo: Callable[[str], None] = print) -> None:
    demo_dir = paths.home() / "demo"
    ledger_path = demo_dir / "ballot-box.sqlite3"
    key_path = demo_dir / "device-key.pem"
    key = DeviceKey.load_or_create(key_path)
    echo(
        _("Simulated counter device {device}, data in {folder}").format(
            device=key.device_id, folder=demo_dir
        )
    )
    chooser = random.Random()
    with BallotBox.open(ledger_path, key) as box:
        for number in range(1, votes + 1):
            clerk = DEMO_CLERKS[number % len(DEMO_CLERKS)]
            button, level = chooser.choice(DEMO_BUTTONS)
            receipt = box.cast_vote(clerk=clerk, button=button, level=level)
            echo(
                _("Citizen {n}: ballot {counter} in box {box} at {time}, receipt {code}").format(
                    n=number,
                    counter=receipt.counter,
                    box=receipt.box,
                    time=formatting.date_time(receipt.wall_ms),
                    code=receipt.code,
                )
            )
            if number == 1:
                box.refuse(button=button, reason="min_gap", clerk=clerk)
                echo(_("A second press right after it was refused and logged, not counted."))
    report = inspect_ledger(ledger_path, key_path)
    if report.intact:
        echo(
            _("Ledger verified: {records} records, every signature and link intact.").format(
                records=report.records
            )
        )
    else:
        echo(_("Ledger DAMAGED: {problem}").format(problem=report.problem))
    echo(_("The results stay sealed until the committee opens the box."))
    command = _command_name()
    echo(
        _("Try: {command} kiosk status --ledger {ledger}").format(
            command=command, ledger=ledger_path
        )
    )
    echo(
        _("     {command} kiosk verify --ledger {ledger} --key {key}").format(
            command=command, ledger=ledger_path, key=key_path
        )
    )


def _command_name() -> str:
    """How this command was called (``.venv/bin/hom-phieu`` after ``./run demo``)."""
    called = Path(sys.argv[0])
    return str(called) if called.name == "hom-phieu" else "hom-phieu"
