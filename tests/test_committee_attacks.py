"""The commune's administrator against the opening committee: holding every password he can
reset, adding accounts and moving the quorum, he still cannot open a box alone, nor change
the committee while a ceremony is under way, nor lock the office out with a quorum it
cannot reach."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.ceremony_helpers import CODE, confirm, october_kiosk, post_form
from tests.committee_helpers import (
    RESET_PASSWORD,
    add_member,
    as_admin,
    change_role,
    confirmed,
    new_committee_account,
    remove_member,
    reset_password,
    set_code,
    set_quorum,
)
from tests.web_helpers import login
from web import db as web_db
from web.models import CommitteeMember, Office, Opening

BOX = "2026-10"
MEMBERSHIP = select(CommitteeMember.user_id, CommitteeMember.committee_role)


@pytest.fixture
def app(ceremony_app):
    return ceremony_app


def _client(app, username: str | None = None):
    client = app.test_client()
    if username == "admin":
        as_admin(client)
    elif username is not None:
        assert login(client, username, RESET_PASSWORD).status_code == 302
        client.get("/?lang=en")
    return client


def _sealed(app) -> bool:
    with app.app_context():
        status = web_db.session().scalar(select(Opening.status).where(Opening.box == BOX))
    return status != Opening.OPENED


def test_reset_passwords_do_not_let_the_administrator_confirm_for_the_members(app, tmp_path):
    """Today's attack: reset three members' passwords, log in as each, open the box."""
    october_kiosk(app, app.test_client(), tmp_path)
    admin = _client(app, "admin")
    for username in ("thu-ky", "chu-tich", "mttq", "cong-doan"):
        assert reset_password(admin, app, username).status_code == 302
    screen = _client(app, "thu-ky")  # the administrator, as the secretary
    assert post_form(screen, app, BOX, "start").status_code == 302
    for username in ("chu-tich", "mttq", "cong-doan", "thu-ky"):
        for guess in (CODE, "", "000000", RESET_PASSWORD):
            answer = confirm(screen, app, BOX, username, RESET_PASSWORD, code=guess or "x")
            assert answer.status_code in (400, 401), answer.text
    assert confirmed(app, BOX) == []
    refused = confirm(screen, app, BOX, "chu-tich", RESET_PASSWORD)
    assert "suspended" in refused.text and "password was reset" in refused.text
    opened = post_form(screen, app, BOX, "open", warnings_reason="x")
    assert opened.status_code in (400, 409) and _sealed(app)


def test_a_suspended_code_cannot_be_replaced_by_whoever_holds_the_password(app, tmp_path):
    """With the member's new password in hand, the administrator tries to set a code of his
    own: there is no previous code he knows, no founding, no quorum to countersign."""
    october_kiosk(app, app.test_client(), tmp_path)
    admin = _client(app, "admin")
    for username in ("thu-ky", "chu-tich", "mttq", "cong-doan", "mot-cua", "pho-chu-tich"):
        reset_password(admin, app, username)
    screen = _client(app, "thu-ky")
    post_form(screen, app, BOX, "start")
    plain = set_code(screen, app, BOX, "chu-tich", "mã-của-tôi", password=RESET_PASSWORD)
    assert plain.status_code == 400 and "once the quorum has been met" in plain.text
    guessed = set_code(screen, app, BOX, "chu-tich", "mã-của-tôi", password=RESET_PASSWORD,
                       previous="123456")  # fmt: skip
    assert guessed.status_code == 401
    countersigned = set_code(screen, app, BOX, "chu-tich", "mã-của-tôi", password=RESET_PASSWORD,
                             countersigner="mttq", countersigner_code="mã-của-tôi")  # fmt: skip
    assert countersigned.status_code == 400
    assert confirm(screen, app, BOX, "chu-tich", RESET_PASSWORD, "mã-của-tôi").status_code == 400
    assert confirmed(app, BOX) == []


def test_fresh_accounts_added_to_the_committee_cannot_confirm(app, tmp_path):
    """Today's attack: add accounts of his own as members (one as secretary, one as deputy
    chair), lower the quorum, and confirm with them."""
    october_kiosk(app, app.test_client(), tmp_path)
    admin = _client(app, "admin")
    for username, role in [("gia-1", "secretary"), ("gia-2", "ubnd_deputy"),
                           ("gia-3", "mttq_chair")]:  # fmt: skip
        new_committee_account(admin, app, username)
        assert add_member(admin, app, username, role).status_code == 302
    assert set_quorum(admin, app, 2).status_code == 302  # outside a ceremony: allowed, listed
    screen = _client(app, "gia-1")
    assert post_form(screen, app, BOX, "start").status_code == 302
    for username in ("gia-1", "gia-2", "gia-3"):
        answer = confirm(screen, app, BOX, username, RESET_PASSWORD, code="mã-giả-mạo")
        assert answer.status_code == 400 and "no confirmation code" in answer.text
        made = set_code(screen, app, BOX, username, "mã-giả-mạo", password=RESET_PASSWORD)
        assert made.status_code == 400  # the committee has codes: no founding
    assert confirmed(app, BOX) == []
    assert post_form(screen, app, BOX, "open", warnings_reason="x").status_code == 400
    assert _sealed(app)


def test_one_member_who_is_also_the_administrator_cannot_countersign_accounts_of_his_own(
    app, tmp_path
):
    """The secretary also holds the administrator's account: his own confirmation and code
    are real, but a countersignature needs the quorum met first, so he cannot multiply
    his seat into accounts of his own."""
    october_kiosk(app, app.test_client(), tmp_path)
    admin = _client(app, "admin")
    new_committee_account(admin, app, "gia-pho")
    add_member(admin, app, "gia-pho", "ubnd_deputy")
    set_quorum(admin, app, 2)
    screen = app.test_client()
    assert login(screen, "thu-ky").status_code == 302
    screen.get("/?lang=en")
    post_form(screen, app, BOX, "start")
    assert confirm(screen, app, BOX, "thu-ky").status_code == 302
    made = set_code(screen, app, BOX, "gia-pho", "mã-giả-mạo", password=RESET_PASSWORD,
                    countersigner="thu-ky", countersigner_code=CODE)  # fmt: skip
    assert made.status_code == 400 and "quorum" in made.text
    assert confirmed(app, BOX) == ["thu-ky"]


@pytest.mark.parametrize(
    "change",
    [
        lambda client, app: add_member(client, app, "ngoai", "ubnd_deputy"),
        lambda client, app: remove_member(client, app, "cong-doan"),
        lambda client, app: change_role(client, app, "mot-cua", "ubnd_deputy"),
        lambda client, app: set_quorum(client, app, 2),
    ],
    ids=["add", "remove", "role", "quorum"],
)
def test_the_committee_does_not_change_while_a_ceremony_is_under_way(app, tmp_path, change):
    october_kiosk(app, app.test_client(), tmp_path)
    screen = app.test_client()
    login(screen, "thu-ky")
    post_form(screen, app, BOX, "start")
    admin = _client(app, "admin")
    with app.app_context():
        session = web_db.session()
        before = sorted(session.execute(MEMBERSHIP))
        quorum = session.get(Office, app.config["OFFICE_ID"]).quorum
    answer = change(admin, app)
    assert answer.status_code == 409, answer.status_code
    assert "ceremony of the box of 10/2026 is under way" in answer.text
    with app.app_context():
        session = web_db.session()
        after = sorted(session.execute(MEMBERSHIP))
        assert after == before
        assert session.get(Office, app.config["OFFICE_ID"]).quorum == quorum


def test_the_quorum_stays_between_the_minimum_and_the_committee(app):
    """Today a quorum larger than the committee is accepted and locks the office out."""
    admin = _client(app, "admin")
    too_many = set_quorum(admin, app, 7)  # six members
    assert too_many.status_code == 409 and "cannot be larger" in too_many.text
    assert set_quorum(admin, app, 1).status_code == 400
    assert set_quorum(admin, app, 6).status_code == 302
    removed = remove_member(admin, app, "cong-doan")  # six members, quorum six
    assert removed.status_code == 409 and "cannot be larger" in removed.text
    assert set_quorum(admin, app, 3).status_code == 302
    assert remove_member(admin, app, "pho-chu-tich").status_code == 302
    last_leader = remove_member(admin, app, "chu-tich")
    assert last_leader.status_code == 409 and "leader or deputy" in last_leader.text
    demoted = change_role(admin, app, "chu-tich", "union_rep")
    assert demoted.status_code == 409 and "leader or deputy" in demoted.text
    with app.app_context():
        assert web_db.session().get(Office, app.config["OFFICE_ID"]).quorum == 3


def test_members_without_a_code_do_not_count_towards_the_size_of_the_committee(app):
    """Once the committee has codes, members able to confirm are those holding one: the
    administrator cannot swap the real members for accounts that can never confirm."""
    admin = _client(app, "admin")
    for number in (1, 2, 3):
        new_committee_account(admin, app, f"gia-{number}")
        add_member(admin, app, f"gia-{number}", "union_rep")
    assert set_quorum(admin, app, 7).status_code == 409  # 9 members, 6 with a code
    for username in ("mot-cua", "cong-doan", "mttq"):
        assert remove_member(admin, app, username).status_code == 302
    refused = remove_member(admin, app, "pho-chu-tich")  # would leave 2 with a code
    assert refused.status_code == 409 and "cannot be larger" in refused.text
