"""Confirmation codes the honest way: a member whose password was reset sets a new code
with the previous one, a new member is admitted by the members present once the quorum is
met, a new committee sets its first codes at its first ceremony; and every change of the
committee in the box's month is listed in the checklist and the minutes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.ceremony_helpers import CODE, as_secretary, box_url, confirm, minutes_of, post_form
from tests.committee_helpers import (
    RESET_PASSWORD,
    add_member,
    as_admin,
    change_role,
    confirmed,
    new_committee_account,
    office_page,
    reset_password,
    set_code,
    set_quorum,
)
from web import db as web_db
from web.models import CommitteeMember, Office, User

BOX = "2026-10"
NEW_CODE = "mã-mới-của-tôi"


@pytest.fixture
def app(ceremony_app):
    return ceremony_app


@pytest.fixture
def admin(app):
    client = app.test_client()
    as_admin(client)
    return client


@pytest.fixture
def screen(app):
    """The secretary's screen."""
    client = app.test_client()
    as_secretary(client)
    return client


def _committee_checks(minutes: dict) -> list[str]:
    return [c["message"] for c in minutes["checks"] if c["code"] == "committee"]


def test_a_member_whose_password_was_reset_sets_a_new_code_with_the_previous_one(
    app, admin, screen
):
    assert reset_password(admin, app, "chu-tich").status_code == 302
    assert "suspended: to be set again before the committee" in admin.get(office_page(app)).text
    post_form(screen, app, BOX, "start")
    refused = confirm(screen, app, BOX, "chu-tich", RESET_PASSWORD)
    assert refused.status_code == 400 and "suspended" in refused.text
    short = set_code(screen, app, BOX, "chu-tich", "12345", password=RESET_PASSWORD, previous=CODE)
    assert short.status_code == 400 and "at least 6 characters" in short.text
    differ = set_code(screen, app, BOX, "chu-tich", NEW_CODE, password=RESET_PASSWORD,
                      again="khác-hẳn", previous=CODE)  # fmt: skip
    assert differ.status_code == 400 and "differ" in differ.text
    same = set_code(screen, app, BOX, "chu-tich", RESET_PASSWORD, password=RESET_PASSWORD,
                    previous=CODE)  # fmt: skip
    assert same.status_code == 400 and "must not be the account" in same.text
    made = set_code(screen, app, BOX, "chu-tich", NEW_CODE, password=RESET_PASSWORD, previous=CODE)
    assert made.status_code == 302
    assert confirm(screen, app, BOX, "chu-tich", RESET_PASSWORD, CODE).status_code == 401
    assert confirm(screen, app, BOX, "chu-tich", RESET_PASSWORD, NEW_CODE).status_code == 302
    for username in ("mttq", "thu-ky"):
        assert confirm(screen, app, BOX, username).status_code == 302
    checks = screen.get(box_url(app, BOX) + "?verify=1").text
    assert "the password of Nguyễn Văn Ễnh (chu-tich), People" in checks
    assert "proving their previous code" in checks
    assert post_form(screen, app, BOX, "open").status_code == 400  # the changes need a reason
    opened = post_form(screen, app, BOX, "open", warnings_reason="Chủ tịch quên mật khẩu")
    assert opened.status_code == 302
    minutes = minutes_of(app, BOX)
    listed = _committee_checks(minutes)
    assert len(listed) == 2
    assert all("Nguyễn Văn Ễnh (chu-tich)" in message for message in listed)
    assert "Quản trị viên (admin)" in listed[0]  # who reset it
    reset, code = minutes["changes"]  # and the minutes' list of the month's changes
    assert (reset["kind"], reset["by"]) == ("password_reset", "Quản trị viên (admin)")
    assert "Nguyễn Văn Ễnh (chu-tich)" in reset["subject"]
    assert (
        code["kind"] == "confirmation_code_set"
        and code["after"] == "đặt trước tổ mở hòm bằng mã cũ"
    )


def test_a_new_member_is_admitted_by_the_members_present_once_the_quorum_is_met(app, admin, screen):
    new_committee_account(admin, app, "moi")
    assert add_member(admin, app, "moi", "union_rep").status_code == 302
    post_form(screen, app, BOX, "start")
    early = set_code(screen, app, BOX, "moi", NEW_CODE, password=RESET_PASSWORD,
                     countersigner="chu-tich", countersigner_code=CODE)  # fmt: skip
    assert early.status_code == 400 and "once the quorum has been met" in early.text
    for username in ("chu-tich", "mttq", "thu-ky"):
        assert confirm(screen, app, BOX, username).status_code == 302
    for countersigner, code, status in [
        ("", "", 400),  # nobody countersigns
        ("cong-doan", CODE, 400),  # a member who has not confirmed
        ("moi", NEW_CODE, 400),  # oneself
        ("chu-tich", "sai-mã-rồi", 401),  # a wrong code
    ]:
        answer = set_code(screen, app, BOX, "moi", NEW_CODE, password=RESET_PASSWORD,
                          countersigner=countersigner, countersigner_code=code)  # fmt: skip
        assert answer.status_code == status, (countersigner, answer.text)
    made = set_code(screen, app, BOX, "moi", NEW_CODE, password=RESET_PASSWORD,
                    countersigner="chu-tich", countersigner_code=CODE)  # fmt: skip
    assert made.status_code == 302
    assert confirm(screen, app, BOX, "moi", RESET_PASSWORD, NEW_CODE).status_code == 302
    assert confirmed(app, BOX) == ["chu-tich", "mttq", "thu-ky", "moi"]
    post_form(screen, app, BOX, "open", warnings_reason="Thành viên mới")
    listed = _committee_checks(minutes_of(app, BOX))
    assert len(listed) == 2  # added, then admitted
    assert "Tài khoản moi (moi)" in listed[0] and "Quản trị viên (admin)" in listed[0]
    assert "Nguyễn Văn Ễnh (chu-tich)" in listed[1]  # the countersignature


def test_a_new_committee_sets_its_first_codes_at_its_first_ceremony_only(app, admin, server_clock):
    """An office whose committee never had codes (a new office, or the first ceremony
    after the upgrade): its members set them without a countersignature, once."""
    with app.app_context():
        session = web_db.session()
        unit_id = session.get(Office, app.config["OFFICE_ID"]).unit_id
        office = Office(unit_id=unit_id, code="dong-2", name="Bộ phận một cửa số 2")
        session.add(office)
        session.flush()
        for username, role in [("chu-tich", "ubnd_leader"), ("mttq", "mttq_chair"),
                               ("thu-ky", "secretary")]:  # fmt: skip
            user = session.scalar(select(User).where(User.username == username))
            session.add(CommitteeMember(office_id=office.id, user_id=user.id,
                                        committee_role=role))  # fmt: skip
        session.commit()
        app.config["OFFICE_ID"] = office.id
    screen = app.test_client()
    as_secretary(screen)
    post_form(screen, app, BOX, "start")
    assert confirm(screen, app, BOX, "chu-tich").status_code == 400  # no code here yet
    for username in ("chu-tich", "mttq", "thu-ky"):
        made = set_code(screen, app, BOX, username, f"đầu-tiên-{username}")
        assert made.status_code == 302, made.text
        assert confirm(screen, app, BOX, username, code=f"đầu-tiên-{username}").status_code == 302
    assert post_form(screen, app, BOX, "open", warnings_reason="Lần đầu").status_code == 302
    listed = _committee_checks(minutes_of(app, BOX))
    assert len(listed) == 3
    # The next ceremony: a new member needs the previous code or a countersignature.
    server_clock.advance(3_600_000)
    new_committee_account(admin, app, "moi")
    add_member(admin, app, "moi", "union_rep")
    post_form(screen, app, "2026-11", "start", early_reason="Kiểm tra")
    late = set_code(screen, app, "2026-11", "moi", NEW_CODE, password=RESET_PASSWORD)
    assert late.status_code == 400 and "once the quorum has been met" in late.text


def test_a_wrong_code_counts_as_a_failed_login_on_the_screen(app, screen):
    post_form(screen, app, BOX, "start")
    for _ in range(3):
        assert confirm(screen, app, BOX, "mttq", code="sai-mã-rồi").status_code == 401
    assert confirm(screen, app, BOX, "mttq").status_code == 429  # the clock has not moved
    assert confirmed(app, BOX) == []


def test_changes_of_the_month_are_listed_with_the_box(app, admin, screen):
    """A role changed keeps its member's code; the box's checklist lists each change of its
    month, and the minutes print them."""
    assert change_role(admin, app, "mot-cua", "ubnd_deputy").status_code == 302
    assert set_quorum(admin, app, 4).status_code == 302
    post_form(screen, app, BOX, "start")
    for username in ("mot-cua", "mttq", "cong-doan", "thu-ky"):  # the deputy presides
        assert confirm(screen, app, BOX, username).status_code == 302
    checks = screen.get(box_url(app, BOX) + "?verify=1").text
    assert "was changed from One-stop clerk to People" in checks
    assert "the quorum was changed from 3 to 4" in checks
    assert post_form(screen, app, BOX, "open", warnings_reason="Đổi vai trò").status_code == 302
    assert len(_committee_checks(minutes_of(app, BOX))) == 2


def test_a_change_is_listed_until_a_box_of_its_month_is_opened(app, admin, screen, server_clock):
    """Listed with every box opened from its month's first day (or the previous opening)
    on: here October's and November's minutes, not December's."""
    assert set_quorum(admin, app, 4).status_code == 302  # 20/11/2026
    listed = {}
    for box, day in [("2026-10", None), ("2026-11", "2026-12-02"), ("2026-12", "2027-01-05")]:
        if day is not None:
            server_clock.advance_to(f"{day}T09:00:00")
            as_secretary(screen)  # (an idle session ends)
        assert post_form(screen, app, box, "start").status_code == 302
        for username in ("chu-tich", "mttq", "cong-doan", "thu-ky"):
            assert confirm(screen, app, box, username).status_code == 302
        opened = post_form(screen, app, box, "open", warnings_reason="Kiểm tra")
        assert opened.status_code == 302, opened.text
        listed[box] = len(_committee_checks(minutes_of(app, box)))
    assert listed == {"2026-10": 1, "2026-11": 1, "2026-12": 0}


@pytest.mark.parametrize(
    "data",
    [
        {"username": "chu-tich\x00", "code": "mã-mới-của-tôi"},
        {"username": "chu-tich", "code": "x" * 65},
        {"username": "chu-tich", "code": "mã-mới-của-tôi", "countersigner": "không-có-ai"},
    ],
    ids=["nul", "too-long", "unknown-countersigner"],
)
def test_bad_input_on_the_ceremony_forms_gets_a_reason(app, admin, screen, data):
    post_form(screen, app, BOX, "start")
    for action in ("code", "confirm"):
        fields = {"password": "mật-khẩu", "code_again": data["code"], **data}
        answer = post_form(screen, app, BOX, action, **fields)
        assert 400 <= answer.status_code < 500, (action, answer.status_code)
    assert change_role(admin, app, "mot-cua", "vua").status_code == 400
