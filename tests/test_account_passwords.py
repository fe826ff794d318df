"""Issue 10, "Accounts and sessions": common and guessable passwords are refused wherever a
password is set (a new account, an administrator's reset, one's own change, the command
line's ``create_user``, the demo), with the reason in Vietnamese."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from hom_phieu import demo
from tests.web_helpers import PASSWORD, csrf_token, login
from web import db, passwords
from web.auth import create_user
from web.models import User

GOOD = "ba-con-mèo-đi-dạo-bờ-sông"
GUESSABLE = [
    "matkhau@2026",  # "mật khẩu" (password) and a year
    "Mật-Khẩu-123",
    "Password123!",
    "qwertyuiop123",
    "123456789a",
    "1234567890",
    "anhyeuem123456",
    "hom-phieu-2026",
    "Chutich@2026",
    "dongthanh2026",  # the account's commune, Xã Đông Thanh
    "aaaaaaaaaaaa",
]
TOO_EASY = "quá dễ đoán"


def send(client, path: str, data: dict, page: str | None = None):
    form = client.get(page or path)
    return client.post(path, data={**data, "csrf_token": csrf_token(form.text)})


def new_account(password: str, username: str = "chu-tich-moi") -> dict:
    return {"username": username, "display_name": "Nguyễn Văn Ễnh", "role": "viewer",
            "unit": 0, "language": "vi", "password": password}  # fmt: skip


@pytest.fixture
def admin(site):
    app, client, ids = site
    assert login(client, "admin").status_code == 302
    with app.app_context():
        dong = db.session().scalar(select(User).where(User.username == "kt-dong"))
    return app, client, ids, dong.id


@pytest.mark.parametrize("password", GUESSABLE)
def test_an_administrator_cannot_give_a_guessable_password(admin, password: str) -> None:
    _app, client, ids, dong = admin
    account = {**new_account(password), "unit": ids["dong"]["unit"]}
    created = send(client, "/manage/users/new", account)
    assert created.status_code == 400 and TOO_EASY in created.text
    reset = send(client, f"/manage/users/{dong}/password", {"password": password,
                                                            "confirm": password})  # fmt: skip
    assert reset.status_code == 400 and TOO_EASY in reset.text


def test_a_password_may_not_contain_the_account_name(admin) -> None:
    _app, client, _ids, dong = admin
    named = new_account("Xk-chu-tich-moi-93-zq", username="chu-tich-moi")
    answer = send(client, "/manage/users/new", named)
    assert answer.status_code == 400 and "không được chứa tên tài khoản" in answer.text
    named = "KT.Dong-xq93-zzv"
    reset = send(client, f"/manage/users/{dong}/password", {"password": named, "confirm": named})
    assert reset.status_code == 400 and "không được chứa tên tài khoản" in reset.text


def test_a_passphrase_is_accepted_everywhere(admin) -> None:
    _app, client, _ids, dong = admin
    assert send(client, "/manage/users/new", new_account(GOOD)).status_code == 302
    page = f"/manage/users/{dong}/password"
    assert send(client, page, {"password": GOOD, "confirm": GOOD}).status_code == 302


def test_ones_own_new_password_is_checked_too(site) -> None:
    _app, client, _ = site
    login(client, "kt-dong")
    for password in ["hom-phieu-2026", "kt-dong-2026-xyz"]:
        answer = send(client, "/account/password",
                      {"current": PASSWORD, "password": password, "confirm": password})  # fmt: skip
        assert answer.status_code == 400
    assert login(client, "kt-dong").status_code == 302  # unchanged


def test_create_user_refuses_a_guessable_password(server_app) -> None:
    """The command line's ``web create-admin`` and every other caller go through it."""
    with server_app.app_context():
        for password in ["matkhau123456", "admin-admin-2026"]:
            with pytest.raises(passwords.WeakPassword):
                create_user("quan-tri", password, "Quản trị", "admin")
        assert create_user("quan-tri", GOOD, "Quản trị", "admin").username == "quan-tri"


def test_the_demos_generated_passwords_pass(server_app, tmp_path) -> None:
    with server_app.app_context():
        password = demo._demo_admin(tmp_path / "demo-admin.txt")
        demo._demo_office(password)  # the committee's accounts take the same one
        db.session().commit()
        assert db.session().scalar(select(User).where(User.username == "chu-tich")) is not None
        # The same generator, many times: never refused.
        of = passwords.owner("mot-cua", "Phạm Thị Ngọc")
        assert all(passwords.refusal(secrets.token_urlsafe(12), of) is None for _ in range(200))
