"""Accounts, CSRF, throttling, roles and unit scope, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from tests.web_helpers import PASSWORD, csrf_token, login
from web import db
from web.models import AuditEntry, Device, User


def test_login_page_is_vietnamese_and_needs_csrf(site) -> None:
    _app, client, _ = site
    page = client.get("/login")
    assert page.status_code == 200 and "Đăng nhập" in page.text
    refused = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert refused.status_code == 400  # no CSRF token


def test_passwords_are_hashed_and_a_good_login_is_audited(site) -> None:
    app, client, _ = site
    with app.app_context():
        stored = db.session().scalar(select(User.password_hash).where(User.username == "admin"))
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    answer = login(client, "admin")
    assert answer.status_code == 302
    cookie = answer.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/").status_code == 200
    with app.app_context():
        actions = db.session().scalars(select(AuditEntry.action)).all()
    assert "login" in actions


def test_wrong_passwords_are_throttled(site) -> None:
    """More in tests/test_account_attacks.py (growing waits, the member's own browser)."""
    _app, client, _ = site
    for _ in range(3):
        assert login(client, "admin", "sai-mật-khẩu-rồi").status_code == 401
    throttled = login(client, "admin")  # even the right password must wait now
    assert throttled.status_code == 429 and "thử lại sau 1 giây" in throttled.text


def test_pages_need_a_login(site) -> None:
    _app, client, _ = site
    for path in ["/", "/devices", "/devices/new"]:
        answer = client.get(path)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_roles_are_checked_on_every_route(site) -> None:
    _app, client, _ = site
    login(client, "xem-hac")
    assert client.get("/devices").status_code == 200
    assert client.get("/devices/new").status_code == 403


def register(client, office: int, counter: int) -> str:
    form = client.get("/devices/new")
    assert form.status_code == 200
    answer = client.post(
        "/devices/new",
        data={"office": office, "counter": counter, "label": "Cạnh cửa ra vào",
              "csrf_token": csrf_token(form.text)},
    )  # fmt: skip
    return answer


def test_a_technician_registers_a_device_in_their_commune_only(site) -> None:
    app, client, ids = site
    login(client, "kt-dong")
    answer = register(client, ids["dong"]["office"], ids["dong"]["counter"])
    assert answer.status_code == 200 and 'id="enrollment-code"' in answer.text
    assert "data:image/png;base64," in answer.text  # the code as a QR
    other = register(client, ids["hac"]["office"], ids["hac"]["counter"])
    assert other.status_code != 200 or 'id="enrollment-code"' not in other.text
    with app.app_context():
        devices = db.session().scalars(select(Device)).all()
        actions = db.session().scalars(select(AuditEntry.action)).all()
    assert [d.office_id for d in devices] == [ids["dong"]["office"]]
    assert "device_registered" in actions


def test_staff_of_one_commune_cannot_see_or_touch_another(site) -> None:
    app, client, ids = site
    login(client, "kt-tinh")  # the province's technician registers one device per commune
    register(client, ids["dong"]["office"], ids["dong"]["counter"])
    register(client, ids["hac"]["office"], ids["hac"]["counter"])
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/devices").text)})
    login(client, "kt-dong")
    page = client.get("/devices").text
    assert "Xã Đông Thanh" in page and "Hạc Thành" not in page
    with app.app_context():
        foreign = db.session().scalar(
            select(Device.id).where(Device.office_id == ids["hac"]["office"])
        )
    token = csrf_token(page)
    assert client.post(f"/devices/{foreign}/revoke", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        assert db.session().get(Device, foreign).status == "pending"


def test_english_is_one_click_away(site) -> None:
    _app, client, _ = site
    assert "Log in" in client.get("/login?lang=en").text
    assert "Log in" in client.get("/login").text  # remembered in a cookie


def test_the_server_never_imports_the_hardware_package() -> None:
    """Only the kiosk may own pins, screen and printer."""
    import subprocess
    import sys

    code = (
        "import sys, web; from web import create_app; app = create_app({'SECRET_KEY': 'x'});"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('hardware', 'gpiozero')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
