"""No single person may put ballots into a count through a fork (web.forks_approval): the
forked side's branch uploaded by one account is held apart, not counted, until an
administrator who neither confirmed the fork nor uploaded the branch approves it, in the
scope of the unit, with CSRF; the database refuses the same. An administrator alone cannot
adopt a branch nobody asked for."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.test_forks import (
    as_user,
    confirm_side,
    copied_card,
    decide,
    upload_branch,
    votes_by_clerk,
)
from tests.web_helpers import create_account, csrf_token
from web import db as web_db
from web.forks import branch_checks
from web.models import AuditEntry, Office, Unit
from web.models_forks import Fork, HeldRecord
from web.opening import count_box

BOX = "2026-11"


@pytest.fixture
def client(ceremony_app):
    client = ceremony_app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    return client


def _fork(app, fork_id: int) -> tuple[str, int | None, int]:
    with app.app_context():
        fork = web_db.session().get(Fork, fork_id)
        return fork.status, fork.approved_by, fork.adopted


def _count(app):
    with app.app_context():
        session = web_db.session()
        office_id = app.config["OFFICE_ID"]
        count = count_box(session, session.get(Office, office_id), BOX)
        return count, branch_checks(count, session, office_id)


def test_adoption_takes_a_second_person_in_scope(ceremony_app, client, tmp_path):
    app = ceremony_app
    with app.app_context():
        session = web_db.session()
        hac = session.scalar(select(Unit.id).where(Unit.code == "38-ht"))
        create_account("admin2", "Quản trị viên hai", "admin")
        create_account("admin-hac", "Quản trị Hạc Thành", "admin", hac)
        session.commit()
    # (the copy's ballots: or a technician's own, signed with the kiosk's key)
    original, copy, seq, pk = copied_card(app, client, tmp_path)
    # An administrator confirms the fork himself: nobody asked for an adoption yet.
    _key, fork_id = confirm_side(app, pk, seq, copy, client, technician="admin")
    answer = decide(app, "admin2", pk, fork_id)
    assert answer.status_code == 302 and _fork(app, fork_id) == ("confirmed", None, 0)
    # … and uploads the branch: held apart, not counted, a warning naming what to do.
    upload_branch(app, pk, fork_id, copy, technician="admin")
    count, checks = _count(app)
    assert votes_by_clerk(count) == {"lan": 5}
    (held,) = [c for c in checks if c.code == "held_branch"]
    assert held.device_id == f"{original.key.device_id}/{seq}"
    assert "4 ballots" in held.message and "Quản trị viên" in held.message
    # The account that asked cannot approve; a technician may not; nor another unit's
    # administrator; nor a form without its token.
    assert decide(app, "admin", pk, fork_id).status_code == 302
    assert _fork(app, fork_id) == ("asked", None, 5)
    assert decide(app, "kt-dong", pk, fork_id).status_code == 403
    assert as_user(app, "admin-hac").get(f"/devices/{pk}/fork").status_code == 404
    admin2 = as_user(app, "admin2")
    page = admin2.get(f"/devices/{pk}/fork?lang=en")
    assert "5 records wait for an administrator" in page.text
    caption = page.text.split(f'id="evidence-{fork_id}"')[1].split("</caption>")[0]
    assert f"Fork at record {seq}" in caption and "uploaded by Quản trị viên (admin)" in caption
    post = f"/devices/{pk}/fork/{fork_id}/approve"
    assert admin2.post(post, data={"held": "5"}).status_code == 400
    stale = admin2.post(post, data={"csrf_token": csrf_token(page.text), "held": "4"})
    assert stale.status_code == 302 and _fork(app, fork_id)[0] == "asked"
    # The database refuses an approval by the account that asked.
    with app.app_context():
        session = web_db.session()
        with pytest.raises(DBAPIError):
            session.execute(
                text("UPDATE forks SET status = 'adopted', approved_by = adopted_by WHERE id = :f"),
                {"f": fork_id},
            )
        session.rollback()
    # Another administrator approves: counted, with the warning naming both.
    assert decide(app, "admin2", pk, fork_id).status_code == 302
    status, approver, records = _fork(app, fork_id)
    assert status == "adopted" and approver is not None and records == 5
    count, checks = _count(app)
    assert votes_by_clerk(count) == {"lan": 5, "binh": 4}
    (adopted,) = [c for c in checks if c.code == "adopted_branch"]
    assert "Quản trị viên (admin)" in adopted.message
    assert "Quản trị viên hai (admin2)" in adopted.message
    assert not [c for c in checks if c.code == "held_branch"]
    # Decided for good: the database refuses any change, and the held records stay.
    with app.app_context():
        session = web_db.session()
        for statement in (
            "UPDATE forks SET status = 'refused' WHERE id = :f",
            "DELETE FROM fork_held_records WHERE fork_id = :f",
        ):
            with pytest.raises(DBAPIError):
                session.execute(text(statement), {"f": fork_id})
            session.rollback()
        kept = session.scalar(select(HeldRecord.id).where(HeldRecord.fork_id == fork_id))
        actions = list(session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("%branch%")).order_by(AuditEntry.id)))  # fmt: skip
    assert kept is not None and actions == ["branch_held", "branch_approved"]
    assert decide(app, "admin2", pk, fork_id, reason="muộn").status_code == 302
    assert _fork(app, fork_id)[0] == "adopted"
