"""Acknowledged means durable: a real writer process SIGKILLed at random moments.

Each round starts the writer on the same ledger and kills it with SIGKILL at a point read
from its output: in one round of five as soon as it starts opening the ledger (during the
start-up verification of everything already written), in the others right after a random
number of acknowledged votes (mid-commit of the next one). Each round checks that every
vote it acknowledged is in the ledger with the same receipt code, and that the whole
ledger still verifies; the test asserts that kills landed in start-up and mid-writing.
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


def run_round(ledger: Path, key: Path, line: str, count: int) -> tuple[list[tuple[int, str]], bool]:
    """Start the writer, SIGKILL it as soon as it has printed ``count`` lines that start
    with ``line``; what it acknowledged, and whether it had finished start-up (READY)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_writer", str(ledger), str(key)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    before_kill: list[bytes] = []
    seen = 0
    while seen < count:
        printed = process.stdout.readline()
        assert printed, b"the writer exited:\n" + b"".join(before_kill)
        before_kill.append(printed)
        seen += printed.startswith(line.encode())
    process.send_signal(signal.SIGKILL)
    rest, _ = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    output = (b"".join(before_kill) + rest).decode()
    acknowledged = []
    for printed_line in output.splitlines(keepends=True):
        if printed_line.startswith("ACK ") and printed_line.endswith("\n"):  # torn: no ack
            _, seq, code = printed_line.split()
            acknowledged.append((int(seq), code))
    return acknowledged, "READY\n" in output.splitlines(keepends=True)


def stored_votes(ledger: Path) -> dict[int, str]:
    store = LedgerStore(ledger, readonly=True)
    try:
        records = [decode(row.data) for row in store.rows()]
    finally:
        store.close()
    return {r.seq: receipt_code(r.hash) for r in records if r.kind is Kind.VOTE}


def crash_rounds(tmp_path: Path, rounds: int, seed: int) -> None:
    tmp_path.mkdir(parents=True, exist_ok=True)
    ledger, key = tmp_path / "crash.sqlite3", tmp_path / "crash-key.pem"
    chooser = random.Random(seed)
    total = 0
    kills = {"start-up": 0, "writing": 0}  # where the kills landed
    for number in range(rounds):
        if number % 5 == 4:  # while it opens and verifies a ledger of some hundreds of records
            acknowledged, started = run_round(ledger, key, "OPENING", 1)
        else:  # mid-commit of the vote after a random number of acknowledged ones
            acknowledged, started = run_round(ledger, key, "ACK ", chooser.randint(1, 150))
        kills["writing" if started else "start-up"] += 1
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
    assert kills["start-up"] > 0 and kills["writing"] > 0, kills


def test_sigkill_loses_no_acknowledged_vote(tmp_path: Path) -> None:
    crash_rounds(tmp_path, rounds=25, seed=20261121)


@pytest.mark.slow
def test_sigkill_soak(tmp_path: Path) -> None:
    """100 kills at random moments, on four ledgers of 25 rounds each: every round re-opens
    and verifies its whole ledger twice (the writer's start-up, the check), so one ledger
    of 100 rounds would cost quadratic time for no more kinds of kill. (Four, not six: the
    whole suite must stay near ten minutes on two cores; `bench/` is the place for longer.)"""
    seed = int(time.time())
    for ledger in range(4):
        crash_rounds(tmp_path / f"ledger-{ledger}", rounds=25, seed=seed + ledger)
