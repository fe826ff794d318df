"""Each input that once answered 500 now answers 4xx naming what is wrong (issue 10, "No
input reaches a 500"), on SQLite and on PostgreSQL; a database that cannot write answers
503 with its reason. The fuzzers (tests/test_fuzz_*.py) look for the ones not listed."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from tests.api_helpers import b64, enroll, post, register, signed
from tests.api_helpers import seed as seed_api
from tests.kiosk_process import KioskProcess
from tests.web_helpers import csrf_token, login
from web import db
from web.models import Clerk, Unit
from web.services import services


@pytest.fixture
def kiosk_site(site, key: DeviceKey):
    """The seeded admin site with an enrolled kiosk of office "demo" (tests.api_helpers)."""
    app, client, ids = site
    seed_api(app)
    register(app)
    assert enroll(client, key).status_code == 200
    return app, client, ids


def refused(response, status: int, *words: str) -> str:
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:500]
    for word in words:
        assert word in text, (word, text[:500])
    return text


def count(app, model) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(model))


# --- the device API ------------------------------------------------------------------------
def test_a_lone_surrogate_in_a_push_nonce_is_refused_naming_it(kiosk_site, key) -> None:
    _app, client, _ids = kiosk_site
    body = b'{"nonce": "\\ud800", "records": []}'
    answer = post(client, key, "/api/v1/records", None, raw=body)
    refused(answer, 400, '"malformed"', "nonce", "U+D800")


@pytest.mark.parametrize("text", ["\\ud800", "h\\u1ebft gi\\u1ea5y\\u0000"])
def test_health_text_that_cannot_be_stored_is_refused_and_devices_stays_readable(
    kiosk_site, key, text: str
) -> None:
    _app, client, _ids = kiosk_site
    body = ('{"printer": "' + text + '", "unsynced": 0}').encode()
    refused(post(client, key, "/api/v1/health", None, raw=body), 400, "printer")
    login(client, "admin")
    assert client.get("/devices").status_code == 200  # for everyone, not only this device


def test_time_quality_must_be_one_word(kiosk_site, key) -> None:
    _app, client, _ids = kiosk_site
    answer = post(client, key, "/api/v1/health", {"time_quality": ["synced"]})
    refused(answer, 400, "time_quality", "synced, anchored, unsynced")


def test_a_device_header_naming_no_possible_device_is_refused(kiosk_site, key) -> None:
    _app, client, _ids = kiosk_site
    headers = {**signed(key, "POST", "/api/v1/health", b"{}"), "X-HomPhieu-Device": "hp-\x00"}
    answer = client.post("/api/v1/health", data=b"{}", headers=headers)
    refused(answer, 401, '"unknown-device"')


def test_a_signed_record_holding_a_lone_surrogate_is_refused_as_unreadable(
    kiosk_site, key, box: BallotBox
) -> None:
    """Well signed by the enrolled key, but "\\ud800" has no canonical (UTF-8) form."""
    _app, client, _ids = kiosk_site
    first = box.store.rows()[0]
    fields = json.loads(first.data)
    fields["body"]["note"] = "\ud800"
    data = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    pushed = {"nonce": "n", "records": [{"seq": 1, "data": b64(data), "sig": b64(key.sign(data))}]}
    answer = post(client, key, "/api/v1/records", pushed)
    assert refused(answer, 422, '"record-refused"')
    assert answer.get_json()["fault"] == "unreadable"


# --- the admin pages -----------------------------------------------------------------------
def test_nul_in_a_login_name_is_refused_at_the_field(site) -> None:
    _app, client, _ids = site
    answer = login(client, "chu-tich\x00")
    assert answer.status_code < 500
    assert "U+0000" in answer.get_data(as_text=True)  # next to the field, not looked up


def test_nul_in_unit_and_clerk_names_is_refused_with_its_reason(site) -> None:
    app, client, ids = site
    login(client, "admin")
    page = client.get("/manage/units/new")
    answer = client.post(
        "/manage/units/new",
        data={"parent": ids["province"], "code": "38-x", "name": "Xã\x00", "kind": "xã",
              "csrf_token": csrf_token(page.text)},
    )  # fmt: skip
    refused(answer, 400, "U+0000")
    office = ids["dong"]["office"]
    page = client.get(f"/manage/offices/{office}/clerks/new")
    answer = client.post(
        f"/manage/offices/{office}/clerks/new",
        data={"code": "nv9", "name": "Nguyễn\x00", "procedure_field": 0, "counter": 0,
              "csrf_token": csrf_token(page.text)},
    )  # fmt: skip
    refused(answer, 400, "U+0000")
    assert (count(app, Unit), count(app, Clerk)) == (3, 0)


@pytest.mark.parametrize(
    "path",
    ["/s/demo%00/lan", "/public/receipt?code=%00", "/manage/units?x=%00", "/login?next=%00"],
)
def test_nul_in_an_address_is_refused_before_any_lookup(site, path: str) -> None:
    _app, client, _ids = site
    refused(client.get(path), 400, "U+0000")


@pytest.mark.parametrize(
    "path",
    ["/manage/offices/{big}", "/manage/units/{big}/offices", "/offices/{big}/boxes/2026-11",
     "/manage/clerks/{big}/photo", "/manage/offices/{pg}/edit"],
)  # fmt: skip
def test_an_id_past_the_database_integers_names_nothing(site, path: str) -> None:
    _app, client, _ids = site
    login(client, "admin")
    answer = client.get(path.format(big=10**20, pg=2**31))  # past SQLite's, past PostgreSQL's
    assert answer.status_code == 404


def test_nul_in_an_api_address_is_answered_as_json(site) -> None:
    _app, client, _ids = site
    assert client.get("/api/v1/config%00").get_json()["error"] == "malformed"


# --- a database that cannot write ------------------------------------------------------------
@contextlib.contextmanager
def full_disk(app):
    """Every write fails as the database's own driver fails on a full disk (reads work)."""
    engine = services(app).engine
    if engine.dialect.name == "sqlite":
        error: Exception = sqlite3.OperationalError("database or disk is full")
    else:
        from psycopg.errors import DiskFull

        error = DiskFull('could not extend file "base/16384/2619": No space left on device')

    def refuse_writes(_conn, _cursor, statement: str, *_args) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            raise error

    event.listen(engine, "before_cursor_execute", refuse_writes)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", refuse_writes)


def test_a_full_disk_answers_503_with_its_reason_then_recovers(kiosk_site, key) -> None:
    app, client, ids = kiosk_site
    login(client, "admin")
    page = client.get("/manage/units/new")
    form = {"parent": ids["province"], "code": "38-x", "name": "Xã Mới", "kind": "xã",
            "csrf_token": csrf_token(page.text)}  # fmt: skip
    client.get("/?lang=vi")
    with full_disk(app):
        answer = client.post("/manage/units/new", data=form)
        refused(answer, 503, "ổ đĩa", "đầy")
        assert "Traceback" not in answer.get_data(as_text=True)
        assert answer.headers["Retry-After"]
        health = post(client, key, "/api/v1/health", {"unsynced": 0})
        refused(health, 503, '"unavailable"')
    assert client.post("/manage/units/new", data=form).status_code == 302
    assert post(client, key, "/api/v1/health", {"unsynced": 0}).status_code == 200


# --- the simulator's panel -----------------------------------------------------------------
def raw_post(url: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_the_panel_refuses_json_that_is_not_an_object(isolated_home: Path) -> None:
    kiosk = KioskProcess(isolated_home)
    try:
        for path in ("api/press", "api/clock", "api/served"):
            for body in (b'["hai_long"]', b"3", b'"now"'):
                status, text = raw_post(kiosk.url + path, body)
                assert status in (400, 404), (path, body, status, text)
        status, text = raw_post(kiosk.url + "api/clock", b'{"now": "\\ud800"}')
        assert status == 400 and "U+D800" in text, text
        assert kiosk.get("/api/state")["box"]["ballots"] == 0  # alive, nothing counted
    finally:
        kiosk.terminate()
