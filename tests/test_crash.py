"""Acknowledged means durable: a real writer process SIGKILLed at random moments.

Each round starts the writer on the same ledger, kills it with SIGKILL after a random
delay (sometimes during start-up verification, sometimes mid-commit), and checks that
every vote it acknowledged is in the ledger with the same receipt code, and that the
whole ledger still verifies.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hom_phieu.ledger.records import Kind, decode, receipt_code
from hom_phieu.ledger.store import LedgerStore
from kiosk.ledger_report import inspect_ledger

ROOT = Path(__file__).resolve().parent.parent


def run_round(ledger: Path, key: Path, delay_s: float) -> list[tuple[int, str]]:
    """Start the writer, SIGKILL it after ``delay_s``, return what it acknowledged."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_writer", str(ledger), str(key)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    time.sleep(delay_s)
    process.send_signal(signal.SIGKILL)
    output, _ = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    acknowledged = []
    for line in output.decode().splitlines(keepends=True):
        if line.startswith("ACK ") and line.endswith("\n"):  # a torn last line is no ack
            _, seq, code = line.split()
            acknowledged.append((int(seq), code))
    return acknowledged


def stored_votes(ledger: Path) -> dict[int, str]:
    store = LedgerStore(ledger, readonly=True)
    try:
        records = [decode(row.data) for row in store.rows()]
    finally:
        store.close()
    return {r.seq: receipt_code(r.hash) for r in records if r.kind is Kind.VOTE}


def crash_rounds(tmp_path: Path, rounds: int, seed: int) -> None:
    ledger, key = tmp_path / "crash.sqlite3", tmp_path / "crash-key.pem"
    chooser = random.Random(seed)
    total = 0
    for number in range(rounds):
        acknowledged = run_round(ledger, key, chooser.uniform(0.05, 0.6))
        if not ledger.exists():  # killed before it made the ledger: nothing was promised
            assert acknowledged == []
            continue
        report = inspect_ledger(ledger, key)
        assert report.intact, f"round {number} (seed {seed}): {report.problem}"
        votes = stored_votes(ledger)
        for seq, code in acknowledged:
            assert votes.get(seq) == code, f"round {number}: acknowledged vote {seq} lost"
        total += len(acknowledged)
    assert total > 0, "the writer never got to acknowledge a vote"


def test_sigkill_loses_no_acknowledged_vote(tmp_path: Path) -> None:
    crash_rounds(tmp_path, rounds=25, seed=20261121)


@pytest.mark.slow
def test_sigkill_soak(tmp_path: Path) -> None:
    crash_rounds(tmp_path, rounds=150, seed=int(time.time()))
