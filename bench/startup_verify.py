"""Start-up verification: ``BallotBox.open`` on ledgers of 1,000 and 10,000 records.

Opening runs SQLite's integrity check, then decodes every record, checks its chain
link and the ledger's rules, and verifies its Ed25519 signature. The floor is the
part no verifier can skip: verifying the same signatures over the same bytes with
``cryptography`` directly.

The ledgers are built by ``cast_vote`` on a fake clock (1 s between votes), so they
hold what a device writes. Opens and floors alternate, and each is repeated; the
median is reported. The ledger was just written, so its pages are in the page cache:
this is a warm start, not a cold boot from the SD card.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from contextlib import closing
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bench.report import Row, Settings, log, ms, ratio
from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Level

ORDER = 2
SIZES, SIZES_QUICK = (1_000, 10_000), (200, 1_000)
REPEATS, REPEATS_QUICK = 5, 2
LEVELS = list(Level)


def build_ledger(path: Path, key: DeviceKey, records: int) -> FakeClock:
    """A ledger of ``records`` records (BOOT, OPEN, then votes); returns its clock."""
    clock = FakeClock.at("2026-11-03T08:00:00")
    with BallotBox.open(path, key, clock) as box:
        for i in range(records - box.state.head_seq):
            clock.advance(1000)
            box.cast_vote(clerk=f"clerk-{i % 4}", button=f"b{i % 3}", level=LEVELS[i % 3])
    return clock


def time_open(path: Path, key: DeviceKey, clock: FakeClock) -> int:
    """Nanoseconds for one start: open, verify everything, commit the BOOT record."""
    clock.advance(60_000)
    started = time.perf_counter_ns()
    box = BallotBox.open(path, key, clock)
    elapsed = time.perf_counter_ns() - started
    box.close()
    return elapsed


def time_signatures(public_raw: bytes, signed: list[tuple[bytes, bytes]]) -> int:
    """Nanoseconds to verify every (data, signature) pair with the public key."""
    started = time.perf_counter_ns()
    public_key = Ed25519PublicKey.from_public_bytes(public_raw)
    for data, signature in signed:
        public_key.verify(signature, data)
    return time.perf_counter_ns() - started


def read_signed(path: Path, count: int) -> list[tuple[bytes, bytes]]:
    with closing(sqlite3.connect(path)) as conn:
        query = "SELECT data, sig FROM records ORDER BY seq LIMIT ?"
        return [(bytes(d), bytes(s)) for d, s in conn.execute(query, (count,))]


def run(settings: Settings) -> list[Row]:
    settings.workdir.mkdir(parents=True, exist_ok=True)
    key = DeviceKey.load_or_create(settings.workdir / "device.key")
    repeats = REPEATS_QUICK if settings.quick else REPEATS
    rows = []
    for size in SIZES_QUICK if settings.quick else SIZES:
        path = settings.workdir / f"ledger-{size}.db"
        log(f"  start-up: building a ledger of {size:,} records")
        clock = build_ledger(path, key, size)
        signed = read_signed(path, size)
        opens, floors = [], []
        for _ in range(repeats):  # each open adds one BOOT record: negligible
            opens.append(time_open(path, key, clock))
            floors.append(time_signatures(key.public_raw, signed))
        opened, floor = statistics.median(opens), statistics.median(floors)
        log(f"  start-up: {size:,} records: open {ms(opened)}, signatures {ms(floor)}")
        rows.append(
            Row(
                f"Start-up: `BallotBox.open`, {size:,} records (median of {repeats})",
                f"{ms(opened)} ({size / opened * 1e9:,.0f} records/s)",
                f"{ms(floor)} ({size / floor * 1e9:,.0f} signatures/s, Ed25519 only)",
                ratio(opened, floor),
            )
        )
    return rows
