"""The protocol's typed models (``hom_phieu/protocol/models.py``).

The wire must not change: kiosks in the field read it, and the server's signatures and
the configuration's version are over its canonical bytes. So the models' JSON is compared
with the dictionaries the code built before the models (kept below, as they were), on
real answers of a real server with real records, and every real answer must read back
into a model whose ``to_json()`` is the answer itself. Then the strictness: every wrong
field is named, the kiosk does not trust what does not read, and no junk reaches a 500.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Level, TimeQuality, canonical_bytes
from hom_phieu.ledger.verify import Row
from hom_phieu.protocol import models
from hom_phieu.protocol.fields import ProtocolError, TooManyRecords
from hom_phieu.protocol.models import (
    Ack,
    ConfigAnswer,
    DeviceConfig,
    EnrollAnswer,
    EnrollRequest,
    ErrorAnswer,
    ErrorCode,
    HealthAnswer,
    HealthReport,
    OfficeResults,
    PushAnswer,
    PushRecord,
    PushRequest,
)
from hom_phieu.protocol.signing import (
    UntrustedAnswer,
    sign_payload,
    verified_config,
    verified_enrollment,
    verified_push_answer,
)
from kiosk.provision import ServerLink, load_link, save_link, server_file
from tests.api_helpers import CODE, b64, enroll, make_app, post, push, register, seed, signed
from tools import protocol_docs
from web import clock
from web import db as web_db
from web.api_v1_config import device_config
from web.ingest import Refusal
from web.models import Clerk, Device, Office, Opening, User

ROOT = Path(__file__).resolve().parent.parent
MINUTES_HASH = "3f9a0c5be81d47a2c6e05b9d13f7a8e4" * 2


# --- the serialisations from before the models, as the code built them ------------------------
def legacy_device_config(device: Device, survey_url) -> dict[str, Any]:
    """``web/api_v1.device_config`` before the models (``survey_url(office, clerk)``)."""
    office = device.office
    clerks = web_db.session().scalars(
        select(Clerk)
        .where(Clerk.office_id == office.id, Clerk.active.is_(True))
        .order_by(Clerk.code)
    )
    body: dict[str, Any] = {
        "device_id": device.device_id,
        "office": {"code": office.code, "name": office.name},
        "counter": device.counter.name if device.counter else None,
        "buttons": [{"name": b.name, "label": b.label, "level": b.level} for b in office.scale],
        "clerks": [
            {"id": c.code, "name": c.name, "title": c.title or "", "survey_url": survey_url(c)}
            for c in clerks
        ],
        "results": legacy_office_results(office.id),
    }
    body["version"] = hashlib.sha256(canonical_bytes(body)).hexdigest()
    return body


def legacy_office_results(office_id: int) -> dict[str, Any] | None:
    opening = web_db.session().scalar(
        select(Opening)
        .where(Opening.office_id == office_id, Opening.status == Opening.OPENED)
        .order_by(Opening.opened_at.desc(), Opening.id.desc())
        .limit(1)
    )
    if opening is None or opening.minutes is None:
        return None
    minutes = json.loads(opening.minutes)
    count = minutes["count"]
    return {
        "box": opening.box,
        "opened_at": minutes["opened_at"],
        "votes": count["votes"],
        "by_level": {level.value: count["by_level"].get(level.value, 0) for level in Level},
        "minutes_hash": opening.minutes_hash,
    }


def legacy_push_payload(nonce: str, rows: list[Row]) -> dict[str, Any]:
    """``kiosk/sync_client.py``'s push body before the models."""
    encode = lambda data: base64.b64encode(data).decode()  # noqa: E731
    return {
        "nonce": nonce,
        "records": [{"seq": r.seq, "data": encode(r.data), "sig": encode(r.sig)} for r in rows],
    }


def wire_bytes(document: dict[str, Any]) -> bytes:
    """What ``kiosk.sync_http.call`` (and before it ``sync_client.call``) sends."""
    return json.dumps(document, ensure_ascii=False).encode()


# --- a real server, a real ledger --------------------------------------------------------------
@pytest.fixture
def app(sqlite_database: Path, server_clock: FakeClock):
    app = make_app(sqlite_database, server_clock, migrate=False)
    seed(app)
    register(app)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def rows(key: DeviceKey, tmp_path: Path) -> list[Row]:
    clock = FakeClock.at("2026-11-10T08:00:00")
    with BallotBox.open(tmp_path / "ledger.sqlite3", key, clock) as box:
        for n in range(12):
            clock.advance(60_000)
            level = list(Level)[n % 3]
            box.cast_vote(clerk="lan", button=level.value, level=level)
        return box.store.rows()


def open_box(app) -> None:
    """An opened October box of the device's office (its frozen minutes' main count)."""
    with app.app_context():
        session = web_db.session()
        office = session.scalar(select(Office).where(Office.code == "demo"))
        secretary = User(username="thu-ky", password_hash="-", display_name="Thư ký",
                         role="committee")  # fmt: skip
        session.add(secretary)
        session.flush()
        by_level = {"very_satisfied": 7, "satisfied": 2}  # a level missing: it counts 0
        minutes = {"opened_at": "2026-11-05T09:30:12+07:00",
                   "count": {"votes": 9, "by_level": by_level}}  # fmt: skip
        session.add(
            Opening(office_id=office.id, box="2026-10", status=Opening.OPENED,
                    started_by=secretary.id, opened_at=clock.now(),
                    minutes=json.dumps(minutes).encode(), minutes_hash=MINUTES_HASH)
        )  # fmt: skip
        session.commit()


def server_raw(app) -> bytes:
    with app.app_context():
        from web.server_key import server_key

        return server_key().public_raw


def roundtrips(model: Any, answer: dict[str, Any]) -> Any:
    """``answer`` reads into ``model`` and writes back key for key, canonical bytes alike."""
    value = model.from_json(answer)
    assert value.to_json() == answer
    assert canonical_bytes(value.to_json()) == canonical_bytes(answer)
    return value


# --- the wire is what it was ---------------------------------------------------------------
@pytest.mark.parametrize("opened", [False, True])
def test_the_configuration_is_byte_for_byte_the_legacy_one(app, client, key, opened):
    assert enroll(client, key).status_code == 200
    if opened:
        open_box(app)
    with app.test_request_context(base_url="https://hom-phieu.example.vn/"):
        from flask import url_for

        device = web_db.session().scalar(select(Device).where(Device.device_id == key.device_id))

        def survey_url(clerk: Clerk) -> str:
            return url_for("survey.answer", office_code="demo", clerk_code=clerk.code,
                           _external=True)  # fmt: skip

        legacy = legacy_device_config(device, survey_url)
        current = device_config(device).to_json()
    assert current == legacy
    assert list(current) == list(legacy)  # even the order of the keys
    assert canonical_bytes(current) == canonical_bytes(legacy)
    assert (legacy["results"] is not None) is opened
    answer = client.get("/api/v1/config", headers=signed(key, "GET", "/api/v1/config", b""))
    config = roundtrips(ConfigAnswer, answer.get_json()).config
    assert (
        config.version
        == hashlib.sha256(
            canonical_bytes({k: v for k, v in config.to_json().items() if k != "version"})
        ).hexdigest()
    )
    assert verified_config(server_raw(app), key.device_id, answer.get_json()) == config


def test_every_real_answer_reads_back_into_its_model_unchanged(app, client, key, rows):
    open_box(app)
    answer = enroll(client, key).get_json()
    enrolled = roundtrips(EnrollAnswer, answer)
    assert verified_enrollment(answer, key.device_id) == enrolled
    assert enrolled.server_public_key == server_raw(app)
    assert enrolled.config.results == OfficeResults(
        "2026-10", "2026-11-05T09:30:12+07:00", 9,
        {Level.VERY_SATISFIED: 7, Level.SATISFIED: 2, Level.NOT_SATISFIED: 0}, MINUTES_HASH,
    )  # fmt: skip

    pushed = push(client, key, rows[:8], nonce="n-8").get_json()
    read = roundtrips(PushAnswer, pushed)
    assert verified_push_answer(server_raw(app), pushed) == read
    assert (read.stored, read.ack.head_seq, read.ack.nonce) == (8, 8, "n-8")
    assert roundtrips(PushAnswer, push(client, key, [], nonce="empty").get_json()).stored == 0

    health = post(client, key, "/api/v1/health", {"unsynced": 4, "time_quality": "synced"})
    assert roundtrips(HealthAnswer, health.get_json()).config_version == read.config_version

    gap = push(client, key, rows[10:], nonce="gap").get_json()
    assert roundtrips(ErrorAnswer, gap).resume_from == 9
    forged = dataclasses.replace(rows[8], sig=bytes(64))
    refused = push(client, key, [forged], nonce="bad").get_json()
    assert roundtrips(ErrorAnswer, refused).error == ErrorCode.RECORD_REFUSED
    assert (refused["seq"], refused["fault"]) == (9, "bad-signature")
    malformed = post(client, key, "/api/v1/records", {"records": []}).get_json()
    assert roundtrips(ErrorAnswer, malformed).error == ErrorCode.MALFORMED


def test_the_kiosks_requests_are_the_bytes_they_were(key, rows):
    request = PushRequest("n-1", tuple(PushRecord(r.seq, r.data, r.sig) for r in rows))
    assert wire_bytes(request.to_json()) == wire_bytes(legacy_push_payload("n-1", rows))
    assert PushRequest.from_json(request.to_json()) == request
    legacy_enroll = {"code": CODE, "public_key": b64(key.public_raw), "software": "0.1.0"}
    asked = EnrollRequest(CODE, key.public_raw, "0.1.0")
    assert wire_bytes(asked.to_json()) == wire_bytes(legacy_enroll)
    report = HealthReport(unsynced=3, time_quality=TimeQuality.ANCHORED, printer="out of paper")
    assert HealthReport.from_json(report.to_json()) == report


def test_the_health_kept_is_the_legacy_one(app, client, key):
    """The daemon's report (as it was posted, with ``unsynced`` added) and the model's keep
    the same row."""
    assert enroll(client, key).status_code == 200
    daemon = {"time_quality": "synced", "printer": None, "screen": "no frame buffer",
              "software": "0.1.0", "out_of_service": None, "unsynced": 2}  # fmt: skip

    def kept() -> dict[str, Any]:
        with app.app_context():
            return web_db.session().scalar(select(Device.health))

    assert post(client, key, "/api/v1/health", daemon).status_code == 200
    legacy = kept()
    report = HealthReport.from_json(daemon)
    assert post(client, key, "/api/v1/health", report.to_json()).status_code == 200
    assert kept() == legacy
    notes = ["reported_at", "changed_at", "unsynced_since"]  # the server's (web.fleet_health)
    assert list(legacy) == [*HealthReport().to_json(), *notes]


def test_the_kept_enrollment_file_reads_and_writes_as_before(app, client, key):
    """``server.json`` written by the code before the models (``asdict`` with plain
    dictionaries) loads, and saving it again gives the same bytes."""
    answer = enroll(client, key).get_json()
    legacy = {
        "server_url": "https://hom-phieu.example.vn",
        "server_public_key": answer["server_public_key"],
        "device_id": answer["device_id"],
        "office": answer["office"],
        "counter": answer["counter"],
        "config": answer["config"],
        "enrolled_at": "2026-11-20T02:00:00+00:00",
    }
    path = server_file()
    path.parent.mkdir(parents=True)
    text = json.dumps(legacy, ensure_ascii=False, indent=2, sort_keys=True)
    path.write_text(text, encoding="utf-8")
    link = load_link()
    assert isinstance(link, ServerLink) and link.to_json() == legacy
    save_link(link)
    assert path.read_text(encoding="utf-8") == text
    old = {**legacy, "config": {k: v for k, v in legacy["config"].items() if k != "results"}}
    path.write_text(json.dumps(old), encoding="utf-8")
    assert load_link().config.results is None  # kept before servers sent results


def test_error_answers_are_the_refusals_answers():
    refusals = [
        Refusal(409, "gap", "send from 5", resume_from=5),
        Refusal(409, "equivocation", "two records 7", seq=7),
        Refusal(422, "record-refused", "record 3: bad", seq=3, fault="bad-signature"),
        Refusal(400, "malformed", "the body is not valid JSON"),
    ]
    for refusal in refusals:
        answer = ErrorAnswer(refusal.error, refusal.message, **refusal.extra)
        assert answer.to_json() == refusal.answer()
        assert ErrorAnswer.from_json(refusal.answer()) == answer


# --- strictness ------------------------------------------------------------------------------
ACK = {"device_id": "hp-X", "head_seq": 3, "head_hash": "ab" * 32, "server_time_ms": 17,
       "nonce": "n"}  # fmt: skip
CONFIG = {
    "device_id": "hp-X",
    "office": {"code": "demo", "name": "UBND xã Demo"},
    "counter": None,
    "buttons": [{"name": "hai_long", "label": "Hài lòng", "level": "satisfied"}],
    "clerks": [{"id": "lan", "name": "Lan", "title": "", "survey_url": None}],
    "results": None,
    "version": "v1",
}


@pytest.mark.parametrize(
    ("model", "document", "named"),
    [
        (PushRequest, {"nonce": "n", "records": {"seq": 1}}, "records must be a list"),
        (PushRequest, {"nonce": "", "records": []}, "nonce"),
        (
            PushRequest,
            {"nonce": "n", "records": [{"seq": True, "data": "", "sig": ""}]},
            "records[0].seq must be a whole number from 1",
        ),
        (
            PushRequest,
            {"nonce": "n", "records": [{"seq": 2, "data": "@@", "sig": ""}]},
            "records[0].data must be base64 text",
        ),
        (EnrollRequest, {"code": "C", "public_key": b64(b"x" * 31)}, "public_key must be 32"),
        (EnrollRequest, {"code": "C" * 41, "public_key": b64(b"x" * 32)}, "code"),
        (HealthReport, {"time_quality": "roughly"}, "time_quality must be one of: synced"),
        (HealthReport, {"unsynced": -1}, "unsynced must be a whole number from 0"),
        (HealthReport, {"printer": "x" * 301}, "printer must be a text of at most 300"),
        (HealthReport, [], "the body must be a JSON object"),
        (Ack, {**ACK, "head_seq": 1.0}, "ack.head_seq"),
        (Ack, {**ACK, "head_hash": "AB" * 32}, "ack.head_hash"),
        (
            DeviceConfig,
            {**CONFIG, "buttons": [{"name": "x", "label": "", "level": "meh"}]},
            "config.buttons[0].level must be one of: very_satisfied, satisfied, not_satisfied",
        ),
        (
            DeviceConfig,
            {**CONFIG, "clerks": [{"id": "", "name": "", "title": ""}]},
            "config.clerks[0].id",
        ),
        (DeviceConfig, {**CONFIG, "version": 5}, "config.version"),
        (DeviceConfig, {**CONFIG, "office": "demo"}, "config.office must be an object"),
    ],
)
def test_a_wrong_field_is_named(model, document, named):
    with pytest.raises(ProtocolError, match=named.replace("[", r"\[").replace("]", r"\]")):
        model.from_json(document)


def test_too_many_records_is_its_own_error():
    document = {"nonce": "n", "records": [{"seq": 1}] * 3}
    with pytest.raises(TooManyRecords):
        PushRequest.from_json(document, max_records=2)


def test_results_that_do_not_read_are_ignored_as_before():
    october = {"box": "2026-10", "opened_at": "2026-11-05T09:30:12+07:00", "votes": 3,
               "by_level": {"very_satisfied": 1, "satisfied": 1, "not_satisfied": 1},
               "minutes_hash": MINUTES_HASH}  # fmt: skip
    assert DeviceConfig.from_json({**CONFIG, "results": october}).results is not None
    for broken in ({**october, "box": "2026-13"}, {**october, "votes": True}, "2026-10",
                   {**october, "opened_at": "2026-11-05T09:30:12"}):  # fmt: skip
        assert DeviceConfig.from_json({**CONFIG, "results": broken}).results is None
        with pytest.raises(ProtocolError):
            OfficeResults.from_json(broken)


def test_the_kiosk_does_not_trust_what_does_not_read(tmp_path):
    server = DeviceKey.load_or_create(tmp_path / "server.pem")
    ack = {**ACK, "head_seq": "3"}
    answer = {"stored": 1, "duplicates": 0, "head_seq": 3, "ack": ack,
              "ack_sig": sign_payload(server, ack), "config_version": "v"}  # fmt: skip
    with pytest.raises(UntrustedAnswer, match=r"ack\.head_seq"):
        verified_push_answer(server.public_raw, answer)
    with pytest.raises(UntrustedAnswer, match="not signed"):
        verified_push_answer(server.public_raw, {**answer, "ack_sig": sign_payload(server, ACK)})
    config = {**CONFIG, "clerks": "lan"}
    envelope = {"config": config, "sig": sign_payload(server, config)}
    with pytest.raises(UntrustedAnswer, match=r"config\.clerks must be a list"):
        verified_config(server.public_raw, "hp-X", envelope)
    extra = {**CONFIG, "added_later": [1, 2]}  # a later server's field: signed, ignored
    envelope = {"config": extra, "sig": sign_payload(server, extra)}
    assert verified_config(server.public_raw, "hp-X", envelope) == DeviceConfig.from_json(CONFIG)


JUNK: list[Any] = [None, True, 0, -1, 1.5, "", "x" * 5000, "@@", [], [1], {}, {"a": None}]


def junk_documents(valid: dict[str, Any], rng: random.Random) -> list[Any]:
    """``valid`` with each field (and each field of its objects) replaced by junk."""
    found: list[Any] = [None, [], "text", 7]
    for name, value in valid.items():
        for junk in JUNK:
            found.append({**valid, name: junk})
        if isinstance(value, dict):
            for inner in junk_documents(value, rng)[4:]:
                found.append({**valid, name: inner})
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for inner in rng.sample(junk_documents(value[0], rng)[4:], 8):
                found.append({**valid, name: [inner]})
    return found


def test_junk_never_gets_past_from_json_as_anything_but_a_protocol_error():
    rng = random.Random(11)
    valid = {
        EnrollRequest: {"code": "C", "public_key": b64(b"k" * 32), "software": "1"},
        PushRequest: {"nonce": "n", "records": [{"seq": 1, "data": "e30=", "sig": "e30="}]},
        HealthReport: {"unsynced": 1, "time_quality": "synced", "printer": None},
        PushAnswer: {
            "stored": 1,
            "duplicates": 0,
            "head_seq": 3,
            "ack": ACK,
            "ack_sig": "s",
            "config_version": "v",
        },
        ConfigAnswer: {"config": CONFIG, "sig": "s"},
        HealthAnswer: {"ok": True, "config_version": "v"},
        ErrorAnswer: {"error": "gap", "message": "m", "resume_from": 2},
    }
    for model, document in valid.items():
        model.from_json(document)  # the valid one reads
        for junk in junk_documents(document, rng):
            with contextlib.suppress(ProtocolError):
                model.from_json(junk)


def test_no_junk_reaches_a_500(app, client, key, rows):
    rng = random.Random(5)
    valid = {
        "/api/v1/health": {
            "unsynced": 1,
            "time_quality": "synced",
            "printer": None,
            "screen": None,
            "software": "1",
            "out_of_service": None,
        },
        "/api/v1/records": legacy_push_payload("n", rows[:2]),
        "/api/v1/enroll": {
            "code": "WRNG-WRNG-WRNG",
            "public_key": b64(key.public_raw),
            "software": "1",
        },
    }
    assert enroll(client, key).status_code == 200
    statuses = set()
    for path, document in valid.items():
        for junk in junk_documents(document, rng):
            response = post(client, key, path, junk)
            assert response.status_code < 500, (path, junk, response.get_data(as_text=True))
            statuses.add(response.status_code)
    assert 400 in statuses and 200 in statuses


# --- the document -------------------------------------------------------------------------
def test_the_models_tables_in_the_document_are_current():
    assert protocol_docs.main(["--check"]) == 0, "run: python tools/protocol_docs.py"


def test_every_error_code_is_in_the_documents_table():
    text = (ROOT / "docs" / "sync-protocol.md").read_text(encoding="utf-8")
    table = text[text.index("| status | `error` | when |") : text.index("`fault` of a")]
    for code in ErrorCode:
        assert f"`{code.value}`" in table, code
    for model in models.MODELS:
        assert dataclasses.is_dataclass(model) and model.__dataclass_params__.frozen
        assert hasattr(model, "to_json") and hasattr(model, "from_json")
    assert asdict(HealthReport()) == dict.fromkeys(HealthReport().to_json())
