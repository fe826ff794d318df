"""A kiosk ledger cut below what the server acknowledged is named, never called intact.

A cut ledger is still a chain without fault (every record links and verifies), so only
the server's acknowledgement, which the kiosk keeps beside its records, tells: the
ledger ends before the acknowledged record, or (cut, then written on with the key)
holds another record under that number. ``kiosk verify`` and ``kiosk status`` name it,
and the device refuses to append to it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hom_phieu.cli import main
from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.errors import BallotBoxError
from hom_phieu.ledger.records import Level, record_hash
from tests.ledger_tools import load, raw_connection, resign_from, store

ACKED = 6  # the server acknowledged records 1–6 of 8


@pytest.fixture
def ledger(ledger_path: Path, key: DeviceKey, clock: FakeClock) -> Path:
    """BOOT, OPEN, six votes (records 1–8); the server acknowledged up to record 6."""
    with BallotBox.open(ledger_path, key, clock) as box:
        for n in range(6):
            clock.advance(60_000)
            box.cast_vote(clerk="lan", button=f"b{n % 3}", level=list(Level)[n % 3])
        acked = box.store.rows()[ACKED - 1]
        assert acked.seq == ACKED
        box.store.set_acked(ACKED, record_hash(acked.data), clock.read().wall_ms)
    return ledger_path


def kiosk(*args: str, ledger: Path, key_file: Path | None = None):
    extra = ["--key", str(key_file)] if key_file else []
    return CliRunner().invoke(
        main, ["--lang", "en", "kiosk", *args, "--ledger", str(ledger), *extra]
    )


def status_json(ledger: Path) -> dict:
    result = kiosk("status", "--json", ledger=ledger)
    return json.loads(result.stdout)


def test_an_intact_ledger_shows_what_the_server_holds(ledger: Path, tmp_path: Path) -> None:
    result = kiosk("verify", ledger=ledger, key_file=tmp_path / "device-key.pem")
    assert result.exit_code == 0, result.output
    assert "Ledger intact: 8 records" in result.stdout
    status = kiosk("status", ledger=ledger)
    assert status.exit_code == 0
    assert "Acknowledged by the server: records up to 6" in status.stdout
    assert "Not yet synced: 2 records" in status.stdout
    data = status_json(ledger)
    assert data["intact"] is True and data["unsynced_records"] == 2
    assert data["server_ack"]["seq"] == ACKED and data["server_ack"]["held"] is True


@pytest.mark.parametrize("keep", [0, 3, 5])
def test_a_ledger_cut_below_the_acknowledged_head_is_named(ledger: Path, keep: int) -> None:
    conn = raw_connection(ledger)  # the append-only triggers dropped, as a tamperer would
    conn.execute("DELETE FROM records WHERE seq > ?", (keep,))
    conn.close()
    result = kiosk("verify", ledger=ledger)
    assert result.exit_code == 1, result.output
    removed = (
        f"record {ACKED} was removed"
        if keep + 1 == ACKED
        else f"records {keep + 1}–{ACKED} were removed"
    )
    assert (
        f"record {keep + 1}: truncated: the ledger ends at record {keep}, but the server "
        f"acknowledged records up to {ACKED}: {removed}"
    ) in result.stderr
    status = kiosk("status", ledger=ledger)
    assert status.exit_code == 1
    assert "Intact: NO" in status.stdout
    assert f"Acknowledged by the server: records up to {ACKED}, NO LONGER in this ledger" in (
        status.stdout
    )
    data = status_json(ledger)
    assert data["intact"] is False and "server acknowledged" in data["problem"]
    assert data["server_ack"]["seq"] == ACKED and data["server_ack"]["held"] is False
    assert "truncated" in data["server_ack"]["problem"]


def test_a_ledger_cut_and_written_on_with_the_key_is_named(ledger: Path, key: DeviceKey) -> None:
    """Records 5–8 rewritten and re-signed: a perfect chain, but not what the server holds."""
    conn = raw_connection(ledger)
    fields, _sig = load(conn, 5)
    fields["body"]["level"] = Level.NOT_SATISFIED.value
    fields["body"]["clerk"] = "binh"
    store(conn, 5, fields, b"")
    resign_from(conn, key, 5)
    conn.close()
    result = kiosk("verify", ledger=ledger)
    assert result.exit_code == 1, result.output
    assert f"record {ACKED}: truncated: the server acknowledged record {ACKED} with hash" in (
        result.stderr
    )
    assert status_json(ledger)["server_ack"]["held"] is False


def test_an_acknowledged_head_that_is_the_last_record_but_another(ledger: Path) -> None:
    conn = raw_connection(ledger)
    conn.execute("DELETE FROM records WHERE seq > ?", (ACKED,))
    conn.execute("UPDATE sync_progress SET acked_hash = ?", ("ab" * 32,))
    conn.close()
    result = kiosk("verify", ledger=ledger)
    assert result.exit_code == 1
    assert f"the server acknowledged record {ACKED} with hash abababab" in result.stderr


def test_a_scribbled_acknowledgement_is_named_not_a_crash(ledger: Path) -> None:
    conn = raw_connection(ledger)
    conn.execute("UPDATE sync_progress SET acked_seq = 'six'")
    conn.close()
    result = kiosk("verify", ledger=ledger)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "acknowledgement" in result.stderr


def test_the_device_refuses_to_append_below_the_acknowledged_head(
    ledger: Path, key: DeviceKey, clock: FakeClock
) -> None:
    """Appending would give the server a second record 4, 5, 6: refuse instead."""
    conn = raw_connection(ledger)
    conn.execute("DELETE FROM records WHERE seq > 3")
    conn.close()
    with pytest.raises(BallotBoxError, match="server acknowledged records up to 6"):
        BallotBox.open(ledger, key, clock)
