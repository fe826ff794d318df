"""Test helpers that read and damage real ledger files the way an attacker would."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import canonical_bytes, record_hash


def raw_connection(path: Path) -> sqlite3.Connection:
    """A plain connection with the append-only triggers dropped, as a tamperer would."""
    conn = sqlite3.connect(path, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")
    return conn


def load(conn: sqlite3.Connection, seq: int) -> tuple[dict, bytes]:
    data, sig = conn.execute("SELECT data, sig FROM records WHERE seq = ?", (seq,)).fetchone()
    return json.loads(data), bytes(sig)


def store(conn: sqlite3.Connection, seq: int, fields: dict, sig: bytes) -> None:
    conn.execute(
        "UPDATE records SET data = ?, sig = ?, kind = ?, box = ? WHERE seq = ?",
        (canonical_bytes(fields), sig, fields["kind"], fields["box"], seq),
    )


def resign_from(conn: sqlite3.Connection, key: DeviceKey, seq: int) -> None:
    """Re-chain and re-sign every record from ``seq`` on: a tamperer holding the key."""
    prev_data = conn.execute("SELECT data FROM records WHERE seq = ?", (seq - 1,)).fetchone()
    prev_hash = record_hash(bytes(prev_data[0]))
    for (number,) in conn.execute(
        "SELECT seq FROM records WHERE seq >= ? ORDER BY seq", (seq,)
    ).fetchall():
        fields, _ = load(conn, number)
        fields["prev"] = prev_hash
        if fields["kind"] == "CLOSE":
            fields["body"]["last_hash"] = prev_hash
        elif fields["kind"] == "OPEN" and fields["body"]["previous_close"]:
            fields["body"]["previous_close"] = prev_hash
        data = canonical_bytes(fields)
        store(conn, number, fields, key.sign(data))
        prev_hash = record_hash(data)


def seqs_of_kind(conn: sqlite3.Connection, kind: str) -> list[int]:
    return [
        s for (s,) in conn.execute("SELECT seq FROM records WHERE kind = ? ORDER BY seq", (kind,))
    ]
