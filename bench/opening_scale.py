"""Opening a month of 1 M sealed ballots on PostgreSQL, after a year of opened months.

20 devices write a year of history (``HISTORY`` ballots a device-month, from 2025-10) and
then the box 2026-10 (1 M ballots in all; ``HOM_PHIEU_BENCH_OPENING_BALLOTS`` sets
another size), every opinion sealed to its month's box key, with the kiosk's own
``RecordWriter`` (the ballot box's code that builds, checks, seals and signs records, without
its durable commit: a year of ballots would take hours to commit one by one), in a worker
process per device, and COPY'd to a staging table. Then month by month, as the server would
see them, each month's records are synced and the month opened with ``open_box`` (not
measured), so each device has the checkpoint of September's opening; then October's.

Measured, in a fresh process: ``web.opening.count_box`` of October with the box key
rebuilt: each chain walked from its checkpoint, every signature checked and every ballot
opened on all cores, counted. Beside it, its peak memory (RSS high-water of the process,
and of its decrypting workers). The floor: verifying the signatures of the same records
(those after the checkpoints) with ``cryptography`` on all cores, read as the sum of each
device's time on one core divided by the number of cores. Targets: ≤ 1.5× the floor,
≤ 200 MB. PostgreSQL from ``HOM_PHIEU_BENCH_DATABASE_URL`` (its schema is dropped).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import psycopg
from sqlalchemy import select, text

from bench.ingest import postgresql_url, reset_postgresql
from bench.report import Row, Settings, log, ms, ratio
from hom_phieu import __version__
from hom_phieu.clock import parse_iso_ms
from hom_phieu.ledger.box_key import BoxPrivateKey
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.opinion import KeyRing
from hom_phieu.ledger.records import Kind, TimeQuality
from hom_phieu.ledger.timing import Stamp
from hom_phieu.ledger.verify import Verifier
from hom_phieu.ledger.writer import RecordWriter
from web.ceremony_calendar import next_box
from web.device_state import ROW_COLUMNS, row_of

ORDER = 7
DEVICES = 20
BALLOTS = int(os.environ.get("HOM_PHIEU_BENCH_OPENING_BALLOTS", "1000000"))
BALLOTS_QUICK = 20_000
HISTORY, HISTORY_QUICK = 1_000, 100  # ballots a device-month, the year before the box
FIRST_MONTH, BOX, MONTHS = "2025-10", "2026-10", 12
LEVELS = (("rat_hai_long", "very_satisfied"), ("hai_long", "satisfied"),
          ("khong_hai_long", "not_satisfied"))  # fmt: skip
CLERKS = ("lan", "binh", "mai")
STAGING = "bench_staged_records"  # the records written ahead, by month ("stage")


def master(box: str) -> bytes:
    """The bench's box master secret of a month (the same in every process)."""
    return hashlib.sha256(f"bench box {box}".encode()).digest()[:16]


def months() -> list[str]:
    found = [FIRST_MONTH]
    while found[-1] != BOX:
        found.append(next_box(found[-1]))
    return found


def write_device(url: str, folder: str, index: int, device_pk: int, office_id: int,
                 history: int, votes: int) -> int:  # fmt: skip
    """In a worker: one device's ledger, written with the kiosk's RecordWriter and copied
    into the server's database. Returns the number of records."""
    key = DeviceKey.load_or_create(Path(folder) / f"device-{index:02d}.pem")
    ring = KeyRing({m: BoxPrivateKey.from_master(master(m)).public for m in months()})
    writer = RecordWriter(key, Verifier(key.public_raw, key.device_id), sealer=ring)
    device = SimpleNamespace(id=device_pk, office_id=office_id)
    written, stage = 0, 0
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        columns = ", ".join(ROW_COLUMNS)
        with conn.cursor().copy(f"COPY {STAGING} ({columns}, stage) FROM STDIN") as copy:

            def write(wall_ms: int, specs: list, received: datetime, **options) -> None:
                nonlocal written
                moment = Stamp(wall_ms, TimeQuality.SYNCED, wall_ms * 1_000_000, None, None)
                prepared = writer.prepare(moment, specs, **options)
                writer.adopt(prepared)
                for record, sig in prepared.signed:
                    row = row_of(device, record, sig, received)  # type: ignore[arg-type]
                    copy.write_row([*(row[name] for name in ROW_COLUMNS), stage])
                written += len(prepared.signed)

            for number, month in enumerate(months()):
                stage = number
                start = parse_iso_ms(f"{month}-01T07:30:00") + index * 1000
                received = datetime.fromtimestamp(
                    parse_iso_ms(f"{next_box(month)}-01T09:00:00") / 1000, UTC
                )
                if number == 0:
                    boot = {"software": __version__, "kernel_boot_id": f"bench-{index}",
                            "clock_ms": start, "clock_synced": True,
                            "config_digest": None}  # fmt: skip
                    write(start, [(Kind.BOOT, boot), (Kind.OPEN, {})], received, boot=1)
                else:
                    write(start, [(Kind.CLOSE, {}), (Kind.OPEN, {})], received)
                count = votes if month == BOX else history
                step = 26 * 24 * 3600 * 1000 // max(count, 1)
                for n in range(count):
                    button, level = LEVELS[(n * 7 + index) % 11 % 3]
                    body = {"counter": n + 1, "clerk": CLERKS[n // 50 % 3], "button": button,
                            "level": level, "channel": "button"}  # fmt: skip
                    write(start + (n + 1) * step, [(Kind.VOTE, body)], received)
            closing = parse_iso_ms(f"{next_box(BOX)}-01T07:00:00") + index * 1000
            write(
                closing, [(Kind.CLOSE, {}), (Kind.OPEN, {})], datetime(2026, 11, 1, 2, tzinfo=UTC)
            )
    return written


def build(url: str, folder: str, history: int, votes: int) -> int:
    """The office, its devices and committee; every device's records; the year opened."""
    from web import create_app, db
    from web.models import Clerk, CommitteeMember, Counter, Device, Office, Unit, User
    from web.services import close_app

    reset_postgresql(url)
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x"})
    db.upgrade(url)
    try:
        with app.app_context():
            session = db.session()
            office = Office(unit=Unit(code="xa-bench", name="Xã Bench", kind="xã"),
                            code="bench", name="UBND xã Bench", quorum=3)  # fmt: skip
            session.add_all([office, *(Clerk(office=office, code=c, name=c) for c in CLERKS)])
            session.flush()
            pks = []
            for i in range(DEVICES):
                key = DeviceKey.load_or_create(Path(folder) / f"device-{i:02d}.pem")
                counter = Counter(office=office, name=f"Quầy {i + 1}")
                device = Device(office=office, counter=counter, label=f"Kiosk {i + 1}",
                                device_id=key.device_id, public_key=key.public_raw,
                                status="active")  # fmt: skip
                session.add(device)
                session.flush()
                pks.append(device.id)
            for username, role in (("chu-tich", "ubnd_leader"), ("mttq", "mttq_chair"),
                                   ("thu-ky", "secretary")):  # fmt: skip
                user = User(username=username, password_hash="-", display_name=username,
                            role="committee")  # fmt: skip
                session.add(user)
                session.flush()
                session.add(CommitteeMember(office_id=office.id, user_id=user.id,
                                            committee_role=role))  # fmt: skip
            office_id = office.id
            session.commit()
        with app.app_context():  # each month's records wait here until their month comes
            session = db.session()
            columns = ", ".join(ROW_COLUMNS)
            session.execute(text(f"CREATE UNLOGGED TABLE {STAGING} AS SELECT {columns}, "
                                 "0 AS stage FROM ledger_records WITH NO DATA"))  # fmt: skip
            session.commit()
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=os.cpu_count(), mp_context=context) as pool:
            futures = [pool.submit(write_device, url, folder, i, pk, office_id, history, votes)
                       for i, pk in enumerate(pks)]  # fmt: skip
            records = sum(future.result() for future in futures)
        log(f"  opening at scale: {records:,} records written")
        with app.app_context():  # each month synced, then opened on the 3rd of the next
            session = db.session()
            columns = ", ".join(ROW_COLUMNS)
            for number, month in enumerate(months()):
                session.execute(text(f"INSERT INTO ledger_records ({columns}) SELECT {columns} "
                                     f"FROM {STAGING} WHERE stage = {number} "
                                     "ORDER BY device_pk, seq"))  # fmt: skip
                session.commit()
                if month != BOX:
                    open_month(session, office_id, month)
            session.execute(text(f"DROP TABLE {STAGING}"))
            session.execute(text("ANALYZE ledger_records"))
            session.commit()
        return records
    finally:
        close_app(app)


def open_month(session, office_id: int, box: str) -> None:
    from web.models import Confirmation, Opening, User
    from web.opening import open_box

    when = datetime.fromtimestamp(parse_iso_ms(f"{next_box(box)}-03T10:00:00") / 1000, UTC)
    users = session.execute(select(User.id, User.username)).all()
    roles = {"chu-tich": "ubnd_leader", "mttq": "mttq_chair", "thu-ky": "secretary"}
    secretary = next(pk for pk, name in users if name == "thu-ky")
    opening = Opening(office_id=office_id, box=box, started_by=secretary, started_at=when)
    session.add(opening)
    session.flush()
    session.add_all(Confirmation(opening_id=opening.id, user_id=pk, committee_role=roles[name],
                                 at=when) for pk, name in users)  # fmt: skip
    session.flush()
    open_box(session, opening, secretary, warnings_reason="bench", now=when)
    session.commit()
    log(f"  opening at scale: {box} opened")


def measure_opening(url: str) -> tuple[int, int, int, int, int, list[int]]:
    """In a fresh process: count October with its key. Nanoseconds, ballots, resumed
    devices, RSS high-water of this process and of its workers (bytes), sealed count."""
    from web import create_app, db
    from web.models import Office
    from web.opening import count_box

    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x"})
    key = BoxPrivateKey.from_master(master(BOX))
    with app.app_context():
        session = db.session()
        office = session.scalar(select(Office).where(Office.code == "bench"))
        started = time.perf_counter_ns()
        count = count_box(session, office, BOX, {key.public.fingerprint: key})
        elapsed = time.perf_counter_ns() - started
        session.rollback()
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    problems = [d.problem for d in count.devices if d.problem is not None]
    if problems or count.unreadable or count.sealed:
        raise RuntimeError(f"the bench's opening failed: {problems[:3]} {count.unreadable[:3]}")
    resumed = sum(1 for d in count.devices if d.resumed_from > 0)
    after = [d.resumed_from for d in count.devices]
    return elapsed, count.main.votes, resumed, own, workers, after


def device_signatures(url: str, public_key: bytes, device_pk: int, after: int) -> tuple[int, int]:
    """In a worker: one core verifying the signatures of a device's records after ``after``
    (read first, not timed). Nanoseconds and records."""
    from bench.startup_verify import time_signatures

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        signed = conn.execute("SELECT data, sig FROM ledger_records WHERE device_pk = %s AND "
                              "seq > %s ORDER BY seq", (device_pk, after)).fetchall()  # fmt: skip
    return time_signatures(public_key, [(bytes(d), bytes(s)) for d, s in signed]), len(signed)


def run(settings: Settings) -> list[Row]:
    url, why = postgresql_url()
    if url is None or not url.startswith("postgresql"):
        log(f"  opening at scale: not measured ({why or 'not PostgreSQL'})")
        return []
    votes = (BALLOTS_QUICK if settings.quick else BALLOTS) // DEVICES
    history = HISTORY_QUICK if settings.quick else HISTORY
    settings.workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    records = build(url, str(settings.workdir), history, votes)
    log(f"  opening at scale: seeded in {time.perf_counter() - started:.0f} s (not measured)")
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as one:
        elapsed, ballots, resumed, own, workers, after = one.submit(measure_opening, url).result()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        devices = conn.execute("SELECT id, public_key FROM devices ORDER BY id").fetchall()
    cores = os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=cores, mp_context=spawn) as pool:
        keys, pks = [bytes(k) for _, k in devices], [pk for pk, _ in devices]
        timed = list(pool.map(device_signatures, [url] * len(devices), keys, pks, after))
    floor = sum(ns for ns, _ in timed) / cores
    walked = sum(n for _, n in timed)
    reset_postgresql(url)
    peak = max(own, workers)
    log(f"  opening at scale: {ms(elapsed)} for {ballots:,} ballots, floor {ms(floor)}, "
        f"RSS {own / 2**20:.0f} MB (workers {workers / 2**20:.0f} MB)")  # fmt: skip
    what = (f"{ballots:,} sealed ballots, {DEVICES} devices ({resumed} resumed from a "
            f"checkpoint), after a year of {records - walked:,} records opened "
            "month by month")  # fmt: skip
    return [
        Row(
            f"Opening at scale (PostgreSQL): `count_box` with the box key, {what}",
            f"{ms(elapsed)} ({walked / elapsed * 1e9:,.0f} records/s)",
            f"{ms(floor)} (Ed25519 of the {walked:,} records walked, {cores} cores)",
            ratio(elapsed, floor) + " (target ≤ 1.5×)",
        ),
        Row(
            "Opening at scale: peak memory (RSS high-water of the opening process; of a "
            "decrypting worker)",
            f"{own / 2**20:.0f} MB; {workers / 2**20:.0f} MB",
            "200 MB (target)",
            ratio(peak, 200 * 2**20),
        ),
    ]
