"""``hom-phieu demo --clock``: the server and the kiosk rehearse on the same simulated date,
whatever the machine's date, so an office can vote, close and open a past month."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

from hom_phieu.clock import parse_iso_ms
from tests.kiosk_process import KioskProcess

START = "2026-10-30T16:00:00+07:00"  # the last working day of October, late afternoon


def test_the_demo_rehearses_a_past_month_on_both_sides(isolated_home: Path) -> None:
    demo = KioskProcess(isolated_home, "--clock", START, command=("demo",))
    try:
        assert demo.get("/api/state")["box"]["box"] == "2026-10"
        answer = demo.press("rat_hai_long")
        assert answer["outcome"] == "vote"
        database = isolated_home / "server" / "hom-phieu.sqlite3"
        deadline = time.monotonic() + 15
        while True:
            with sqlite3.connect(database) as conn:
                row = conn.execute(
                    "SELECT box, received_at FROM ledger_records WHERE receipt = ?",
                    (answer["receipt_code"],),
                ).fetchone()
            if row is not None:
                break
            assert time.monotonic() < deadline, "the vote never reached the server"
            time.sleep(0.2)
        box, received_at = row
        assert box == "2026-10"
        # The server received it on the rehearsal's date (its own clock), not the machine's.
        received = datetime.fromisoformat(received_at).replace(tzinfo=UTC)
        assert abs(received.timestamp() * 1000 - parse_iso_ms(START)) < 120_000
    finally:
        assert demo.terminate() == 0
