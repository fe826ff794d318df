"""The simulated kiosk as a real process, driven through its virtual panel's API."""

from __future__ import annotations

import io
import random
import socket
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from hardware.escpos_decode import decode
from hom_phieu.ledger.records import Kind, receipt_code
from hom_phieu.ledger.records import decode as decode_record
from hom_phieu.ledger.store import LedgerStore
from kiosk.ledger_report import inspect_ledger
from tests.kiosk_process import KioskProcess
from tests.polling import wait_for

FAST_RULES = """
[anti_stuffing]
bounce_ms = 10
min_gap_ms = 0
burst_count = 999
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(FAST_RULES, encoding="utf-8")
    return path


def ledger_votes(home: Path) -> dict[str, int]:
    store = LedgerStore(home / "kiosk" / "ballot-box.sqlite3", readonly=True)
    try:
        records = [decode_record(row.data) for row in store.rows()]
    finally:
        store.close()
    return {receipt_code(r.hash): r.seq for r in records if r.kind is Kind.VOTE}


def test_sigkill_mid_presses_loses_no_acknowledged_vote(isolated_home: Path, config) -> None:
    """Three rounds: some votes for sure, then votes fly from another thread and the kiosk
    is SIGKILLed after a random number of them were answered; a press in flight is cut off
    by a kill at least once (asserted), and no acknowledged vote is ever lost."""
    acknowledged: list[str] = []
    chooser = random.Random(3)
    cut_off = 0  # presses the kill interrupted: the kill landed while presses flew
    for round_number in range(3):
        kiosk = KioskProcess(isolated_home, "--config", str(config))
        for _ in range(3):  # some votes for sure, then a kill while presses fly
            answer = kiosk.press(chooser.choice(["rat_hai_long", "hai_long", "khong_hai_long"]))
            assert answer["outcome"] == "vote", answer
            acknowledged.append(answer["receipt_code"])
        stop = threading.Event()
        flying: list[dict] = []  # this round's presses answered

        def keep_pressing(
            process: KioskProcess = kiosk, stop: threading.Event = stop, flying: list = flying
        ) -> None:
            nonlocal cut_off
            while not stop.is_set():
                try:
                    answer = process.press("hai_long", hold_ms=20)  # past bounce_ms: votes
                except OSError:
                    cut_off += 1
                    return
                flying.append(answer)
                if answer.get("outcome") == "vote":
                    acknowledged.append(answer["receipt_code"])

        presser = threading.Thread(target=keep_pressing)
        presser.start()
        wanted = chooser.randint(2, 12)
        wait_for(lambda: len(flying) >= wanted, "presses answered", timeout_s=30)  # noqa: B023
        kiosk.kill()
        stop.set()
        presser.join(timeout=30)
        report = inspect_ledger(isolated_home / "kiosk" / "ballot-box.sqlite3")
        assert report.intact, f"round {round_number}: {report.problem}"
    stored = ledger_votes(isolated_home)
    missing = [code for code in acknowledged if code not in stored]
    assert not missing, f"acknowledged but lost: {missing}"
    assert len(acknowledged) > 9  # the sure votes, and votes while presses flew
    assert cut_off > 0, "no kill landed while a press was in flight"


def test_panel_api_state_screen_tickets_and_errors(isolated_home: Path, config) -> None:
    kiosk = KioskProcess(isolated_home, "--config", str(config))
    try:
        state = kiosk.get("/api/state")
        assert [b["name"] for b in state["buttons"]] == [
            "rat_hai_long",
            "hai_long",
            "khong_hai_long",
        ]
        assert state["box"]["ballots"] == 0 and state["screen"]["frame"] == "idle"
        vote = kiosk.press("rat_hai_long")
        assert vote["outcome"] == "vote" and len(vote["receipt_code"]) == 11
        state = kiosk.get("/api/state")
        assert state["box"]["ballots"] == 1
        assert "very_satisfied" not in str(state["box"])  # sealed: no counts by level
        screen = Image.open(io.BytesIO(kiosk.get_bytes("/api/screen.png")))
        assert screen.size == (480, 320)
        deadline = time.monotonic() + 10  # the printer thread draws and prints it
        while len(tickets := kiosk.get("/api/tickets")["tickets"]) < 2:
            assert time.monotonic() < deadline, "no ticket was printed"
            time.sleep(0.1)
        assert len(tickets) == 2  # the first box's zero report, then the citizen's ticket
        raw = kiosk.get_bytes(tickets[-1]["bin"])
        decoded = decode(raw)
        assert decoded.cuts == 1 and decoded.images
        picture = Image.open(io.BytesIO(kiosk.get_bytes(tickets[-1]["png"])))
        assert picture.width == 384
        assert kiosk.press("nope")["status"] == 400
        assert kiosk.post("/api/served", {})["status"] == 404  # no served button configured
        assert kiosk.post("/api/press", {"button": "hai_long", "hold_ms": -1})["status"] == 400
        bad_time = {"now": "0001-01-01T00:00:00+07:00", "synced": True}
        assert kiosk.post("/api/clock", bad_time)["status"] == 400
        assert kiosk.post("/api/clock", {"now": "yesterday"})["status"] == 400
        assert kiosk.get("/api/state")["box"]["ballots"] == 1  # still alive and well
    finally:
        kiosk.terminate()


def test_month_change_through_the_clock_api(isolated_home: Path, config) -> None:
    # (a step of the clock is followed only within 2 hours of the run's reference time)
    kiosk = KioskProcess(isolated_home, "--config", str(config),
                         "--clock", "2026-11-30T23:59:00+07:00")  # fmt: skip
    try:
        kiosk.post("/api/clock", {"now": "2026-11-30T23:59:30+07:00", "synced": True})
        assert kiosk.press("hai_long")["outcome"] == "vote"
        kiosk.post("/api/clock", {"now": "2026-12-01T00:00:05+07:00", "synced": True})
        deadline = time.monotonic() + 10
        while kiosk.get("/api/state")["box"]["box"] != "2026-12":
            assert time.monotonic() < deadline, "the month did not change"
            time.sleep(0.2)
        # First box's zero report, the ticket, then the seal and the new zero report.
        deadline = time.monotonic() + 10
        while len(kiosk.get("/api/tickets")["tickets"]) < 4:
            assert time.monotonic() < deadline, "no box slips were printed"
            time.sleep(0.2)
        answer = kiosk.press("hai_long")
        assert answer["outcome"] == "vote"
        assert kiosk.get("/api/state")["box"] == {
            "box": "2026-12",
            "ballots": 1,
            "refused_presses": 0,
        }
    finally:
        assert kiosk.terminate() == 0


def test_sigterm_stops_cleanly_and_systemd_hears_ready_and_watchdog(
    isolated_home: Path, tmp_path: Path
) -> None:
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(10)
    kiosk = KioskProcess(
        isolated_home,
        command=("demo",),
        env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"},
    )
    messages = []
    try:
        while not any("WATCHDOG=1" in m for m in messages):
            messages.append(listener.recv(4096).decode())
        assert any(m.startswith("READY=1") for m in messages)
    finally:
        code = kiosk.terminate()
        listener.close()
    assert code == 0
    assert inspect_ledger(isolated_home / "kiosk" / "ballot-box.sqlite3").intact


def test_a_second_kiosk_on_the_same_ledger_refuses_to_start(isolated_home: Path, config) -> None:
    import os
    import subprocess

    from tests.kiosk_process import COMMAND

    first = KioskProcess(isolated_home, "--config", str(config))
    try:
        second = subprocess.run(
            [COMMAND, "--lang", "en", "kiosk", "run", "--simulate", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOM_PHIEU_HOME": str(isolated_home)},
        )
        assert second.returncode == 2
        assert "another process is writing" in second.stdout + second.stderr
        assert first.press("hai_long")["outcome"] == "vote"
    finally:
        first.terminate()


def test_demo_runs_the_server_and_an_enrolled_kiosk_that_syncs(isolated_home: Path) -> None:
    import sqlite3

    demo = KioskProcess(isolated_home, command=("demo",))
    try:
        output = "".join(demo.lines)
        assert "Admin server: http://127.0.0.1:" in output and "password" in output
        assert "Enrolled as hp-" in output
        answer = demo.press("rat_hai_long")
        assert answer["outcome"] == "vote"
        database = isolated_home / "server" / "hom-phieu.sqlite3"
        deadline = time.monotonic() + 15
        while True:
            with sqlite3.connect(database) as conn:
                receipts = [r for (r,) in conn.execute("SELECT receipt FROM ledger_records")]
            if answer["receipt_code"] in receipts:
                break
            assert time.monotonic() < deadline, "the vote never reached the server"
            time.sleep(0.2)
    finally:
        assert demo.terminate() == 0
