"""Several stateless server processes on one PostgreSQL, as a province runs them behind a
reverse proxy: two real ``hom-phieu web serve`` processes, two kiosks syncing to both in
turn, phone answers arriving on both at the same time, the ceremony held on one. The
counts must be exact: no record lost, none twice, nothing refused."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hom_phieu.clock import FakeClock
from hom_phieu.ledger.device_key import DeviceKey
from tests.api_helpers import b64, register, signed, wire
from tests.ceremony_helpers import BUTTONS, CODE, Kiosk, review_token_of, seed_ceremony
from tests.conftest import PG_URL
from tests.web_helpers import PASSWORD
from tests.web_process import Browser, WebProcess
from web import create_app
from web import db as web_db
from web.models import Device, LedgerRecord, Office, ScaleButton
from web.services import close_app
from web.survey_criteria import DEFAULT_CRITERIA

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs HOM_PHIEU_TEST_DATABASE_URL")

# The last working day of November: the ceremony's own day (no early reason asked).
SERVER_START = "2026-11-30T09:00:00+07:00"
CODES = ("ABCD-EFGH-JKMN", "PQRS-TUVW-XYZ2")
PHONE_ANSWERS = 8  # under the rate limit of one address (all come from 127.0.0.1)
BOX = "2026-11"


def device_post(url: str, key: DeviceKey, path: str, payload: dict) -> tuple[int, dict]:
    """A kiosk's signed request to a server over HTTP."""
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", **signed(key, "POST", path, body)}
    request = urllib.request.Request(url.rstrip("/") + path, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def phone_answer(url: str, clerk: str, level_button: str) -> int:
    """A citizen's phone (a browser of its own) answers the screen QR's survey."""
    phone = Browser(url)
    page = f"/s/demo/{clerk}"
    fields = {"level": level_button, "comment": ""}
    for number in range(len(DEFAULT_CRITERIA)):  # (the office keeps the default criteria)
        fields[f"c{number}"] = "satisfied"
    status, _answer = phone.post(page, page + "?lang=en", **fields)
    return status


@pytest.fixture
def seeded(postgres_schema):
    url = postgres_schema.prepare()
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "test"},
                     clock=FakeClock.at(SERVER_START))  # fmt: skip
    ids = seed_ceremony(app)
    with app.app_context():
        session = web_db.session()
        for position, (name, level) in enumerate(BUTTONS.items()):
            session.add(ScaleButton(office_id=ids["dong"]["office"], position=position,
                                    name=name, label=name, level=level.value))  # fmt: skip
        session.commit()
    for code in CODES:
        register(app, code)
    yield app, url
    close_app(app)


def test_two_server_processes_on_one_postgresql_count_exactly(
    seeded, isolated_home: Path, tmp_path: Path
) -> None:
    app, url = seeded
    env = {"HOM_PHIEU_DATABASE_URL": url}
    # One home: the two workers share the server key and the session secret, as a
    # province's machines share them through their configuration.
    servers = [WebProcess(isolated_home, env=env, clock=SERVER_START) for _ in range(2)]
    try:
        kiosks = [Kiosk(tmp_path / f"k{n}", f"2026-11-2{n}T08:00:00") for n in (3, 4)]
        for number, (kiosk, code) in enumerate(zip(kiosks, CODES, strict=True)):
            payload = {"code": code, "public_key": b64(kiosk.key.public_raw), "software": "t"}
            status, answer = device_post(servers[number].url, kiosk.key, "/api/v1/enroll",
                                         payload)  # fmt: skip
            assert status == 200, answer
        failures: list[str] = []

        # Each kiosk's day at the counter, in six batches (its ballot box is written on this
        # thread: SQLite's connection is the box's own).
        batches: list[list[list]] = []
        clerks = ("lan", "binh")
        for number, kiosk in enumerate(kiosks):
            batches.append([])
            for batch in range(6):
                for vote in range(5):
                    kiosk.vote(clerks[(batch + vote) % 2],
                               list(BUTTONS)[(batch + vote + number) % len(BUTTONS)])  # fmt: skip
                rows = kiosk.rows()[kiosk.sent :]
                batches[number].append(rows)
                kiosk.sent += len(rows)

        def counter_sync(number: int, key: DeviceKey) -> None:
            """The kiosk's batches, each pushed to the other server than the one before."""
            for batch, rows in enumerate(batches[number]):
                server = servers[(batch + number) % 2]
                push = {"nonce": f"n-{batch}", "records": wire(rows)}
                status, answer = device_post(server.url, key, "/api/v1/records", push)
                if status != 200:
                    failures.append(f"kiosk {number} batch {batch}: {status} {answer}")

        phone_levels: Counter = Counter()

        def phones() -> None:
            for number in range(PHONE_ANSWERS):
                button = list(BUTTONS)[number % len(BUTTONS)]
                status = phone_answer(servers[number % 2].url, ("lan", "binh")[number % 2],
                                      button)  # fmt: skip
                if status != 200:
                    failures.append(f"phone answer {number}: {status}")
                else:
                    phone_levels[BUTTONS[button].value] += 1

        workers = [threading.Thread(target=counter_sync, args=(n, k.key))
                   for n, k in enumerate(kiosks)]  # fmt: skip
        workers.append(threading.Thread(target=phones))
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        assert failures == []

        # --- no record twice, none missing ---------------------------------------------------
        with app.app_context():
            session = web_db.session()
            for device in session.scalars(select(Device).where(Device.device_id.is_not(None))):
                held = session.execute(
                    select(func.count(), func.count(func.distinct(LedgerRecord.seq)),
                           func.max(LedgerRecord.seq))
                    .where(LedgerRecord.device_pk == device.id)
                ).one()  # fmt: skip
                assert held == (device.head_seq, device.head_seq, device.head_seq), device.kind
            office_id = session.scalar(select(Office.id).where(Office.code == "demo"))
        for number, kiosk in enumerate(kiosks):
            assert sum(map(len, batches[number])) == len(kiosk.rows())

        # --- the ceremony on one of them -----------------------------------------------------
        secretary = Browser(servers[0].url)
        assert secretary.post("/login", "/login", username="thu-ky", password=PASSWORD)[0] == 302
        page = f"/offices/{office_id}/boxes/{BOX}"
        assert secretary.post(page + "/start", page)[0] == 302  # its due day: no early reason
        for username in ("chu-tich", "mttq", "cong-doan"):
            status, answer = secretary.post(page + "/confirm", page, username=username,
                                            password=PASSWORD, code=CODE)  # fmt: skip
            assert status == 302, answer
        reason = {"warnings_reason": "Thiết bị chưa đóng hòm tháng"}
        status, summary = secretary.post(page + "/review", page, **reason)
        assert status == 200, summary
        status, answer = secretary.post(page + "/open", page, **reason,
                                        review_token=review_token_of(summary))  # fmt: skip
        assert status == 302, answer
        status, raw = secretary.get(page + "/minutes.json")
        assert status == 200
        count = json.loads(raw)["count"]
        pressed: Counter = Counter()
        for kiosk in kiosks:
            for (box, _clerk, level), n in kiosk.pressed.items():
                if box == BOX:
                    pressed[level] += n
        assert count["votes"] == sum(pressed.values()) == 60  # the official count: buttons
        assert {k: v for k, v in count["by_level"].items() if v} == dict(pressed)
        unverified = count["unverified"]  # the screen QR's answers: apart, every one of them
        assert unverified["votes"] == sum(phone_levels.values()) == PHONE_ANSWERS
        assert {k: v for k, v in unverified["by_level"].items() if v} == dict(phone_levels)
    finally:
        for server in servers:
            server.stop()
