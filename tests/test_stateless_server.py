"""Nothing of the server lives only in one process's memory: the enrollment throttle is
counted in the database (two apps on one database share it; its window runs on the app's
clock), and each device's verifier state is stored beside its head (round-tripped on real
ledgers; a fresh process goes on from it without replaying; a missing, unreadable or stale
state is never trusted, but replayed and stored again)."""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.events import EventType
from hom_phieu.ledger.records import Level, decode
from hom_phieu.ledger.state import LedgerState, StateFormatError
from hom_phieu.ledger.verify import Row, Verifier, verify_rows
from tests.api_helpers import CODE, enroll, push, register, seed
from web import create_app, device_state
from web import db as web_db
from web.models import Device, EnrollFailure
from web.services import close_app
from web.throttle import ENROLL_FAILURES

SLIP_HASH = "3f9a0c5be81d47a2c6e05b9d13f7a8e4" * 2


# --- a real ledger across a month, with a clerk on duty and a results slip -----------------
@pytest.fixture(scope="module")
def month_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[DeviceKey, list[Row]]:
    """Votes and refusals in November, the box closed and December's opened, a results
    slip for November printed, more votes in December, a second boot."""
    folder = tmp_path_factory.mktemp("month-ledger")
    key = DeviceKey.load_or_create(folder / "device-key.pem")
    clock = FakeClock.at("2026-11-27T08:00:00", synced=True)
    path = folder / "ballot-box.sqlite3"
    buttons = (("rat_hai_long", Level.VERY_SATISFIED), ("hai_long", Level.SATISFIED),
               ("khong_hai_long", Level.NOT_SATISFIED))  # fmt: skip
    with BallotBox.open(path, key, clock, kernel_boot_id="one") as box:
        box.event(EventType.CLERK_ON_DUTY, clerk="lan")
        for n in range(40):
            clock.advance(20 * 60_000)
            name, level = buttons[n % 3]
            box.cast_vote(clerk=("lan", "binh")[n % 2], button=name, level=level)
            if n % 7 == 3:
                box.refuse(button=name, reason="min_gap", clerk="lan")
        clock.advance(5 * 24 * 3600_000)  # into December: CLOSE and OPEN
        box.tick()
        box.event(EventType.RESULTS_SLIP, box="2026-11", minutes_hash=SLIP_HASH)
        for n in range(10):
            clock.advance(60_000)
            box.cast_vote(clerk="binh", button=buttons[n % 3][0], level=buttons[n % 3][1])
    with BallotBox.open(path, key, clock, kernel_boot_id="two") as box:  # a second BOOT
        clock.advance(60_000)
        box.cast_vote(clerk="lan", button="hai_long", level=Level.SATISFIED)
        rows = box.store.rows()
    kinds = [decode(row.data).kind.value for row in rows]
    assert "CLOSE" in kinds and kinds.count("BOOT") == 2
    return key, rows


def test_the_state_round_trips_after_every_record_of_a_real_ledger(month_ledger) -> None:
    key, rows = month_ledger
    verifier = Verifier(key.public_raw, key.device_id)
    for row in rows:
        record = decode(row.data)
        assert verifier.check_rule(record) is None
        verifier.accept(record)
        text = verifier.state.to_json()
        again = LedgerState.from_json(text)
        assert again == verifier.state, record.seq
        assert again.to_json() == text
    final = LedgerState.from_json(verifier.state.to_json())
    assert final.results_slips == {"2026-11"} and final.closed_boxes == ["2026-11"]
    assert final.clerk_on_duty == "lan" and final.last_boot is not None
    assert final.last_boot.boot == 2 and final.open_box is not None
    assert final.open_box.box == "2026-12" and final.open_box.votes == 11
    _problem, whole = verify_rows(rows, key.public_raw, key.device_id)
    assert final == whole.state


@pytest.mark.parametrize("cut", ["before-close", "on-close", "after-open", "after-slip"])
def test_a_restored_state_goes_on_verifying_the_rest(month_ledger, cut: str) -> None:
    """A state stored at any point (around the month's CLOSE/OPEN, after the slip) checks
    the records after it exactly as the state it was made from."""
    key, rows = month_ledger
    records = [decode(row.data) for row in rows]
    kinds = [record.kind.value for record in records]
    close = kinds.index("CLOSE")
    slip = next(i for i, r in enumerate(records) if r.body.get("type") == "results_slip")
    at = {"before-close": close - 1, "on-close": close, "after-open": close + 1,
          "after-slip": slip}[cut]  # fmt: skip
    first = Verifier(key.public_raw, key.device_id)
    for record in records[: at + 1]:
        first.accept(record)
    resumed = Verifier(key.public_raw, key.device_id)
    resumed.state = LedgerState.from_json(first.state.to_json())
    for record in records[at + 1 :]:
        assert resumed.check_rule(record) is None, record.seq
        resumed.accept(record)
    _problem, whole = verify_rows(rows, key.public_raw, key.device_id)
    assert resumed.state == whole.state


def _edited(text: str, **changes: object) -> str:
    document = json.loads(text)
    document.update(changes)
    return json.dumps(document)


def test_a_state_that_does_not_hold_together_is_refused(month_ledger) -> None:
    key, rows = month_ledger
    verifier = Verifier(key.public_raw, key.device_id)
    for row in rows[:30]:
        verifier.accept(decode(row.data))
    good = verifier.state.to_json()
    document = json.loads(good)
    broken_box = {**document["open_box"], "votes": True}
    for text in (
        "",
        "{",
        "[]",
        _edited(good, v=2),
        _edited(good, head_seq=29),  # not the last record's
        _edited(good, head_hash="ab" * 32),
        _edited(good, head_seq="30"),
        _edited(good, boot=7),  # not the last BOOT's
        _edited(good, last_record="not base64!"),
        _edited(good, last_record="e30="),  # "{}": no record
        _edited(good, open_box=broken_box),
        _edited(good, closed_boxes="2026-10"),
        _edited(good, results_slips=[1]),
    ):
        with pytest.raises(StateFormatError):
            LedgerState.from_json(text)
    assert LedgerState.from_json(good) == verifier.state


# --- the enrollment throttle, shared through the database -----------------------------------
def test_two_apps_on_one_database_share_the_enrollment_throttle(
    migrated_database_url: str, server_clock: FakeClock, tmp_path: Path
) -> None:
    config = {"DATABASE_URL": migrated_database_url, "TESTING": True, "SECRET_KEY": "x"}
    apps = [create_app(config, clock=server_clock) for _ in range(2)]
    try:
        seed(apps[0])
        register(apps[0])
        key = DeviceKey.load_or_create(tmp_path / "device-key.pem")
        clients = [app.test_client() for app in apps]
        for n in range(ENROLL_FAILURES):  # half on each: together, the limit
            answer = enroll(clients[n % 2], key, f"WRNG-CODE-{n:04d}")
            assert answer.status_code == 400, answer.get_json()
        for client in clients:
            answer = enroll(client, key, CODE)
            assert answer.status_code == 429 and answer.get_json()["error"] == "throttled"
        with apps[1].app_context():
            stored = list(web_db.session().scalars(select(EnrollFailure.address)))
        assert len(stored) == ENROLL_FAILURES and "127.0.0.1" not in stored  # a keyed hash
        assert len(set(stored)) == 1
        server_clock.advance(14 * 60_000)  # still within the window
        assert enroll(clients[1], key, CODE).status_code == 429
        server_clock.advance(60_000)  # 15 minutes: the window still holds them
        assert enroll(clients[0], key, CODE).status_code == 429
        server_clock.advance(1_000)  # past the window
        assert enroll(clients[0], key, "WRNG-CODE-9999").status_code == 400
        with apps[0].app_context():  # the old rows were deleted with the new failure
            session = web_db.session()
            assert session.scalar(select(func.count()).select_from(EnrollFailure)) == 1
        assert enroll(clients[1], key, CODE).status_code == 200
    finally:
        for app in apps:
            close_app(app)


# --- the verifier state beside the head -----------------------------------------------------
@pytest.fixture
def two_apps(migrated_database_url: str, server_clock: FakeClock):
    config = {"DATABASE_URL": migrated_database_url, "TESTING": True, "SECRET_KEY": "x"}
    apps = [create_app(config, clock=server_clock) for _ in range(2)]
    seed(apps[0])
    register(apps[0])
    yield apps
    for app in apps:
        close_app(app)


def _device(app, device_id: str) -> Device:
    with app.app_context():
        session = web_db.session()
        device = session.scalar(select(Device).where(Device.device_id == device_id))
        session.expunge(device)
        return device


def _set_state(app, device_id: str, text: str | None) -> None:
    with app.app_context():
        session = web_db.session()
        device = session.scalar(select(Device).where(Device.device_id == device_id))
        device.verifier_state = text
        session.commit()


def _counted_replays(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The device heads replayed from here on (replaying still works)."""
    replays: list[int] = []
    replayed = device_state._replayed

    def counting(session, device):
        replays.append(device.head_seq)
        return replayed(session, device)

    monkeypatch.setattr(device_state, "_replayed", counting)
    return replays


def test_every_push_stores_the_state_and_another_process_goes_on_from_it(
    two_apps, month_ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    key, rows = month_ledger
    first, second = (app.test_client() for app in two_apps)
    assert enroll(first, key).status_code == 200
    replays = _counted_replays(monkeypatch)
    close = [decode(row.data).kind.value for row in rows].index("CLOSE")
    cuts = [0, 20, close + 1, close + 3, len(rows)]  # one push ends on the CLOSE
    for number, (start, end) in enumerate(itertools.pairwise(cuts)):
        client = (first, second)[number % 2]  # each push to the other process
        answer = push(client, key, rows[start:end])
        assert answer.status_code == 200, answer.get_json()
        device = _device(two_apps[0], key.device_id)
        assert device.head_seq == end
        _problem, verifier = verify_rows(rows[:end], key.public_raw, key.device_id)
        assert LedgerState.from_json(device.verifier_state) == verifier.state
    assert replays == []  # no process replayed: each read the state the other stored


@pytest.mark.parametrize("stored", ["missing", "unreadable", "stale"])
def test_a_missing_or_untrustworthy_state_is_replayed_and_stored_again(
    two_apps, month_ledger, monkeypatch, caplog, stored: str
) -> None:
    key, rows = month_ledger
    first, second = (app.test_client() for app in two_apps)
    assert enroll(first, key).status_code == 200
    assert push(first, key, rows[:25]).status_code == 200
    _problem, earlier = verify_rows(rows[:24], key.public_raw, key.device_id)
    text = {
        "missing": None,  # a head written before migration 0005
        "unreadable": "{not json",
        "stale": earlier.state.to_json(),  # a valid state, of another head
    }[stored]
    _set_state(two_apps[0], key.device_id, text)
    replays = _counted_replays(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="web.device_state"):
        assert push(second, key, rows[25:40]).status_code == 200  # a process with no cache
    assert replays == [25]
    if stored == "missing":
        assert not caplog.records
    else:
        assert "replaying" in caplog.text
    _problem, verifier = verify_rows(rows[:40], key.public_raw, key.device_id)
    device = _device(two_apps[0], key.device_id)
    assert LedgerState.from_json(device.verifier_state) == verifier.state


def test_a_refused_push_stores_nothing_and_the_next_stores_the_state(
    two_apps, month_ledger, monkeypatch
) -> None:
    key, rows = month_ledger
    client = two_apps[1].test_client()
    assert enroll(client, key).status_code == 200
    assert push(client, key, rows[:10]).status_code == 200
    _set_state(two_apps[0], key.device_id, None)  # as before the migration
    fresh = two_apps[0].test_client()
    replays = _counted_replays(monkeypatch)
    forged = Row(rows[10].seq, rows[10].data, bytes(64))
    assert push(fresh, key, [forged]).status_code == 422  # replayed, then refused
    assert replays == [10]
    assert _device(two_apps[0], key.device_id).verifier_state is None  # rolled back
    assert push(fresh, key, rows[10:12]).status_code == 200
    _problem, verifier = verify_rows(rows[:12], key.public_raw, key.device_id)
    stored = _device(two_apps[0], key.device_id).verifier_state
    assert LedgerState.from_json(stored) == verifier.state
