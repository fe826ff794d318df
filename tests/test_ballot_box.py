"""The ballot box's own promises: durable, append-only, signed, sealed by month."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox, BallotBoxError, LedgerCorruptError
from hom_phieu.ledger.device_key import DeviceKey, DeviceKeyError
from hom_phieu.ledger.errors import LedgerBusyError
from hom_phieu.ledger.records import (
    RECEIPT_ALPHABET,
    Kind,
    Level,
    decode,
    normalise_receipt_code,
    receipt_code,
)
from hom_phieu.ledger.store import connect
from hom_phieu.ledger.verify import verify_records


def kinds(box: BallotBox) -> list[str]:
    return [r.kind.value for r in box.records_after(0)]


def test_first_start_writes_boot_then_the_zero_report(box: BallotBox) -> None:
    records = box.records_after(0)
    assert [r.kind for r in records] == [Kind.BOOT, Kind.OPEN]
    assert records[1].box == "2026-11"
    assert records[1].body == {"votes": 0, "refused": 0, "previous_close": None}
    assert records[0].body["software"]
    assert records[0].prev == "0" * 64 and records[1].prev == records[0].hash


def test_vote_records_everything_the_ceremony_needs(box: BallotBox, clock: FakeClock) -> None:
    receipt = box.cast_vote(clerk="lan", button="hai_long", level=Level.SATISFIED)
    (vote,) = box.records_after(receipt.seq - 1)
    assert vote.kind is Kind.VOTE
    assert vote.body == {
        "counter": 1,
        "clerk": "lan",
        "button": "hai_long",
        "level": "satisfied",
        "channel": "button",
    }
    assert vote.wall_ms == clock.wall_ms and vote.tq.value == "synced"
    assert vote.boot == 1 and vote.mono_ns == clock.mono_ns
    assert vote.device == box.device_id
    assert receipt.code == receipt_code(vote.hash)
    assert receipt.box == "2026-11" and receipt.counter == 1


def test_acknowledged_vote_is_already_committed_for_another_connection(
    box: BallotBox, ledger_path: Path
) -> None:
    receipt = box.cast_vote(clerk="lan", button="hai_long", level=Level.SATISFIED)
    other = connect(ledger_path, readonly=True)
    row = other.execute("SELECT kind FROM records WHERE seq = ?", (receipt.seq,)).fetchone()
    assert row == ("VOTE",)
    assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert box.store.conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def test_ballot_counters_step_by_one_and_survive_restart(
    ledger_path: Path, key: DeviceKey, clock: FakeClock
) -> None:
    with BallotBox.open(ledger_path, key, clock) as box:
        counters = [box.cast_vote(clerk="lan", button="b", level="satisfied").counter for _ in "ab"]
    with BallotBox.open(ledger_path, key, clock) as box:
        counters.append(box.cast_vote(clerk="lan", button="b", level="satisfied").counter)
        assert kinds(box).count("BOOT") == 2
        assert box.state.boot == 2
    assert counters == [1, 2, 3]


def test_refused_presses_are_recorded_but_never_counted(box: BallotBox, clock: FakeClock) -> None:
    box.cast_vote(clerk="lan", button="b", level=Level.SATISFIED)
    refused = box.refuse(button="b", reason="min_gap", clerk="lan", gap_ms=400)
    assert refused.kind is Kind.REFUSED and refused.body["gap_ms"] == 400
    assert box.state.open_box.votes == 1 and box.state.open_box.refused == 1
    clock.advance_to("2026-12-01T00:00:05")
    box.tick()
    close = next(r for r in box.records_after(0) if r.kind is Kind.CLOSE)
    assert close.body["votes"] == 1 and close.body["refused"] == 1


def test_close_seals_recomputed_counts_and_the_last_hash(box: BallotBox, clock: FakeClock) -> None:
    plan = [("lan", "rat", Level.VERY_SATISFIED)] * 3 + [("binh", "khong", Level.NOT_SATISFIED)]
    for clerk, button, level in plan:
        box.cast_vote(clerk=clerk, button=button, level=level)
        clock.advance(60_000)
    before = box.state.head_hash
    clock.advance_to("2026-12-01T00:00:00")
    written = box.tick()
    assert [r.kind for r in written] == [Kind.CLOSE, Kind.OPEN]
    close, opened = written
    assert close.box == "2026-11" and opened.box == "2026-12"
    assert close.body["counts"] == {"binh": {"not_satisfied": 1}, "lan": {"very_satisfied": 3}}
    assert close.body["buttons"] == {"khong": 1, "rat": 3}
    assert close.body["votes"] == 4 and close.body["last_hash"] == before
    assert opened.body == {"votes": 0, "refused": 0, "previous_close": close.hash}
    receipt = box.cast_vote(clerk="lan", button="rat", level=Level.VERY_SATISFIED)
    assert receipt.box == "2026-12" and receipt.counter == 1


def test_month_is_calendar_month_in_vietnam_time(box: BallotBox, clock: FakeClock) -> None:
    clock.advance_to("2026-11-30T16:59:59+00:00")  # 23:59:59 in Hà Nội
    assert box.cast_vote(clerk="lan", button="b", level="satisfied").box == "2026-11"
    clock.advance_to("2026-11-30T17:00:00+00:00")  # 00:00 on 1 December
    assert box.cast_vote(clerk="lan", button="b", level="satisfied").box == "2026-12"


def test_records_cannot_be_updated_or_deleted(box: BallotBox, ledger_path: Path) -> None:
    box.cast_vote(clerk="lan", button="b", level=Level.SATISFIED)
    conn = sqlite3.connect(ledger_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE records SET kind = 'EVENT' WHERE seq = 3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM records")
    with pytest.raises(sqlite3.IntegrityError, match="write-once"):
        conn.execute("UPDATE ledger_meta SET value = 'x'")


def test_bad_vote_input_is_refused_and_nothing_is_written(box: BallotBox) -> None:
    before = box.state.head_seq
    with pytest.raises(ValueError):
        box.cast_vote(clerk="lan", button="b", level="rat hai long")
    with pytest.raises(BallotBoxError, match="clerk"):
        box.cast_vote(clerk=" ", button="b", level=Level.SATISFIED)
    assert box.state.head_seq == before


def test_failed_commit_leaves_state_untouched(box: BallotBox, monkeypatch) -> None:
    """A commit that fails (disk full, I/O error) acknowledges nothing and breaks nothing."""
    from hom_phieu.ledger.errors import DiskFullError

    def full(entries):
        raise DiskFullError("the disk is full: nothing was recorded")

    head = box.state.head_seq
    monkeypatch.setattr(box.store, "append", full)
    with pytest.raises(DiskFullError, match="full"):
        box.cast_vote(clerk="lan", button="b", level=Level.SATISFIED)
    monkeypatch.undo()
    assert box.state.head_seq == head
    assert box.cast_vote(clerk="lan", button="b", level=Level.SATISFIED).counter == 1


def test_disk_full_is_reported_and_loses_nothing(tmp_path: Path, key: DeviceKey, clock) -> None:
    """A real full disk: SQLite's page limit stands in for a full partition."""
    path = tmp_path / "small.sqlite3"
    with BallotBox.open(path, key, clock) as box:
        box.store.conn.execute(f"PRAGMA max_page_count = {_page_count(box)}")
        acknowledged = []
        with pytest.raises(BallotBoxError, match="full"):
            for _ in range(10_000):
                acknowledged.append(box.cast_vote(clerk="lan", button="b", level="satisfied"))
        assert acknowledged, "some votes fit before the disk filled"
    with BallotBox.open(path, key, clock) as box:
        votes = [r for r in box.records_after(0) if r.kind is Kind.VOTE]
        assert [receipt_code(v.hash) for v in votes] == [r.code for r in acknowledged]


def _page_count(box: BallotBox) -> int:
    return box.store.conn.execute("PRAGMA page_count").fetchone()[0] + 3


def test_second_writer_is_refused(box: BallotBox, ledger_path: Path, key, clock) -> None:
    with pytest.raises(LedgerBusyError, match="another process"):
        BallotBox.open(ledger_path, key, clock)


def test_ledger_of_another_device_is_refused(ledger_path: Path, key, clock, tmp_path) -> None:
    BallotBox.open(ledger_path, key, clock).close()
    stranger = DeviceKey.load_or_create(tmp_path / "other.pem")
    with pytest.raises(LedgerCorruptError, match="belongs to device"):
        BallotBox.open(ledger_path, stranger, clock)


def test_device_key_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "device-key.pem"
    first = DeviceKey.load_or_create(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert DeviceKey.load_or_create(path).device_id == first.device_id
    assert "PRIVATE" not in repr(first) and first.device_id in repr(first)
    os.chmod(path, 0o644)
    with pytest.raises(DeviceKeyError, match="chmod 600"):
        DeviceKey.load_or_create(path)


def test_the_whole_history_verifies(box: BallotBox, key: DeviceKey, clock: FakeClock) -> None:
    for day in range(60):
        box.cast_vote(clerk="lan", button="b", level=Level.SATISFIED)
        box.refuse(button="b", reason="burst")
        box.event("printer_fault", detail="paper out")
        clock.advance(24 * 3600 * 1000)
        box.tick()
        del day
    rows = box.store.rows()
    assert verify_records(rows, key.public_raw, key.device_id) is None
    assert kinds(box).count("CLOSE") == 2  # November and December were closed


def test_receipt_codes_are_short_and_unambiguous() -> None:
    code = receipt_code("ab" * 32)
    assert len(code) == 11 and code[5] == "-"
    assert set(code.replace("-", "")) <= set(RECEIPT_ALPHABET)
    assert not set("01ILO") & set(RECEIPT_ALPHABET)
    assert normalise_receipt_code(code.lower().replace("-", " ")) == code
    assert normalise_receipt_code(code.replace("2", "Z", 1) + "X") is None
    assert normalise_receipt_code("OOOOO-OOOOO") is None
    assert receipt_code("ab" * 32) != receipt_code("ac" + "ab" * 31)


def test_records_are_canonical_and_reject_floats() -> None:
    from hom_phieu.ledger.records import RecordFormatError, canonical_bytes

    assert canonical_bytes({"b": 1, "a": "Đặng"}) == '{"a":"Đặng","b":1}'.encode()
    with pytest.raises(RecordFormatError, match="float"):
        canonical_bytes({"a": 1.5})
    with pytest.raises(RecordFormatError, match="missing fields"):
        decode(b'{"v":1}')


def test_the_canonical_encoding_is_wave_one_s_for_every_code_point() -> None:
    """orjson writes exactly what ``json.dumps`` wrote for wave-1 records, so their
    signatures and hashes still hold: every code point, as key and value, escapes and all."""
    from hom_phieu.ledger.records import RecordFormatError, canonical_bytes

    def old(obj: dict) -> bytes:
        return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    every = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    keys = {
        every[n : n + 97]: [every[n], -(2**63), 2**64 - 1, None, True] for n in range(0, 2048, 97)
    }
    obj = {every: every, "z": keys, "\u2028": {"\x7f": '\x00\x1f"\\\n'}}
    assert canonical_bytes(obj) == old(obj)
    with pytest.raises(RecordFormatError, match="canonical"):
        canonical_bytes({"a": 2**64})
    for bad in (b'{"v":99999999999999999999999}', b'{"v":"\\ud800"}', b"[" * 2000 + b"]" * 2000):
        with pytest.raises(RecordFormatError):
            decode(bad)


def test_configuration_change_between_starts_is_an_event(
    ledger_path: Path, key: DeviceKey, clock: FakeClock
) -> None:
    BallotBox.open(ledger_path, key, clock, config_digest="aaa").close()
    BallotBox.open(ledger_path, key, clock, config_digest="aaa").close()
    with BallotBox.open(ledger_path, key, clock, config_digest="bbb") as box:
        changes = [
            r.body
            for r in box.records_after(0)
            if r.kind is Kind.EVENT and r.body["type"] == "config_change"
        ]
        boots = [r.body["config_digest"] for r in box.records_after(0) if r.kind is Kind.BOOT]
    assert boots == ["aaa", "aaa", "bbb"]
    assert changes == [{"type": "config_change", "previous_digest": "aaa", "digest": "bbb"}]


def test_event_details_cannot_overwrite_the_record_fields(box: BallotBox) -> None:
    with pytest.raises(BallotBoxError, match="redefine type"):
        box.event("printer_fault", type="vote")


def test_an_unusable_ledger_place_is_a_clear_error(tmp_path: Path, key, clock) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with pytest.raises(BallotBoxError, match="cannot open the ballot box"):
        BallotBox.open(blocker / "ballot-box.sqlite3", key, clock)
