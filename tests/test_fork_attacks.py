"""Red team of a fork's branch adoption (web.forks, web.forks_approval, web.forks_page): one
person alone never gets a branch's ballots counted, neither through an account he set up
(created, or whose password he set) nor by approving while more records are uploaded; odd
input on the fork page (ids past the database's integers, a NUL, a long reason, a forged
ledger file) is refused with a message, never a 500; a deactivated administrator, another
unit's, a GET or a form without its token decides nothing."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.test_forks import as_user, confirm_side, copied_card, decide, upload_branch
from tests.web_helpers import PASSWORD, create_account, csrf_token, login
from web import db as web_db
from web.forks import ForkError
from web.forks_approval import approve_branch
from web.models import LedgerRecord, Unit, User
from web.models_forks import Fork
from web.services import services

HUGE = str(10**30)


@pytest.fixture
def client(ceremony_app):
    client = ceremony_app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    return client


def _status(app, fork_id: int) -> str:
    with app.app_context():
        return web_db.session().get(Fork, fork_id).status


def _asked(app, client, tmp_path: Path, technician: str = "kt-dong"):
    """A copied card's branch confirmed and uploaded by ``technician``: waiting for approval."""
    _original, copy, seq, pk = copied_card(app, client, tmp_path)
    _key, fork_id = confirm_side(app, pk, seq, copy, client, technician=technician)
    upload_branch(app, pk, fork_id, copy, technician)
    assert _status(app, fork_id) == Fork.ASKED
    return copy, pk, fork_id


def _new_account(admin, unit_id: int, username: str, role: str) -> None:
    page = admin.get("/manage/users/new")
    answer = admin.post("/manage/users/new", data={
        "csrf_token": csrf_token(page.text), "username": username, "display_name": "Người Mới",
        "role": role, "unit": str(unit_id), "language": "vi", "password": PASSWORD, "email": "",
    })  # fmt: skip
    assert answer.status_code == 302, answer.text


def _own_password(app, username: str) -> None:
    user = as_user(app, username)
    page = user.get("/account/password")
    new = "mật-khẩu-riêng-rất-dài-7"
    answer = user.post("/account/password", data={"csrf_token": csrf_token(page.text),
                       "current": PASSWORD, "password": new, "confirm": new})  # fmt: skip
    assert answer.status_code == 302, answer.text


def test_an_administrator_cannot_approve_through_accounts_he_set_up(ceremony_app, client, tmp_path):
    """Finding 1: an administrator creates a technician account (he knows its password),
    asks for the adoption with it, and approves with his own; or sets up a second
    administrator account for himself. Any account whose password another set (and its
    owner has not changed since) is that other's: they count as one person."""
    app = ceremony_app
    with app.app_context():
        dong = web_db.session().scalar(select(Unit.id).where(Unit.code == "38-dt"))
    admin = as_user(app, "admin")
    _new_account(admin, dong, "kt-moi", "technician")
    _copy, pk, fork_id = _asked(app, client, tmp_path, technician="kt-moi")
    assert decide(app, "admin", pk, fork_id).status_code == 302
    assert _status(app, fork_id) == Fork.ASKED
    _new_account(admin, dong, "admin-moi", "admin")
    assert decide(app, "admin-moi", pk, fork_id).status_code == 302
    assert _status(app, fork_id) == Fork.ASKED
    # Each owner sets a password of his own: two people again, the approval goes through.
    _own_password(app, "kt-moi")
    _own_password(app, "admin-moi")
    fresh = app.test_client()
    fresh.environ_base["wsgi.url_scheme"] = "https"
    assert login(fresh, "admin-moi", "mật-khẩu-riêng-rất-dài-7").status_code == 302
    page = fresh.get(f"/devices/{pk}/fork?lang=en")
    held = page.text.split('name="held" value="')[1].split('"')[0]
    answer = fresh.post(f"/devices/{pk}/fork/{fork_id}/approve",
                        data={"csrf_token": csrf_token(page.text), "held": held})  # fmt: skip
    assert answer.status_code == 302 and _status(app, fork_id) == Fork.ADOPTED


def test_an_approval_adopts_only_the_records_its_approver_saw(ceremony_app, client, tmp_path):
    """Finding 2: the approver's page showed 5 held records; between the check of that
    number and the copy of the held records, the technician uploads one more ballot
    (committed by another request): the approval must not adopt a record nobody saw."""
    app = ceremony_app
    with app.app_context():
        create_account("admin2", "Quản trị viên hai", "admin")
        web_db.session().commit()
    copy, pk, fork_id = _asked(app, client, tmp_path)
    copy.vote("binh", "hai_long", 1)
    with app.app_context():  # (the approver's request: its own session, its page seen)
        session = services().sessions()
        fork = session.get(Fork, fork_id)
        seen = fork.adopted
        approver = session.scalar(select(User.id).where(User.username == "admin2"))
    upload_branch(app, pk, fork_id, copy, "kt-dong")  # (another request, committed)
    with app.app_context():
        try:
            approve_branch(session, fork, approver, seen)
            session.commit()
        except ForkError:  # (the branch changed since the page was seen)
            session.rollback()
        session.close()
    with app.app_context():
        session = web_db.session()
        fork = session.get(Fork, fork_id)
        adopted = session.scalar(
            select(func.count()).where(LedgerRecord.device_pk == fork.branch_pk)
        )
        assert adopted <= seen  # (never a record the approver did not see)
        assert fork.status == Fork.ASKED and fork.adopted == seen + 1 and adopted == 0


def _forged_ledger(folder: Path, data: object) -> bytes:
    path = folder / "forged.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE records (seq, kind, box, data, sig)")
        connection.execute("INSERT INTO records VALUES (?, 'VOTE', '2026-11', ?, x'00')", (6, data))
    connection.close()
    return path.read_bytes()


def test_odd_input_on_the_fork_page_is_refused_never_a_500(ceremony_app, client, tmp_path):
    """Finding 3: the fork page's own fields (the evidence, the records seen, the reason)
    and the uploaded ledger file bypass the forms' checks: a number past the database's
    integers, a NUL in the reason, a ledger whose record is text or a negative number
    must be refused with a message, never a 500. (A reason of 10 kB, ids past integers
    in the path, another unit's administrator, a deactivated one, a GET and a missing
    token were already refused: kept here.)"""
    app = ceremony_app
    with app.app_context():
        session = web_db.session()
        hac = session.scalar(select(Unit.id).where(Unit.code == "38-ht"))
        create_account("admin2", "Quản trị viên hai", "admin")
        create_account("admin-hac", "Quản trị Hạc Thành", "admin", hac)
        session.commit()
    _copy, pk, fork_id = _asked(app, client, tmp_path)
    tech, admin2 = as_user(app, "kt-dong"), as_user(app, "admin2")
    token = csrf_token(admin2.get(f"/devices/{pk}/fork").text)
    base = f"/devices/{pk}/fork"
    answers = {
        "evidence past integers": tech.post(f"{base}/confirm", data={
            "csrf_token": csrf_token(tech.get(base).text), "evidence": HUGE}),
        "held past integers": admin2.post(f"{base}/{fork_id}/approve",
                                          data={"csrf_token": token, "held": HUGE}),
        "NUL in the reason": admin2.post(f"{base}/{fork_id}/refuse",
                                         data={"csrf_token": token, "held": "5",
                                               "reason": "hỏng\x00"}),
        "reason of 10 kB": admin2.post(f"{base}/{fork_id}/refuse", data={
            "csrf_token": token, "held": "5", "reason": "lý do " * 2000}),
    }  # fmt: skip
    for data in ("văn bản", -1, None):
        ledger = _forged_ledger(tmp_path, data)
        answers[f"ledger data {data!r}"] = tech.post(
            f"{base}/{fork_id}/adopt",
            data={"csrf_token": csrf_token(tech.get(base).text),
                  "ledger": (io.BytesIO(ledger), "box.sqlite3")},
            content_type="multipart/form-data",
        )  # fmt: skip
        (tmp_path / "forged.sqlite3").unlink()
    statuses = {what: answer.status_code for what, answer in answers.items()}
    assert statuses == {what: 302 for what in answers}
    assert _status(app, fork_id) == Fork.ASKED
    # Guards that held already.
    assert admin2.get(f"/devices/{HUGE}/fork").status_code == 404
    assert admin2.post(f"{base}/{HUGE}/approve", data={"csrf_token": token}).status_code == 404
    assert admin2.get(f"{base}/{fork_id}/approve").status_code == 405
    assert admin2.post(f"{base}/{fork_id}/approve", data={"held": "5"}).status_code == 400
    hac_admin = as_user(app, "admin-hac")
    hac_token = csrf_token(hac_admin.get("/").text)
    other_unit = hac_admin.post(
        f"{base}/{fork_id}/approve", data={"csrf_token": hac_token, "held": "5"}
    )
    assert other_unit.status_code == 404
    admin = as_user(app, "admin")
    with app.app_context():
        admin2_id = web_db.session().scalar(select(User.id).where(User.username == "admin2"))
    page = admin.get(f"/manage/users/{admin2_id}/deactivate")
    admin.post(f"/manage/users/{admin2_id}/deactivate",
               data={"csrf_token": csrf_token(page.text)})  # fmt: skip
    late = admin2.post(f"{base}/{fork_id}/approve", data={"csrf_token": token, "held": "5"})
    assert late.status_code == 302 and "/login" in late.headers["Location"]
    assert _status(app, fork_id) == Fork.ASKED
