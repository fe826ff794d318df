"""Forks recovered without losing a vote (web.forks): a copied card and a card restored from
a backup are refused by the server, confirmed by the technician on the device's fork page,
the forked side re-enrolled with a new key and its old ledger uploaded (held apart), its
adoption approved by an administrator who did not ask (web.forks_approval); every receipt
of both sides is then counted at the next opening (in its box, or its supplement). And a
record altered on the server is repaired from the device's copy."""

from __future__ import annotations

import io
import json
import re
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from tests.api_helpers import enroll, push
from tests.ceremony_helpers import BUTTONS, MEMBERS, Kiosk, enrolled_kiosk
from tests.web_helpers import csrf_token, login
from web import db as web_db
from web.alerts import alert_words, state_of
from web.alerts_sweep import sweep
from web.box_count import BoxCount
from web.models import Alert, AuditEntry, Confirmation, Device, LedgerRecord, Office, Opening, User
from web.models_forks import Fork, RecordRepair
from web.opening import count_box, open_box


def copy_of(kiosk: Kiosk, folder: Path, start: str) -> Kiosk:
    """A second kiosk on a copy of ``kiosk``'s card: the same key, the ledger as it is now."""
    folder.mkdir(parents=True)
    shutil.copy2(kiosk.folder / "device-key.pem", folder / "device-key.pem")
    source = sqlite3.connect(kiosk.folder / "box.sqlite3")
    target = sqlite3.connect(folder / "box.sqlite3")
    source.backup(target)
    source.close()
    target.close()
    copy = Kiosk.__new__(Kiosk)
    copy.folder, copy.clock = folder, FakeClock.at(start)
    copy.key = DeviceKey.load_or_create(folder / "device-key.pem")
    copy.box = BallotBox.open(folder / "box.sqlite3", copy.key, copy.clock, kernel_boot_id="copy")
    copy.pressed, copy.receipts, copy.sent = type(kiosk.pressed)(), [], kiosk.sent
    return copy


def kiosk_at(app, client, folder: Path, start: str) -> Kiosk:
    kiosk = enrolled_kiosk(app, client, folder, start)
    kiosk.folder = folder
    return kiosk


def as_user(app, username: str):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    assert login(client, username).status_code == 302
    return client


def open_box_at(app, box: str, at: str) -> BoxCount:
    """The committee opens ``box`` (its checklist's warnings given a reason)."""
    now = datetime.fromisoformat(at).replace(tzinfo=UTC)
    with app.app_context():
        session = web_db.session()
        office_id = app.config["OFFICE_ID"]
        users = [(session.scalar(select(User).where(User.username == u)), role)
                 for u, _name, role in MEMBERS[:3]]  # fmt: skip
        opening = Opening(office_id=office_id, box=box, started_at=now, started_by=users[0][0].id)
        session.add(opening)
        session.flush()
        for user, role in users:
            session.add(Confirmation(opening_id=opening.id, user_id=user.id,
                                     committee_role=role, at=now))  # fmt: skip
        session.flush()
        count, checks = open_box(session, opening, users[0][0].id, warnings_reason="test", now=now)
        session.commit()
        adopted = [c for c in checks if c.code == "adopted_branch"]
        assert len(adopted) == sum(1 for d in count.devices if d.device.signer and (
            d.votes or d.supplement_votes))  # fmt: skip
        return count


def refuse_fork(client, kiosk: Kiosk) -> int:
    """The forked side pushes what it holds after its last ack: the server refuses it."""
    response = push(client, kiosk.key, kiosk.rows()[kiosk.sent :], nonce="fork")
    assert response.status_code == 409, response.get_data(as_text=True)
    assert response.json["error"] == "equivocation"
    return response.json["seq"]


def recover(
    app,
    device_pk: int,
    seq: int,
    forked: Kiosk,
    client,
    *,
    approver: str | None = "admin",
    technician: str = "kt-dong",
) -> DeviceKey:
    """The technician confirms the fork on the device's page, the forked kiosk re-enrolls
    with a new key, and its old ledger file is uploaded (held apart); then ``approver`` (an
    administrator; None: nobody yet) approves its adoption."""
    new_key, fork_id = confirm_side(app, device_pk, seq, forked, client, technician)
    upload_branch(app, device_pk, fork_id, forked, technician)
    if approver is not None:
        assert decide(app, approver, device_pk, fork_id).status_code == 302
        assert "adopted:" in as_user(app, approver).get(f"/devices/{device_pk}/fork?lang=en").text
    return new_key


def confirm_side(
    app, device_pk: int, seq: int, forked: Kiosk, client, technician: str = "kt-dong"
) -> tuple[DeviceKey, int]:
    """The fork confirmed on the device's page and the forked kiosk re-enrolled: its new
    key and the fork's id."""
    tech = as_user(app, technician)
    page = tech.get(f"/devices/{device_pk}/fork")
    assert page.status_code == 200 and f'id="fork-{seq}"' in page.text
    evidence = re.search(r'name="evidence" value="(\d+)"', page.text).group(1)
    form = {"evidence": evidence, "csrf_token": csrf_token(page.text)}
    answer = tech.post(f"/devices/{device_pk}/fork/confirm", data=form)
    assert answer.status_code == 200
    code = re.search(r'id="enrollment-code">([^<]+)<', answer.text).group(1)
    new_key = DeviceKey.load_or_create(forked.folder / "new-identity" / "device-key.pem")
    assert enroll(client, new_key, code).status_code == 200
    return new_key, fork_id_of(app, device_pk)


def upload_branch(app, device_pk: int, fork_id: int, forked: Kiosk, technician: str) -> None:
    """The forked kiosk's old ledger file uploaded on the fork page: held apart."""
    tech = as_user(app, technician)
    forked.box.store.checkpoint()
    ledger = (forked.folder / "box.sqlite3").read_bytes()
    page = tech.get(f"/devices/{device_pk}/fork")
    adopted = tech.post(
        f"/devices/{device_pk}/fork/{fork_id}/adopt",
        data={"csrf_token": csrf_token(page.text), "ledger": (io.BytesIO(ledger), "box.sqlite3")},
        content_type="multipart/form-data",
    )
    assert adopted.status_code == 302
    assert "held apart, not counted" in tech.get(f"/devices/{device_pk}/fork?lang=en").text


def decide(app, username: str, device_pk: int, fork_id: int, reason: str | None = None):
    """``username`` approves (no reason) or refuses the adoption on the fork page, as seen."""
    user = as_user(app, username)
    page = user.get(f"/devices/{device_pk}/fork?lang=en")
    held = re.search(r'name="held" value="(\d+)"', page.text)
    form = {"csrf_token": csrf_token(page.text), "held": held.group(1) if held else ""}
    if reason is None:
        return user.post(f"/devices/{device_pk}/fork/{fork_id}/approve", data=form)
    return user.post(f"/devices/{device_pk}/fork/{fork_id}/refuse", data={**form, "reason": reason})


def fork_alerts(app) -> dict[str, tuple[str, str | None, int | None]]:
    """After a sweep: the fork's alerts, their state, link and who resolved them."""
    with app.app_context():
        from web import clock

        session = web_db.session()
        sweep(session, clock.now())
        session.commit()
        kinds = ["equivocation", "records_refused"]
        found = session.scalars(select(Alert).where(Alert.kind.in_(kinds)))
        return {a.kind: (str(state_of(a)), alert_words(a).link, a.resolved_by) for a in found}


def fork_id_of(app, device_pk: int) -> int:
    with app.app_context():
        return web_db.session().scalar(select(Fork.id).where(Fork.device_pk == device_pk))


def device_pk_of(app, kiosk: Kiosk) -> int:
    with app.app_context():
        return web_db.session().scalar(
            select(Device.id).where(Device.device_id == kiosk.key.device_id)
        )


def copied_card(app, client, tmp_path: Path) -> tuple[Kiosk, Kiosk, int, int]:
    """A kiosk that synced 3 ballots of Lan, then a copy of its card that cast 4 of Binh
    (refused by the server) while the original cast 2 more of Lan: the original, the copy,
    the seq the chains part at, the original's device pk."""
    original = kiosk_at(app, client, tmp_path / "a", "2026-11-02T08:00:00")
    original.vote("lan", "rat_hai_long", 3)
    original.sync(client)
    copy = copy_of(original, tmp_path / "b", "2026-11-03T08:00:00")
    original.vote("lan", "rat_hai_long", 2)
    original.sync(client)
    copy.vote("binh", "hai_long", 4)
    seq = refuse_fork(client, copy)
    return original, copy, seq, device_pk_of(app, original)


def repair_upload(app, device_pk: int, kiosk: Kiosk):
    """An administrator uploads the kiosk's own ledger file on its fork page (a repair)."""
    admin = as_user(app, "admin")
    page = admin.get(f"/devices/{device_pk}/fork")
    kiosk.box.store.checkpoint()
    ledger = (kiosk.folder / "box.sqlite3").read_bytes()
    return admin.post(
        f"/devices/{device_pk}/fork/repair",
        data={"csrf_token": csrf_token(page.text), "ledger": (io.BytesIO(ledger), "box.sqlite3")},
        content_type="multipart/form-data",
    )


def votes_by_clerk(count: BoxCount) -> dict[str, int]:
    return {clerk: sum(levels.values()) for clerk, levels in count.main.by_clerk.items()}


@pytest.fixture
def client(ceremony_app):
    client = ceremony_app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    return client


def test_a_copied_card_is_refused_resolved_and_both_sides_counted(ceremony_app, client, tmp_path):
    app = ceremony_app
    original, copy, seq, pk = copied_card(app, client, tmp_path)
    assert seq == original.sent - 2 + 1  # the first record after the copy was made
    assert fork_alerts(app) == {"equivocation": ("open", f"/devices/{pk}/fork", None)}
    recover(app, pk, seq, copy, client, approver=None)
    # held apart, not approved yet: the fork is not recovered
    assert fork_alerts(app) == {"equivocation": ("open", f"/devices/{pk}/fork", None)}
    assert decide(app, "admin", pk, fork_id_of(app, pk)).status_code == 302
    # the branch adopted: the alert is resolved by the system, and the sweep raises no other
    assert fork_alerts(app) == {"equivocation": ("resolved", f"/devices/{pk}/fork", None)}
    original.vote("lan", "khong_hai_long", 1)  # the original goes on as ever
    original.sync(client)
    count = open_box_at(app, "2026-11", "2026-12-02T10:00:00")  # (its warning: checked there)
    assert any(d.device.signer and d.votes for d in count.devices)  # the branch's ballots
    assert votes_by_clerk(count) == {"lan": 6, "binh": 4}
    assert count.main.by_level == {"very_satisfied": 5, "not_satisfied": 1, "satisfied": 4}
    assert all(check.problem is None for check in count.devices)
    with app.app_context():
        session = web_db.session()
        receipts = set(
            session.scalars(select(LedgerRecord.receipt).where(LedgerRecord.receipt.is_not(None)))
        )
        actions = list(session.scalars(select(AuditEntry.action).where(AuditEntry.action.in_(
            ["fork_confirmed", "branch_held", "branch_approved"]))))  # fmt: skip
    assert set(original.receipts) | set(copy.receipts) <= receipts
    assert actions == ["fork_confirmed", "branch_held", "branch_approved"]


def test_a_restored_card_after_its_box_was_opened_goes_to_the_supplement(
    ceremony_app, client, tmp_path, server_clock
):
    app = ceremony_app
    kiosk = kiosk_at(app, client, tmp_path / "a", "2026-11-02T08:00:00")
    kiosk.vote("lan", "rat_hai_long", 2)
    backup = copy_of(kiosk, tmp_path / "backup", "2026-11-10T08:00:00")  # never synced
    kiosk.vote("lan", "rat_hai_long", 3)
    kiosk.sync(client)  # then its card dies
    restored = backup
    restored.sent = 0
    restored.vote("binh", "khong_hai_long", 2)
    seq = refuse_fork(client, restored)
    november = open_box_at(app, "2026-11", "2026-12-02T10:00:00")
    assert votes_by_clerk(november) == {"lan": 5}
    server_clock.advance_to("2026-12-03T09:00:00")  # the technician comes the next day
    recover(app, device_pk_of(app, kiosk), seq, restored, client)
    december = open_box_at(app, "2026-12", "2027-01-04T10:00:00")
    supplement = december.supplements["2026-11"]
    assert supplement.votes == 2 and supplement.by_level == {"not_satisfied": 2}
    minutes_kinds = [change["kind"] for change in json.loads(_minutes(app, "2026-12"))["changes"]]
    assert {"fork_confirmed", "branch_held", "branch_approved"} <= set(minutes_kinds)


def _minutes(app, box: str) -> bytes:
    with app.app_context():
        return web_db.session().scalar(select(Opening.minutes).where(Opening.box == box))


def test_a_record_altered_on_the_server_is_repaired_from_the_device(ceremony_app, client, tmp_path):
    app = ceremony_app
    kiosk = kiosk_at(app, client, tmp_path / "a", "2026-11-02T08:00:00")
    kiosk.vote("lan", "hai_long", 4)
    kiosk.sync(client)
    pk = device_pk_of(app, kiosk)
    with app.app_context():
        session = web_db.session()
        office = session.get(Office, app.config["OFFICE_ID"])
        seq = list(session.scalars(select(LedgerRecord.seq).where(
            LedgerRecord.device_pk == pk, LedgerRecord.kind == "VOTE")))[1]  # fmt: skip
        damage(session, pk, seq)
        damaged = count_box(session, office, "2026-11")
    problem = damaged.devices[0].problem
    assert problem is not None and problem.seq == seq
    # The kiosk's ledger file, uploaded by an administrator on the device's page.
    admin = as_user(app, "admin")
    page = admin.get(f"/devices/{pk}/fork")
    kiosk.box.store.checkpoint()
    ledger = (kiosk.folder / "box.sqlite3").read_bytes()
    tech = as_user(app, "kt-dong")
    token = csrf_token(tech.get(f"/devices/{pk}/fork").text)
    refused = tech.post(f"/devices/{pk}/fork/repair", data={"csrf_token": token})
    assert refused.status_code == 403  # an administrator confirms a repair
    answer = admin.post(
        f"/devices/{pk}/fork/repair",
        data={"csrf_token": csrf_token(page.text), "ledger": (io.BytesIO(ledger), "box.sqlite3")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302
    with app.app_context():
        session = web_db.session()
        repaired = count_box(session, session.get(Office, app.config["OFFICE_ID"]), "2026-11")
        kept = session.scalar(select(RecordRepair))
        assert kept.seq == seq and b"not_satisfied" in kept.damaged_data
        with pytest.raises(DBAPIError):  # any other rewrite is still refused by the database
            session.execute(text("UPDATE ledger_records SET box = 'x' WHERE seq = 1"))
        session.rollback()
    assert repaired.devices[0].problem is None
    assert repaired.main.by_level == {BUTTONS["hai_long"].value: 4}


def damage(session, device_pk: int, seq: int) -> None:
    """A damaged database: record ``seq``'s level rewritten behind the application's back
    (its guards lifted for the write, and put back)."""
    sqlite = session.bind.dialect.name == "sqlite"
    if sqlite:
        triggers = session.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE "
                "type = 'trigger' AND tbl_name = 'ledger_records'"
            )
        ).all()
        for name, _sql in triggers:
            session.execute(text(f"DROP TRIGGER {name}"))
    else:
        session.execute(text("ALTER TABLE ledger_records DISABLE TRIGGER USER"))
    row = session.scalar(select(LedgerRecord).where(LedgerRecord.device_pk == device_pk,
                                                    LedgerRecord.seq == seq))  # fmt: skip
    row.data = bytes(row.data).replace(b'"satisfied"', b'"not_satisfied"')
    session.flush()
    if sqlite:
        for _name, sql in triggers:
            session.execute(text(sql))
    else:
        session.execute(text("ALTER TABLE ledger_records ENABLE TRIGGER USER"))
    session.commit()
