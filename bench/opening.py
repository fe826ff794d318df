"""Opening a month's ballot box on the server: ``count_box`` and ``open_box`` versus Ed25519.

D devices (10; 2 with ``--quick``) each cast R votes (5,000; 500 with ``--quick``) with a
real ``BallotBox`` on a fake clock, spread over October 2026, a refused press now and
then, and the clock then moved into November, so each ledger holds the box's OPEN, its
votes, its CLOSE and the next box's OPEN: exactly what a device writes. The ledgers are
built in parallel, one process per device (a vote costs one durable commit), once per
run, and reused when the work directory already holds them.

Their rows go into a fresh server database (SQLite, a file on the measured disk) filled
as ``web/ingest.py`` fills it, with one office, its devices, a committee and a started
opening with a quorum of confirmations. Measured: ``web.opening.count_box`` over the
office (stream every device's chain, verify it with ``hom_phieu.ledger.verify.LedgerWalk``, count),
and ``web.opening.open_box`` (the same, plus the checklist, the minutes, the counted
ranges and the commit) on a fresh copy of the database each time, since an opened box is
frozen. The floor: one core verifying every signature of the same records with
``cryptography``; beside it, reading the same rows from the database with ``sqlite3``.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from bench.ingest import home
from bench.report import Row, Settings, log, ms, ratio
from bench.startup_verify import time_signatures
from hom_phieu.clock import FakeClock, parse_iso_ms
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Level, decode
from hom_phieu.ledger.store import LedgerStore
from hom_phieu.ledger.verify import Row as LedgerRow
from web import create_app, db
from web.device_state import insert_rows, row_of  # the rows exactly as ingest stores them
from web.models import (
    Clerk,
    CommitteeMember,
    Confirmation,
    Counter,
    Device,
    Office,
    Opening,
    ScaleButton,
    Unit,
    User,
)
from web.opening import count_box, open_box
from web.services import close_app

ORDER = 6
DEVICES, DEVICES_QUICK = 10, 2
VOTES, VOTES_QUICK = 5_000, 500  # per device; 10 × 10,000 took 76 s to build on a 2-core VM
REPEATS, REPEATS_QUICK = 3, 1
BOX = "2026-10"
FIRST_VOTE, LAST_VOTE = "2026-10-01T07:30:00", "2026-10-31T17:00:00"
CLOSING_TIME = "2026-11-01T07:00:00"  # the first trusted reading in November closes October
LAST_SEEN = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)  # synced after the month ended
BUTTONS = [
    ("rat_hai_long", Level.VERY_SATISFIED),
    ("hai_long", Level.SATISFIED),
    ("khong_hai_long", Level.NOT_SATISFIED),
]
CLERKS = [("lan", "Nguyễn Thị Lan"), ("binh", "Trần Văn Bình"), ("mai", "Lê Thị Mai")]
COMMITTEE = [  # username, name, committee role: a quorum of three, the leader among them
    ("chu-tich", "Nguyễn Văn Ễnh", "ubnd_leader"),
    ("mttq", "Trần Thị Hằng", "mttq_chair"),
    ("thu-ky", "Đỗ Thị Thư", "secretary"),
]


@dataclass(frozen=True, slots=True)
class Ledger:
    """One device's ledger as the server receives it."""

    device_id: str
    public_raw: bytes
    rows: list[LedgerRow]


def build_ledger(folder: Path, votes: int, index: int) -> Ledger:
    """A real device's ledger: ``votes`` votes over October, then the month's CLOSE.

    Run in a worker process. A ledger already in ``folder`` (from an earlier call with the
    same work directory and size) is read back instead of built again."""
    folder.mkdir(parents=True, exist_ok=True)
    key = DeviceKey.load_or_create(folder / "device-key.pem")
    path = folder / "ballot-box.sqlite3"
    done = folder / "complete"  # holds the number of votes of a finished ledger
    if not done.exists() or done.read_text() != str(votes):
        for old in folder.glob(f"{path.name}*"):
            old.unlink()
        clock = FakeClock.at(FIRST_VOTE)
        clock.advance(index * 1000)
        step = (parse_iso_ms(LAST_VOTE) - parse_iso_ms(FIRST_VOTE)) // votes
        with BallotBox.open(path, key, clock, kernel_boot_id=f"bench-{index}") as box:
            for n in range(votes):
                clock.advance(step)
                button, level = BUTTONS[(n * 7 + index) % 11 % 3]
                clerk = CLERKS[n // 50 % len(CLERKS)][0]
                box.cast_vote(clerk=clerk, button=button, level=level)
                if n % 97 == 5:
                    box.refuse(button=button, reason="min_gap", clerk=clerk)
            clock.advance_to(CLOSING_TIME)
            box.tick()  # CLOSE of October, OPEN of November
        done.write_text(str(votes))
    store = LedgerStore(path, readonly=True)
    try:
        return Ledger(key.device_id, key.public_raw, store.rows())
    finally:
        store.close()


def build_ledgers(workdir: Path, devices: int, votes: int) -> list[Ledger]:
    """Every device's ledger, built in parallel: a vote waits for its fsync, not the CPU."""
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    with ProcessPoolExecutor(max_workers=devices, mp_context=context) as pool:
        futures = [
            pool.submit(build_ledger, workdir / "ledgers" / f"device-{i:02d}", votes, i)
            for i in range(devices)
        ]
        return [future.result() for future in futures]


def build_server(url: str, ledgers: list[Ledger]) -> Flask:
    """A fresh server database: an office, its devices and their records, a committee,
    and October's opening started and confirmed by a quorum."""
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x"})
    db.upgrade(url)
    with app.app_context():
        session = db.session()
        unit = Unit(code="xa-bench", name="Xã Bench", kind="xã")
        office = Office(unit=unit, code="bench", name="UBND xã Bench", quorum=3)
        scale = [
            ScaleButton(office=office, position=i, name=name, label=name, level=level.value)
            for i, (name, level) in enumerate(BUTTONS, 1)
        ]
        clerks = [Clerk(office=office, code=code, name=name) for code, name in CLERKS]
        session.add_all([office, *scale, *clerks])
        session.flush()
        for i, ledger in enumerate(ledgers, 1):
            counter = Counter(office=office, name=f"Quầy {i}")
            session.add(counter)
            session.flush()
            last = decode(ledger.rows[-1].data)
            device = Device(
                office_id=office.id,
                counter_id=counter.id,
                label=f"Kiosk {i}",
                device_id=ledger.device_id,
                public_key=ledger.public_raw,
                status="active",
                enrolled_at=LAST_SEEN,
                last_seen_at=LAST_SEEN,
                head_seq=last.seq,
                head_hash=last.hash,
            )
            session.add(device)
            session.flush()
            rows = [row_of(device, decode(row.data), row.sig, LAST_SEEN) for row in ledger.rows]
            insert_rows(session, rows)
        users = []
        for username, name, role in COMMITTEE:
            user = User(username=username, password_hash="-", display_name=name, role="committee")
            session.add(user)
            session.flush()
            session.add(CommitteeMember(office_id=office.id, user_id=user.id, committee_role=role))
            users.append((user, role))
        secretary = users[-1][0]
        opening = Opening(office_id=office.id, box=BOX, started_by=secretary.id)
        session.add(opening)
        session.flush()
        session.add_all(
            Confirmation(opening_id=opening.id, user_id=user.id, committee_role=role)
            for user, role in users
        )
        session.commit()
    return app


def checked(count, ballots: int, devices: int) -> None:
    """The count must be the whole box, every chain intact: else the bench measures a
    failure path."""
    problems = [d.problem for d in count.devices if d.problem is not None]
    if count.main.votes != ballots or len(count.devices) != devices or problems:
        raise RuntimeError(
            f"count of {count.main.votes} ballots from {len(count.devices)} devices, "
            f"expected {ballots} from {devices}; problems: {problems}"
        )


def time_count(app: Flask, ballots: int, devices: int) -> int:
    with app.app_context():
        session = db.session()
        office = session.scalar(select(Office).where(Office.code == "bench"))
        started = time.perf_counter_ns()
        count = count_box(session, office, BOX)
        elapsed = time.perf_counter_ns() - started
        session.rollback()
    checked(count, ballots, devices)
    return elapsed


def time_open(url: str, ballots: int, devices: int) -> int:
    """One ``open_box`` and its commit, on a database where October is not yet opened."""
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x"})
    try:
        with app.app_context():
            session = db.session()
            opening = session.scalar(select(Opening).where(Opening.box == BOX))
            secretary = session.scalar(select(User.id).where(User.username == "thu-ky"))
            started = time.perf_counter_ns()
            count, checks = open_box(session, opening, secretary)
            session.commit()
            elapsed = time.perf_counter_ns() - started
            if opening.status != Opening.OPENED or not opening.minutes:
                raise RuntimeError("the box was not opened")
        checked(count, ballots, devices)
        if any(check.severity != "ok" for check in checks):
            raise RuntimeError(f"unexpected checklist: {[c for c in checks if c.severity != 'ok']}")
        return elapsed
    finally:
        close_app(app)


def time_read(path: Path, devices: int) -> int:
    """Nanoseconds to read every device's rows (seq, data, sig) in order with ``sqlite3``."""
    query = "SELECT seq, data, sig FROM ledger_records WHERE device_pk = ? ORDER BY seq"
    with closing(sqlite3.connect(path)) as conn:
        pks = [pk for (pk,) in conn.execute("SELECT id FROM devices ORDER BY id")]
        started = time.perf_counter_ns()
        read = sum(len(conn.execute(query, (pk,)).fetchall()) for pk in pks)
        elapsed = time.perf_counter_ns() - started
    if len(pks) != devices:
        raise RuntimeError(f"{len(pks)} devices in the database, expected {devices}")
    if not read:
        raise RuntimeError("no rows read")
    return elapsed


def time_all_signatures(ledgers: list[Ledger]) -> int:
    return sum(
        time_signatures(ledger.public_raw, [(r.data, r.sig) for r in ledger.rows])
        for ledger in ledgers
    )


def snapshot(app: Flask, path: Path) -> None:
    """Close the server's connections and fold the WAL into the file, so it can be copied."""
    close_app(app)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def run(settings: Settings) -> list[Row]:
    settings.workdir.mkdir(parents=True, exist_ok=True)
    devices = DEVICES_QUICK if settings.quick else DEVICES
    votes = VOTES_QUICK if settings.quick else VOTES
    repeats = REPEATS_QUICK if settings.quick else REPEATS
    ballots = devices * votes
    log(f"  opening: building {devices} ledgers of {votes:,} votes, one process each")
    started = time.perf_counter()
    ledgers = build_ledgers(settings.workdir, devices, votes)
    built = time.perf_counter() - started
    records = sum(len(ledger.rows) for ledger in ledgers)
    log(f"  opening: {records:,} records built in {built:.1f} s (not measured)")
    template = settings.workdir / "server.sqlite3"
    for leftover in settings.workdir.glob("*.sqlite3*"):
        leftover.unlink()
    with home(settings.workdir / "home"):
        started = time.perf_counter()
        app = build_server(f"sqlite:///{template}", ledgers)
        log(f"  opening: server database filled in {time.perf_counter() - started:.1f} s")
        snapshot(app, template)
        counts, opens, floors, reads = [], [], [], []
        try:  # one of each per repetition, so that drift during the run hits all alike
            for i in range(repeats):
                floors.append(time_all_signatures(ledgers))
                reads.append(time_read(template, devices))
                counts.append(time_count(app, ballots, devices))
                copy = settings.workdir / f"open-{i}.sqlite3"
                shutil.copyfile(template, copy)
                opens.append(time_open(f"sqlite:///{copy}", ballots, devices))
                for leftover in settings.workdir.glob(f"{copy.name}*"):
                    leftover.unlink()
        finally:
            close_app(app)
    count, opened, floor, read = (statistics.median(x) for x in (counts, opens, floors, reads))
    log(
        f"  opening: count {ms(count)}, open {ms(opened)}, signatures {ms(floor)}, "
        f"reading {ms(read)}"
    )
    of = f"median of {repeats}" if repeats > 1 else "one run"
    what = f"{ballots:,} ballots ({records:,} records), {devices} devices"
    sigs = f"{ms(floor)} ({records / floor * 1e9:,.0f} signatures/s, Ed25519 only, one core)"

    def share(measured: float) -> str:
        return f"{ratio(measured, floor)} ({measured / (floor + read):.2f}× signatures + reading)"

    return [
        Row(
            f"Opening: verify + count {what}: `count_box` ({of})",
            f"{ms(count)} ({records / count * 1e9:,.0f} records/s)",
            sigs,
            share(count),
        ),
        Row(
            f"Opening: open the box, {what}: `open_box` with minutes and commit ({of})",
            f"{ms(opened)} ({records / opened * 1e9:,.0f} records/s)",
            sigs,
            share(opened),
        ),
        Row(
            f"Opening, a reference: reading the same rows, `SELECT seq, data, sig` ({of})",
            f"{ms(read)} ({records / read * 1e9:,.0f} records/s)",
            "—",
            "—",
        ),
    ]
