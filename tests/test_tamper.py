"""The tamper matrix: each kind of damage to a real ledger file is caught and named.

Every case builds a real ledger through the ballot box, damages the SQLite file with
a plain sqlite3 connection (triggers dropped, as an attacker would), then checks what
``verify`` says: the first bad record, the kind of fault, and that the device refuses
to append to it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.errors import LedgerCorruptError
from hom_phieu.ledger.faults import Fault
from hom_phieu.ledger.records import Level, canonical_bytes
from kiosk.ledger_report import inspect_ledger
from tests.ledger_tools import load, raw_connection, resign_from, seqs_of_kind, store


@pytest.fixture
def ledger(ledger_path: Path, key: DeviceKey) -> Path:
    """Records 1 BOOT, 2 OPEN, 3–8 VOTE (six ballots), 9 REFUSED, then a month change."""
    clock = FakeClock.at("2026-11-27T08:00:00")
    with BallotBox.open(ledger_path, key, clock) as box:
        for level in [Level.VERY_SATISFIED] * 4 + [Level.SATISFIED, Level.NOT_SATISFIED]:
            box.cast_vote(clerk="lan", button=level.value, level=level)
            clock.advance(60_000)
        box.refuse(button="satisfied", reason="min_gap", clerk="lan")
        clock.advance_to("2026-12-01T07:30:00")
        box.cast_vote(clerk="lan", button="satisfied", level=Level.SATISFIED)
        box.cast_vote(clerk="lan", button="satisfied", level=Level.SATISFIED)
    return ledger_path


def verdict(path: Path, key_path: Path | None = None):
    report = inspect_ledger(path, key_path)
    assert not report.intact, "the damage went unnoticed"
    return report.problem


def test_untouched_ledger_verifies(ledger: Path, tmp_path: Path) -> None:
    report = inspect_ledger(ledger, tmp_path / "device-key.pem")
    assert report.intact and report.problem is None
    assert report.records == 13
    assert report.by_kind == {"BOOT": 1, "OPEN": 2, "VOTE": 8, "REFUSED": 1, "CLOSE": 1}


def test_altered_record(ledger: Path) -> None:
    conn = raw_connection(ledger)
    fields, sig = load(conn, 5)
    fields["body"]["level"] = "not_satisfied"
    store(conn, 5, fields, sig)
    problem = verdict(ledger)
    assert (problem.seq, problem.fault) == (5, Fault.ALTERED)
    assert "changed after it was written" in problem.message


def test_bad_signature(ledger: Path) -> None:
    conn = raw_connection(ledger)
    fields, sig = load(conn, 6)
    store(conn, 6, fields, bytes([sig[0] ^ 1]) + sig[1:])
    problem = verdict(ledger)
    assert (problem.seq, problem.fault) == (6, Fault.BAD_SIGNATURE)
    assert "content is intact" in problem.message


def test_inserted_duplicate_ballot(ledger: Path) -> None:
    """Ballot stuffing by copying a valid vote: rows after it shifted to make room."""
    conn = raw_connection(ledger)
    rows = conn.execute("SELECT seq, kind, box, data, sig FROM records WHERE seq >= 4").fetchall()
    conn.execute("DELETE FROM records WHERE seq >= 4")
    copy = conn.execute("SELECT kind, box, data, sig FROM records WHERE seq = 3").fetchone()
    conn.execute("INSERT INTO records VALUES (4, ?, ?, ?, ?)", copy)
    conn.executemany("INSERT INTO records VALUES (? + 1, ?, ?, ?, ?)", rows)
    problem = verdict(ledger)
    assert (problem.position, problem.seq, problem.fault) == (4, 3, Fault.INSERTED)
    assert "inserted or duplicated" in problem.message


def test_removed_record(ledger: Path) -> None:
    raw_connection(ledger).execute("DELETE FROM records WHERE seq = 7")
    problem = verdict(ledger)
    assert (problem.seq, problem.fault) == (8, Fault.REMOVED)
    assert "record 7 is missing" in problem.message


def test_removed_records_with_renumbering(ledger: Path) -> None:
    conn = raw_connection(ledger)
    conn.execute("DELETE FROM records WHERE seq IN (5, 6)")
    for seq in range(7, 20):
        conn.execute("UPDATE records SET seq = ? WHERE seq = ?", (seq - 2, seq))
    problem = verdict(ledger)
    assert (problem.position, problem.seq, problem.fault) == (5, 7, Fault.REMOVED)
    assert "records 5–6 are missing" in problem.message


def test_reordered_records(ledger: Path) -> None:
    conn = raw_connection(ledger)
    five, six = load(conn, 5), load(conn, 6)
    store(conn, 5, *six)
    store(conn, 6, *five)
    problem = verdict(ledger)
    assert (problem.position, problem.seq, problem.fault) == (5, 6, Fault.REORDERED)
    assert "record 6 stands before record 5" in problem.message


def test_truncated_after_close(ledger: Path) -> None:
    conn = raw_connection(ledger)
    (close_seq,) = seqs_of_kind(conn, "CLOSE")
    conn.execute("DELETE FROM records WHERE seq > ?", (close_seq,))
    problem = verdict(ledger)
    assert (problem.seq, problem.fault) == (close_seq, Fault.TRUNCATED)
    assert "2026-11" in problem.message


def test_record_from_a_foreign_device(ledger: Path, tmp_path: Path) -> None:
    other_key = DeviceKey.load_or_create(tmp_path / "other.pem")
    other_path = tmp_path / "other.sqlite3"
    clock = FakeClock.at("2026-11-27T08:00:00")
    with BallotBox.open(other_path, other_key, clock) as other:
        for _ in range(6):
            other.cast_vote(clerk="lan", button="x", level=Level.VERY_SATISFIED)
    foreign = load(raw_connection(other_path), 5)
    conn = raw_connection(ledger)
    store(conn, 5, *foreign)
    problem = verdict(ledger)
    assert (problem.seq, problem.fault) == (5, Fault.FOREIGN)
    assert other_key.device_id in problem.message


def test_whole_ledger_of_another_device(ledger: Path, tmp_path: Path) -> None:
    intruder = tmp_path / "intruder.pem"
    DeviceKey.load_or_create(intruder)
    problem = verdict(ledger, intruder)
    assert problem.fault is Fault.FOREIGN and "not by this device" in problem.message


def test_replaced_record_resigned_with_the_device_key(ledger: Path, key: DeviceKey) -> None:
    """Even a tamperer holding the key cannot change one record without breaking the chain."""
    conn = raw_connection(ledger)
    fields, _ = load(conn, 5)
    fields["body"]["level"] = "not_satisfied"
    store(conn, 5, fields, key.sign(canonical_bytes(fields)))
    problem = verdict(ledger)
    assert (problem.seq, problem.fault) == (6, Fault.REPLACED)


def test_rewritten_history_with_the_key_still_breaks_the_seal(ledger: Path, key) -> None:
    """Re-chaining the whole tail (seal hashes too) leaves the CLOSE counts disagreeing."""
    conn = raw_connection(ledger)
    fields, _ = load(conn, 5)
    fields["body"]["level"] = "not_satisfied"
    store(conn, 5, fields, key.sign(canonical_bytes(fields)))
    resign_from(conn, key, 6)
    problem = verdict(ledger)
    assert problem.fault is Fault.RULE and "CLOSE counts differ" in problem.message
    assert problem.seq == seqs_of_kind(conn, "CLOSE")[0]


def test_time_rewound_with_the_key(ledger: Path, key: DeviceKey) -> None:
    conn = raw_connection(ledger)
    fields, _ = load(conn, 6)
    fields["wall_ms"] -= 3600_000
    store(conn, 6, fields, key.sign(canonical_bytes(fields)))
    resign_from(conn, key, 7)
    problem = verdict(ledger)
    assert (problem.seq, problem.fault) == (6, Fault.TIME_BACKWARDS)


def test_not_canonical_bytes(ledger: Path) -> None:
    conn = raw_connection(ledger)
    (data,) = conn.execute("SELECT data FROM records WHERE seq = 4").fetchone()
    conn.execute("UPDATE records SET data = ? WHERE seq = 4", (data.replace(b",", b", ", 1),))
    problem = verdict(ledger)
    assert (problem.position, problem.fault) == (4, Fault.UNREADABLE)
    assert "canonical" in problem.message


def test_damaged_file_fails_sqlite_integrity_check(ledger: Path, key: DeviceKey) -> None:
    size = ledger.stat().st_size
    with open(ledger, "r+b") as handle:  # scribble over the middle pages
        handle.seek(size // 2)
        handle.write(os.urandom(4096))
    report = inspect_ledger(ledger)
    assert not report.intact
    with pytest.raises(LedgerCorruptError):
        BallotBox.open(ledger, key, FakeClock.at("2026-12-02T08:00:00"))


@pytest.mark.parametrize("seq", [5, 12])
def test_device_refuses_to_append_to_a_damaged_ledger(
    ledger: Path, key: DeviceKey, seq: int
) -> None:
    raw_connection(ledger).execute("DELETE FROM records WHERE seq = ?", (seq,))
    with pytest.raises(LedgerCorruptError, match=f"record {seq + 1}"):
        BallotBox.open(ledger, key, FakeClock.at("2026-12-02T08:00:00"))
