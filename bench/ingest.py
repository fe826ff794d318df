"""Server ingest: ``POST /api/v1/records`` versus Ed25519 verification of the same records.

N records (20,000; 2,000 with ``--quick``) are built once by a real ``BallotBox`` on a
fake clock (votes 1 s apart, a refused press now and then, across the end of November:
CLOSE and OPEN records too). The floor verifies every record's signature with
``cryptography`` directly, the one thing an honest server cannot skip. The measured path
is the whole server in process through Flask's test client: a fresh database brought to
the newest schema, a device enrolled as the kiosk does, then the records pushed in
batches of 500 with the device's signed headers, bodies prepared beforehand. Timed from
the first POST to the last 200, on SQLite (a file on the measured disk) and on
PostgreSQL when one can be reached: its public schema is DROPPED and recreated.
"""

from __future__ import annotations

import base64
import json
import os
import statistics
import time
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import create_engine, text

from bench.report import Row, Settings, log, ms, ratio
from bench.startup_verify import time_signatures
from hom_phieu.clock import FakeClock
from hom_phieu.install import home
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.verify import Row as LedgerRow
from hom_phieu.protocol.signing import signed_headers
from web import clock, create_app, db
from web.models import Clerk, Counter, Device, Enrollment, Office, ScaleButton, Unit
from web.pages import enrollment_hash
from web.services import close_app

ORDER = 5
RECORDS, RECORDS_QUICK = 20_000, 2_000
REPEATS, REPEATS_QUICK = 3, 1
BATCH = 500  # the server's limit per push
PATH = "/api/v1/records"
CODE = "BNCH-BNCH-BNCH"
BUTTONS = [("rat_hai_long", "very_satisfied"), ("hai_long", "satisfied")]
BUTTONS += [("khong_hai_long", "not_satisfied")]
PG_URL_VARS = ("HOM_PHIEU_BENCH_DATABASE_URL", "HOM_PHIEU_TEST_DATABASE_URL")


def build_records(folder: Path, key: DeviceKey, count: int) -> list[LedgerRow]:
    """``count`` records of a real ballot box: votes 1 s apart and some refused presses."""
    clock = FakeClock.at("2026-11-30T20:00:00")
    with BallotBox.open(folder / "ballot-box.sqlite3", key, clock, kernel_boot_id="bench") as box:
        n = 0
        while box.state.head_seq < count:
            clock.advance(1000)
            name, level = BUTTONS[n % 3]
            box.cast_vote(clerk="lan", button=name, level=level)
            if n % 97 == 5:
                box.refuse(button=name, reason="min_gap", clerk="lan")
            n += 1
        return box.store.rows()[:count]


def pushes(key: DeviceKey, records: list[LedgerRow]) -> list[tuple[bytes, dict[str, str]]]:
    """The bodies and signed headers of the pushes, made before the clock starts."""
    prepared = []
    for start in range(0, len(records), BATCH):
        wire = [
            {"seq": r.seq, "data": _b64(r.data), "sig": _b64(r.sig)}
            for r in records[start : start + BATCH]
        ]
        body = json.dumps({"nonce": f"n-{start}", "records": wire}).encode()
        headers = signed_headers(key, "POST", PATH, body)
        prepared.append((body, {**headers, "Content-Type": "application/json"}))
    return prepared


def server(url: str, *keys: DeviceKey) -> Flask:
    """A fresh server at ``url``: schema, an office with a scale and a clerk, every key in
    ``keys`` enrolled as a kiosk does. The caller closes the app (``close_app``)."""
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "bench"})
    db.upgrade(url)
    with app.app_context():
        session = db.session()
        unit = Unit(code="xa-bench", name="Xã Bench", kind="xã")
        office = Office(unit=unit, code="bench", name="UBND xã Bench")
        scale = [
            ScaleButton(office=office, position=i, name=name, label=name, level=level)
            for i, (name, level) in enumerate(BUTTONS, 1)
        ]
        counter = Counter(office=office, name="Quầy 1")
        session.add_all([office, counter, *scale, Clerk(office=office, code="lan", name="Lan")])
        session.flush()
        for number, _key in enumerate(keys):
            device = Device(office_id=office.id, counter_id=counter.id)
            session.add(device)
            session.flush()
            expires = clock.now() + timedelta(hours=1)
            code_hash = enrollment_hash(_code(number))
            session.add(Enrollment(device_pk=device.id, code_hash=code_hash, expires_at=expires))
        session.commit()
    for number, key in enumerate(keys):
        payload = {"code": _code(number), "public_key": _b64(key.public_raw), "software": "bench"}
        body = json.dumps(payload).encode()
        answer = app.test_client().post(
            "/api/v1/enroll", data=body, headers=signed_headers(key, "POST", "/api/v1/enroll", body)
        )
        if answer.status_code != 200:
            raise RuntimeError(f"enrollment refused: {answer.get_data(as_text=True)}")
    return app


def _code(number: int) -> str:
    """The enrollment code of the ``number``-th kiosk."""
    return CODE[:-1] + "ABCDEFGHJK"[number]


def time_ingest(app: Flask, prepared: list[tuple[bytes, dict[str, str]]]) -> tuple[int, list[int]]:
    """Nanoseconds from the first POST to the last 200, and those of each push."""
    client = app.test_client()
    each = []
    started = time.perf_counter_ns()
    for body, headers in prepared:
        before = time.perf_counter_ns()
        answer = client.post(PATH, data=body, headers=headers)
        each.append(time.perf_counter_ns() - before)
        if answer.status_code != 200:
            raise RuntimeError(f"push refused: {answer.get_data(as_text=True)}")
    return time.perf_counter_ns() - started, each


def reset_postgresql(url: str) -> None:
    """Drop and recreate the public schema, as tests/conftest.py does."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
            connection.execute(text("DROP FUNCTION IF EXISTS hom_phieu_append_only() CASCADE"))
    finally:
        engine.dispose()


def measure(
    name: str, url: str, key: DeviceKey, records: list[LedgerRow], repeats: int
) -> list[Row]:
    prepared = pushes(key, records)
    signed = [(r.data, r.sig) for r in records]
    totals, batches, floors = [], [], []
    for _ in range(repeats):
        if url.startswith("postgresql"):
            reset_postgresql(url)
        else:
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        app = server(url, key)
        try:
            floors.append(time_signatures(key.public_raw, signed))
            total, each = time_ingest(app, prepared)
        finally:
            close_app(app)
        totals.append(total)
        batches += each
    if url.startswith("postgresql"):
        reset_postgresql(url)
    n = len(records)
    total, floor, batch = (statistics.median(x) for x in (totals, floors, batches))
    share = f"{floor / total:.0%} of the floor's rate"
    log(f"  ingest {name}: {ms(total)} ({n / total * 1e9:,.0f} records/s), {share}")
    of = f"median of {repeats}" if repeats > 1 else "one run"
    return [
        Row(
            f"Ingest, {name}: {n:,} records pushed in batches of {BATCH} ({of})",
            f"{ms(total)} ({n / total * 1e9:,.0f} records/s)",
            f"{ms(floor)} ({n / floor * 1e9:,.0f} signatures/s, Ed25519 only)",
            f"{ratio(total, floor)} ({share})",
        ),
        Row(
            f"Ingest, {name}: one push of {BATCH} (median of {len(batches)})",
            ms(batch),
            f"{ms(floor * BATCH / n)} ({BATCH} signatures)",
            ratio(batch, floor * BATCH / n),
        ),
    ]


def postgresql_url() -> tuple[str | None, str]:
    """The URL to use and, when there is none that answers, why."""
    url = next((os.environ[v] for v in PG_URL_VARS if os.environ.get(v)), None)
    if url is None:
        return None, f"set {' or '.join(PG_URL_VARS)}"
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return url, ""
    except Exception as exc:  # any failure to connect means: not measured
        return None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
    finally:
        engine.dispose()


def run(settings: Settings) -> list[Row]:
    settings.workdir.mkdir(parents=True, exist_ok=True)
    count = RECORDS_QUICK if settings.quick else RECORDS
    repeats = REPEATS_QUICK if settings.quick else REPEATS
    with home(settings.workdir / "home"):
        key = DeviceKey.load_or_create(settings.workdir / "device-key.pem")
        log(f"  ingest: building a ledger of {count:,} records")
        records = build_records(settings.workdir, key, count)
        sqlite_url = f"sqlite:///{settings.workdir / 'server.sqlite3'}"
        rows = measure("SQLite", sqlite_url, key, records, repeats)
        pg_url, why = postgresql_url()
        if pg_url is None:
            log(f"  ingest: PostgreSQL not available ({why})")
            return [*rows, Row("Ingest, PostgreSQL: not available", "—", "—", "—")]
        try:  # a shared test database may be dropped under us by a concurrent test run
            return rows + measure("PostgreSQL", pg_url, key, records, repeats)
        except Exception as exc:
            log(f"  ingest: PostgreSQL failed: {type(exc).__name__}: {str(exc)[:300]}")
            return [
                *rows,
                Row("Ingest, PostgreSQL: failed (the error is on stderr)", "—", "—", "—"),
            ]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
