"""The device API (docs/sync-protocol.md) with real signed records from a real ledger.

Every refusal is checked twice: the answer (a 4xx with a stable code and a reason) and
the database (nothing stored: the same rows, the same device head as before).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Level, canonical_bytes, decode, receipt_code, record_hash
from hom_phieu.ledger.verify import Row, verify_rows
from hom_phieu.protocol.signing import server_signature_ok
from tests.api_helpers import (
    CODE,
    b64,
    enroll,
    make_app,
    post,
    push,
    register,
    seed,
    signed,
    stored_rows,
    wire,
)
from tests.polling import wait_for
from tests.web_process import free_port
from web import clock, create_app
from web import db as web_db
from web.models import (
    Alert,
    AuditEntry,
    Clerk,
    Device,
    Enrollment,
    Evidence,
    LedgerRecord,
    Office,
)
from web.services import close_app

ROOT = Path(__file__).resolve().parent.parent
LEVEL_WORDS = tuple(level.value for level in Level)


# --- a real ledger ------------------------------------------------------------------------
@dataclass
class Ledger:
    folder: Path
    key: DeviceKey
    rows: list[Row]


def make_ledger(
    folder: Path,
    key_file: Path,
    votes: int,
    *,
    start: str,
    step_ms: int,
    first_button: str = "rat_hai_long",
) -> Ledger:
    """A real ballot box: votes and refused presses, ``step_ms`` apart, on a fake clock."""
    folder.mkdir(parents=True, exist_ok=True)
    key = DeviceKey.load_or_create(key_file)
    clock = FakeClock.at(start)
    buttons = [
        ("rat_hai_long", Level.VERY_SATISFIED),
        ("hai_long", Level.SATISFIED),
        ("khong_hai_long", Level.NOT_SATISFIED),
    ]
    with BallotBox.open(folder / "ballot-box.sqlite3", key, clock, kernel_boot_id="boot") as box:
        for n in range(votes):
            clock.advance(step_ms)
            name, level = (first_button, dict(buttons)[first_button]) if n == 0 else buttons[n % 3]
            box.cast_vote(clerk="lan", button=name, level=level)
            if n % 97 == 5:
                box.refuse(button=name, reason="min_gap", clerk="lan")
        rows = box.store.rows()
    return Ledger(folder, key, rows)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    """About 1,100 records over three days that cross the end of November (CLOSE, OPEN)."""
    folder = tmp_path_factory.mktemp("kiosk")
    return make_ledger(
        folder, folder / "device-key.pem", 1080, start="2026-11-29T08:00:00", step_ms=3 * 60_000
    )


# --- a server -------------------------------------------------------------------------------
@pytest.fixture
def app(migrated_database_url: str, server_clock: FakeClock):
    """The protocol on SQLite, and on the real PostgreSQL that .ci/run starts."""
    server_clock.advance_to("2026-12-02T09:00:00")  # after the ledgers: none dated ahead
    app = create_app(
        {"DATABASE_URL": migrated_database_url, "TESTING": True, "SECRET_KEY": "x"},
        clock=server_clock,
    )
    seed(app)
    yield app
    close_app(app)


@pytest.fixture
def client(app):
    return app.test_client()


def server_key_raw(app) -> bytes:
    with app.app_context():
        from web.server_key import server_key

        return server_key().public_raw


@dataclass(frozen=True)
class Snapshot:
    records: int
    evidence: int
    alerts: int
    heads: tuple


def snapshot(app) -> Snapshot:
    with app.app_context():
        session = web_db.session()

        def count(model) -> int:
            return session.scalar(select(func.count()).select_from(model))

        heads = tuple(
            session.execute(
                select(
                    Device.id, Device.head_seq, Device.head_hash, Device.status, Device.last_seen_at
                ).order_by(Device.id)
            ).all()
        )
        # (a refused push raises an alert of its own: tests.test_kiosk_faults)
        alerts = session.scalar(
            select(func.count()).select_from(Alert).where(Alert.kind != "records_refused")
        )
        return Snapshot(count(LedgerRecord), count(Evidence), alerts, heads)


def refused(response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["error"] == error, answer
    assert answer["message"]
    return answer


@pytest.fixture
def enrolled(app, client, ledger: Ledger) -> Ledger:
    register(app)
    assert enroll(client, ledger.key).status_code == 200
    return ledger


# --- enrollment -------------------------------------------------------------------------
def test_enrollment_binds_the_key_and_answers_identity_and_signed_config(app, client, ledger):
    device_pk = register(app)
    response = enroll(client, ledger.key)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["device_id"] == ledger.key.device_id
    assert answer["office"] == {"code": "demo", "name": "UBND xã Demo"}
    assert answer["counter"] == "Quầy 1"
    server_raw = base64.b64decode(answer["server_public_key"])
    assert server_raw == server_key_raw(app)
    config = answer["config"]
    assert server_signature_ok(server_raw, config, answer["config_sig"])
    assert [c["id"] for c in config["clerks"]] == ["binh", "lan"]  # active, this office
    assert [b["name"] for b in config["buttons"]] == ["rat_hai_long", "hai_long", "khong_hai_long"]
    with app.app_context():
        session = web_db.session()
        device = session.get(Device, device_pk)
        assert (device.status, device.device_id) == ("active", ledger.key.device_id)
        assert device.public_key == ledger.key.public_raw
        assert session.scalar(select(Enrollment.used_at)) is not None
        assert session.scalar(select(AuditEntry.action)) == "device_enrolled"
    key_file = Path(app.instance_path) / "server-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_enrollment_refusals_are_clear_and_change_nothing(app, client, ledger, tmp_path):
    register(app)
    before = snapshot(app)
    refused(enroll(client, ledger.key, "ZZZZ-ZZZZ-ZZZZ"), 400, "bad-code")
    unsigned = client.post(
        "/api/v1/enroll", json={"code": CODE, "public_key": b64(ledger.key.public_raw)}
    )
    refused(unsigned, 401, "bad-signature")
    other = DeviceKey.load_or_create(tmp_path / "other.pem")
    body = json.dumps({"code": CODE, "public_key": b64(ledger.key.public_raw)}).encode()
    stolen = client.post(
        "/api/v1/enroll", data=body, headers=signed(other, "POST", "/api/v1/enroll", body)
    )
    refused(stolen, 401, "bad-signature")  # someone else's public key: not theirs to bind
    refused(
        post(client, ledger.key, "/api/v1/enroll", {"code": CODE, "public_key": "AAAA"}),
        400,
        "malformed",
    )
    assert snapshot(app) == before
    assert enroll(client, ledger.key).status_code == 200
    refused(enroll(client, other), 410, "code-used")
    register(app, "BBBB-CCCC-DDDD")
    refused(enroll(client, ledger.key, "BBBB-CCCC-DDDD"), 409, "key-in-use")
    register(app, "EEEE-FFFF-GGGG", hours=-1)
    refused(enroll(client, other, "eeee ffff gggg"), 410, "code-expired")
    revoked = register(app, "HHHH-JJJJ-KKKK")
    with app.app_context():
        web_db.session().get(Device, revoked).status = "revoked"
        web_db.session().commit()
    refused(enroll(client, other, "HHHH-JJJJ-KKKK"), 410, "device-not-pending")


def test_wrong_codes_are_throttled_per_address(app, client, ledger):
    register(app)
    for n in range(10):
        refused(enroll(client, ledger.key, f"WRNG-CODE-{n:04d}"), 400, "bad-code")
    refused(enroll(client, ledger.key, CODE), 429, "throttled")  # even the right code waits


# --- pushing records ----------------------------------------------------------------------
def test_push_stores_records_and_answers_a_signed_ack(app, client, enrolled, server_clock):
    rows = enrolled.rows[:200]
    response = push(client, enrolled.key, rows, nonce="fresh-nonce")
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert (answer["stored"], answer["duplicates"], answer["head_seq"]) == (200, 0, 200)
    ack = answer["ack"]
    assert server_signature_ok(server_key_raw(app), ack, answer["ack_sig"])
    assert ack["nonce"] == "fresh-nonce" and ack["device_id"] == enrolled.key.device_id
    assert (ack["head_seq"], ack["head_hash"]) == (200, record_hash(rows[-1].data))
    assert ack["server_time_ms"] == server_clock.wall_ms  # the server's clock, signed
    assert stored_rows(app, enrolled.key.device_id) == rows
    with app.app_context():
        session = web_db.session()
        office = session.scalar(select(Office).where(Office.code == "demo"))
        stored = session.scalars(select(LedgerRecord).order_by(LedgerRecord.seq)).all()
        for record in stored:
            decoded = decode(record.data)
            assert (record.office_id, record.box, record.kind) == (
                office.id,
                decoded.box,
                decoded.kind.value,
            )
            assert record.receipt == (receipt_code(decoded.hash) if record.kind == "VOTE" else None)
        device = session.scalar(select(Device))
        assert (device.head_seq, device.head_hash) == (200, ack["head_hash"])
    assert not any(word in response.get_data(as_text=True) for word in LEVEL_WORDS)


def test_a_resend_is_a_no_op_and_an_overlap_stores_only_the_new(app, client, enrolled):
    rows = enrolled.rows
    assert push(client, enrolled.key, rows[:50]).status_code == 200
    before = snapshot(app)
    again = push(client, enrolled.key, rows[:50]).get_json()
    assert (again["stored"], again["duplicates"], again["head_seq"]) == (0, 50, 50)
    assert again["ack"]["head_seq"] == 50
    assert snapshot(app).records == before.records
    overlap = push(client, enrolled.key, rows[39:60]).get_json()
    assert (overlap["stored"], overlap["duplicates"], overlap["head_seq"]) == (10, 11, 60)
    assert stored_rows(app, enrolled.key.device_id) == rows[:60]


def test_the_whole_ledger_in_batches_across_a_month_and_a_server_restart(
    app, client, enrolled, tmp_path, server_clock
):
    rows = enrolled.rows
    kinds = [decode(r.data).kind.value for r in rows]
    close = kinds.index("CLOSE")
    assert push(client, enrolled.key, rows[:400]).status_code == 200
    assert push(client, enrolled.key, rows[400 : close + 1]).status_code == 200  # ends on CLOSE
    assert push(client, enrolled.key, rows[close + 1 : close + 300]).status_code == 200
    restarted = make_app(tmp_path / "server.sqlite3", server_clock).test_client()  # no cached state
    for start in range(close + 300, len(rows), 500):
        response = push(restarted, enrolled.key, rows[start : start + 500])
        assert response.status_code == 200, response.get_data(as_text=True)
    held = stored_rows(app, enrolled.key.device_id)
    assert held == rows
    problem, _verifier = verify_rows(held, enrolled.key.public_raw, enrolled.key.device_id)
    assert problem is None
    with app.app_context():
        boxes = (
            web_db.session()
            .execute(select(LedgerRecord.box, func.count()).group_by(LedgerRecord.box))
            .all()
        )
    assert {box for box, _n in boxes} == {"", "2026-11", "2026-12"}  # "": the first BOOT


def test_a_gap_is_answered_with_where_to_resume(app, client, enrolled):
    rows = enrolled.rows
    assert push(client, enrolled.key, rows[:10]).status_code == 200
    before = snapshot(app)
    answer = refused(push(client, enrolled.key, rows[14:20]), 409, "gap")
    assert answer["resume_from"] == 11
    assert snapshot(app) == before
    assert push(client, enrolled.key, rows[10:20]).get_json()["stored"] == 10


@pytest.mark.parametrize(
    ("order", "fault"),
    [([1, 0, 2], "reordered"), ([0, 1, 1, 2], "inserted"), ([0, 2, 3], "removed")],
)
def test_a_batch_out_of_order_is_refused_naming_the_record(app, client, enrolled, order, fault):
    rows = enrolled.rows[10:14]
    assert push(client, enrolled.key, enrolled.rows[:10]).status_code == 200
    before = snapshot(app)
    answer = refused(push(client, enrolled.key, [rows[i] for i in order]), 422, "record-refused")
    assert answer["fault"] == fault
    assert snapshot(app) == before


def test_forged_and_altered_records_are_refused(app, client, enrolled):
    rows = enrolled.rows
    assert push(client, enrolled.key, rows[:5]).status_code == 200
    before = snapshot(app)
    victim = rows[7]
    forged = Row(victim.seq, victim.data, bytes(64))
    answer = refused(push(client, enrolled.key, [*rows[5:7], forged]), 422, "record-refused")
    assert (answer["seq"], answer["fault"]) == (8, "bad-signature")
    altered = Row(victim.seq, victim.data.replace(b'"lan"', b'"ann"'), victim.sig)
    answer = refused(push(client, enrolled.key, [*rows[5:7], altered]), 422, "record-refused")
    assert (answer["seq"], answer["fault"]) == (8, "bad-signature")
    resent = Row(rows[2].seq, rows[2].data, bytes(64))  # a held record, with a forged signature
    refused(push(client, enrolled.key, [resent]), 422, "record-refused")
    assert snapshot(app) == before


def test_a_well_signed_record_that_breaks_the_chain_or_the_rules_is_refused(app, client, enrolled):
    """The key holder itself cannot get a replaced record or a rule break past the server."""
    key, rows = enrolled.key, enrolled.rows
    assert push(client, key, rows[:5]).status_code == 200
    before = snapshot(app)

    def resigned(row: Row, **changes: Any) -> Row:
        fields = {**json.loads(row.data), **changes}
        data = canonical_bytes(fields)
        return Row(row.seq, data, key.sign(data))

    answer = refused(push(client, key, [resigned(rows[5], prev="1" * 64)]), 422, "record-refused")
    assert answer["fault"] == "replaced"
    early = resigned(rows[5], wall_ms=decode(rows[4].data).wall_ms - 60_000)
    answer = refused(push(client, key, [early]), 422, "record-refused")
    assert answer["fault"] == "time-backwards"
    second = resigned(rows[5], body={**json.loads(rows[5].data)["body"], "counter": 99})
    answer = refused(push(client, key, [second]), 422, "record-refused")
    assert answer["fault"] == "rule"
    mislabelled = Row(6, rows[6].data, rows[6].sig)  # the batch says 6, the record says 7
    assert refused(push(client, key, [mislabelled]), 422, "record-refused")["fault"] == (
        "seq-mismatch"
    )
    assert snapshot(app) == before


def test_unknown_unsigned_and_revoked_devices_are_refused(app, client, enrolled, tmp_path):
    stranger = DeviceKey.load_or_create(tmp_path / "stranger.pem")
    before = snapshot(app)
    refused(push(client, stranger, enrolled.rows[:3]), 401, "unknown-device")
    body = json.dumps({"nonce": "n", "records": wire(enrolled.rows[:3])}).encode()
    refused(client.post("/api/v1/records", data=body), 401, "unauthenticated")
    forged = {
        **signed(stranger, "POST", "/api/v1/records", body),
        "X-HomPhieu-Device": enrolled.key.device_id,
    }
    refused(client.post("/api/v1/records", data=body, headers=forged), 401, "bad-signature")
    replayed = signed(enrolled.key, "POST", "/api/v1/health", body)  # signed for another path
    refused(client.post("/api/v1/records", data=body, headers=replayed), 401, "bad-signature")
    assert snapshot(app) == before
    with app.app_context():
        device = web_db.session().scalar(select(Device))
        device.status, device.revoked_at = "revoked", clock.now()
        web_db.session().commit()
    before = snapshot(app)
    answer = refused(push(client, enrolled.key, enrolled.rows[:3]), 403, "revoked")
    assert "revoked" in answer["message"]
    refused(
        client.get("/api/v1/config", headers=signed(enrolled.key, "GET", "/api/v1/config", b"")),
        403,
        "revoked",
    )
    assert snapshot(app) == before


def test_records_of_device_a_sent_as_device_b_are_refused(app, client, enrolled, tmp_path):
    other = make_ledger(
        tmp_path / "b", tmp_path / "b-key.pem", 5, start="2026-11-29T08:00:00", step_ms=60_000
    )
    register(app, "BBBB-CCCC-DDDD")
    assert enroll(client, other.key, "BBBB-CCCC-DDDD").status_code == 200
    before = snapshot(app)
    answer = refused(push(client, other.key, enrolled.rows[:5]), 422, "record-refused")
    assert (answer["seq"], answer["fault"]) == (1, "foreign-key")
    assert snapshot(app) == before


def test_equivocation_is_kept_as_evidence_and_raised_as_an_alert(app, client, enrolled, tmp_path):
    """A clone: the same key, another ledger, a different vote at the same seq."""
    clone_home = tmp_path / "clone"
    clone_home.mkdir()
    shutil.copy2(enrolled.folder / "device-key.pem", clone_home / "device-key.pem")
    clone = make_ledger(
        clone_home,
        clone_home / "device-key.pem",
        5,
        start="2026-11-29T08:00:00",
        step_ms=3 * 60_000,
        first_button="khong_hai_long",
    )
    assert clone.key.device_id == enrolled.key.device_id
    assert clone.rows[:2] == enrolled.rows[:2]  # BOOT and OPEN agree; the first vote differs
    assert clone.rows[2] != enrolled.rows[2]
    assert push(client, enrolled.key, enrolled.rows[:10]).status_code == 200
    before = snapshot(app)
    response = push(client, clone.key, clone.rows[:5])
    answer = refused(response, 409, "equivocation")
    assert answer["seq"] == 3
    assert not any(word in response.get_data(as_text=True) for word in LEVEL_WORDS)
    after = snapshot(app)
    assert (after.records, after.heads) == (before.records, before.heads)
    assert (after.evidence, after.alerts) == (1, 1)
    with app.app_context():
        session = web_db.session()
        evidence = session.scalar(select(Evidence))
        assert (evidence.seq, evidence.data, evidence.sig) == (
            3,
            clone.rows[2].data,
            clone.rows[2].sig,
        )
        alert = session.scalar(select(Alert))
        assert alert.kind == "equivocation" and alert.device_pk == evidence.device_pk
    refused(push(client, clone.key, clone.rows[:5]), 409, "equivocation")
    assert snapshot(app) == after  # the same evidence is not piled up again
    # The alert is raised where staff look: the front page of an administrator.
    from tests.web_helpers import PASSWORD, login
    from web.auth import create_user

    with app.app_context():
        create_user("quan-tri", PASSWORD, "Quản trị", "admin")
        web_db.session().commit()
    browser = app.test_client()
    browser.environ_base["wsgi.url_scheme"] = "https"
    login(browser, "quan-tri")
    front = browser.get("/").get_data(as_text=True)
    assert "Cảnh báo" in front and "hai bản ghi khác nhau cùng một số thứ tự" in front


def test_oversized_pushes_are_refused(app, client, enrolled):
    before = snapshot(app)
    many = [enrolled.rows[0]] * 501
    refused(push(client, enrolled.key, many), 413, "too-many-records")
    padding = "x" * (2 * 1024 * 1024)
    refused(push(client, enrolled.key, enrolled.rows[:3], padding=padding), 413, "too-large")
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("body", "error", "status"),
    [
        (b"{not json", "malformed", 400),
        (b"[1, 2]", "malformed", 400),
        (b'{"records": []}', "malformed", 400),
        (b'{"nonce": "n", "records": {"seq": 1}}', "malformed", 400),
        (b'{"nonce": "n", "records": [{"seq": "1", "data": "", "sig": ""}]}', "malformed", 400),
        (b'{"nonce": "n", "records": [{"seq": 0, "data": "", "sig": ""}]}', "malformed", 400),
        (b'{"nonce": "n", "records": [{"seq": 1.0, "data": "", "sig": ""}]}', "malformed", 400),
        (b'{"nonce": "n", "records": [{"seq": 1, "data": "@@@", "sig": ""}]}', "malformed", 400),
        (b'{"nonce": "n", "records": [{"seq": 1, "data": "e30=", "sig": 5}]}', "malformed", 400),
        (
            b'{"nonce": "n", "records": [{"seq": 1, "data": "e30=", "sig": ""}]}',
            "record-refused",
            422,
        ),
        (b"\xff\xfe", "malformed", 400),
        (b"[" * 100_000, "malformed", 400),
    ],
)
def test_malformed_pushes_are_400_and_store_nothing(app, client, enrolled, body, error, status):
    before = snapshot(app)
    refused(post(client, enrolled.key, "/api/v1/records", None, raw=body), status, error)
    assert snapshot(app) == before


def test_unknown_paths_and_methods_answer_json(client):
    refused(client.get("/api/v1/nothing"), 404, "not-found")
    refused(client.get("/api/v1/records"), 405, "method-not-allowed")
    refused(client.post("/api/v1/config"), 405, "method-not-allowed")


# --- health and configuration -------------------------------------------------------------
def test_health_is_validated_and_kept(app, client, enrolled):
    report = {
        "unsynced": 3,
        "time_quality": "anchored",
        "printer": "out of paper",
        "screen": None,
        "software": "0.1.0",
        "out_of_service": None,
        "extra": [1],
    }
    response = post(client, enrolled.key, "/api/v1/health", report)
    assert response.status_code == 200 and response.get_json()["config_version"]
    with app.app_context():
        health = web_db.session().scalar(select(Device)).health
    assert (health["unsynced"], health["printer"], health["time_quality"]) == (
        3,
        "out of paper",
        "anchored",
    )
    assert "extra" not in health
    before = snapshot(app)
    for bad in (
        {"unsynced": -1},
        {"unsynced": "3"},
        {"time_quality": "sundial"},
        {"printer": "x" * 301},
        {"software": 1},
    ):
        refused(post(client, enrolled.key, "/api/v1/health", bad), 400, "malformed")
    assert snapshot(app) == before


def test_config_is_signed_for_the_device_and_versioned(app, client, enrolled):
    def fetch() -> dict:
        response = client.get(
            "/api/v1/config", headers=signed(enrolled.key, "GET", "/api/v1/config", b"")
        )
        assert response.status_code == 200
        answer = response.get_json()
        assert server_signature_ok(server_key_raw(app), answer["config"], answer["sig"])
        return answer["config"]

    first = fetch()
    assert first["device_id"] == enrolled.key.device_id
    assert first["office"]["code"] == "demo" and first["counter"] == "Quầy 1"
    assert first["clerks"][1] == {
        "id": "lan",
        "name": "Nguyễn Thị Lan",
        "title": "Công chức một cửa",
        "survey_url": "http://localhost/s/demo/lan",
    }
    assert fetch()["version"] == first["version"]
    with app.app_context():
        session = web_db.session()
        office = session.scalar(select(Office).where(Office.code == "demo"))
        session.add(Clerk(office_id=office.id, code="moi", name="Phạm Thị Mới"))
        session.commit()
    assert fetch()["version"] != first["version"]
    refused(client.get("/api/v1/config"), 401, "unauthenticated")


def test_messages_follow_the_devices_language(client, ledger):
    response = client.post("/api/v1/enroll", data=b"{", headers={"Accept-Language": "vi"})
    vietnamese = response.get_json()["message"]
    response = client.post("/api/v1/enroll", data=b"{", headers={"Accept-Language": "en"})
    assert response.get_json()["message"] == "the body is not valid JSON"
    assert vietnamese != "the body is not valid JSON"


# --- a server killed mid-batch ------------------------------------------------------------
SERVE = """
import os, sys, time
from pathlib import Path
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session
from waitress import serve
from hom_phieu.clock import FakeClock
from web import create_app
from web.models import Device

# A kill point, for the test to SIGKILL the process exactly there: on the commit that
# stores a batch (the one that moves a device's head), the process writes the marker file
# and waits to be killed, "before-commit" (the rows written in the open transaction) or
# "after-commit" (committed, not yet answered).
POINT, MARKER = os.environ.get("KILL_POINT", ""), os.environ.get("KILL_MARKER", "")

def stop_here():
    Path(MARKER).write_text(POINT)
    time.sleep(600)

@event.listens_for(Session, "before_commit")
def before_commit(session):
    session.info["batch"] = any(
        isinstance(o, Device) and inspect(o).attrs.head_seq.history.has_changes()
        for o in session.dirty
    )
    if session.info["batch"] and POINT == "before-commit":
        stop_here()

@event.listens_for(Session, "after_commit")
def after_commit(session):
    if session.info.pop("batch", False) and POINT == "after-commit":
        stop_here()

app = create_app({"DATABASE_URL": sys.argv[1], "SECRET_KEY": "x"},
                 clock=FakeClock.at("2026-11-20T09:00:00"))
serve(app, host="127.0.0.1", port=int(sys.argv[2]), threads=2, _quiet=True)
"""


class Server:
    """The admin server as a real waitress process on 127.0.0.1; ``kill_point``: where in a
    push it stops, writing ``marker``, to be killed there (see SERVE)."""

    def __init__(
        self, database_url: str, port: int, kill_point: str = "", marker: Path | None = None
    ) -> None:
        self.port = port
        self.marker = marker
        env = {**os.environ, "KILL_POINT": kill_point, "KILL_MARKER": str(marker or "")}
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, database_url, str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stderr.read().decode()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the server did not start")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process.stderr.close()


def http_push(port: int, key: DeviceKey, rows: list[Row]) -> tuple[int, dict]:
    body = json.dumps({"nonce": "n", "records": wire(rows)}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/records",
        data=body,
        method="POST",
        headers=signed(key, "POST", "/api/v1/records", body),
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_server_killed_mid_batch_loses_nothing_and_a_resend_completes(
    app, client, enrolled, tmp_path
):
    """SIGKILL while a batch is stored: just before its commit, just after it (before the
    answer), then after a delay wherever it lands. Each time the server holds all of the
    batch or none of it, its records still verify, and the kiosk's resend completes the
    ledger; the kills before and after the commit are asserted to have landed there."""
    database, port, key, rows = (
        app.config["DATABASE_URL"],  # SQLite, and PostgreSQL in CI
        free_port(),
        enrolled.key,
        enrolled.rows,
    )
    server = Server(database, port)
    assert http_push(port, key, rows[:100])[0] == 200
    started = time.monotonic()
    assert http_push(port, key, rows[100:250])[0] == 200
    duration = time.monotonic() - started
    server.kill()
    outcomes: list[str] = []
    try:
        for point in ("before-commit", "after-commit", 0.5):
            head = len(stored_rows(app, key.device_id))
            batch = rows[head : head + 120]
            if isinstance(point, str):
                marker = tmp_path / f"{point}.reached"
                server = Server(database, port, kill_point=point, marker=marker)
            else:
                server = Server(database, port)
            answers: list[int] = []
            sender = threading.Thread(target=_send, args=(port, key, batch, answers))
            sender.start()
            if isinstance(point, str):
                wait_for(marker.exists, f"the server at its kill point {point}", timeout_s=30)
            else:
                time.sleep(duration * point)  # wherever it lands: any outcome will do
            server.kill()
            sender.join(30)
            held = stored_rows(app, key.device_id)
            assert held == rows[: len(held)]  # a contiguous prefix, the same bytes
            assert len(held) in (head, head + len(batch))  # all of the batch, or none of it
            problem, _v = verify_rows(held, key.public_raw, key.device_id)
            assert problem is None
            outcomes.append("answered" if answers else "stored" if len(held) > head else "lost")
        # "lost": killed before the commit; "stored": after it, unanswered.
        assert outcomes[:2] == ["lost", "stored"], outcomes
        server = Server(database, port)
        for start in range(0, len(rows), 500):  # the kiosk resends from its last ack
            status, answer = http_push(port, key, rows[start : start + 500])
            assert status == 200, answer
    finally:
        server.kill()
    assert stored_rows(app, key.device_id) == rows


def _send(port: int, key: DeviceKey, rows: list[Row], answers: list[int]) -> None:
    with contextlib.suppress(OSError):  # the server died under the request: the point
        answers.append(http_push(port, key, rows)[0])
