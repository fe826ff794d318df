"""Issue 10, "Accounts and sessions": a session is the server's to end. A copied cookie
dies at logout; a new password, a reset or a deactivation logs the account out everywhere;
an idle session ends by itself. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from tests.web_helpers import PASSWORD, csrf_token, login
from web import db
from web.models import User
from web.user_sessions import IDLE

NEW = "ba-con-mèo-đi-dạo-bờ-sông"


def browser(app, address: str = "10.0.0.5"):
    client = app.test_client()
    client.environ_base.update({"REMOTE_ADDR": address, "wsgi.url_scheme": "https"})
    return client


def logged_in(client) -> bool:
    return client.get("/").status_code == 200


def copy_of(app, client):
    """Another machine holding a copy of ``client``'s session cookie."""
    thief = browser(app, "203.0.113.9")
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def post(client, path: str, data: dict | None = None, page: str = "/"):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client.get(page).text)})


def user_id(app, username: str) -> int:
    with app.app_context():
        return db.session().scalar(select(User.id).where(User.username == username))


def test_a_copied_session_cookie_dies_at_logout(site) -> None:
    app, _, _ = site
    member = browser(app)
    assert login(member, "kt-dong").status_code == 302
    thief = copy_of(app, member)
    assert logged_in(thief)  # a copy works while the session lasts …
    post(member, "/logout")
    assert not logged_in(member)
    assert not logged_in(thief)  # … and not a moment after logging out
    assert thief.get("/devices").headers["Location"].startswith("/login")


def test_ones_own_new_password_logs_every_other_session_out(site) -> None:
    app, _, _ = site
    here, there = browser(app), browser(app, "10.0.0.6")
    assert login(here, "kt-dong").status_code == 302
    assert login(there, "kt-dong").status_code == 302
    thief = copy_of(app, here)
    form = {"current": PASSWORD, "password": NEW, "confirm": NEW}
    changed = post(here, "/account/password", form, page="/account/password")
    assert changed.status_code == 302
    assert logged_in(here)  # this browser goes on, in a new session
    assert not logged_in(there) and not logged_in(thief)
    assert login(there, "kt-dong", PASSWORD).status_code == 401
    assert login(there, "kt-dong", NEW).status_code == 302


def test_a_wrong_current_password_changes_nothing_and_is_throttled(site) -> None:
    app, _, _ = site
    member = browser(app)
    login(member, "kt-dong")
    form = {"current": "không-đúng-mật-khẩu", "password": NEW, "confirm": NEW}
    for _ in range(3):
        answer = post(member, "/account/password", form, page="/account/password")
        assert answer.status_code == 400 and "mật khẩu hiện tại không đúng" in answer.text
    assert post(member, "/account/password", form, page="/account/password").status_code == 429
    assert logged_in(member)
    assert login(browser(app, "10.0.0.6"), "kt-dong", PASSWORD).status_code == 302


def test_a_reset_or_deactivation_by_an_administrator_logs_the_account_out(site) -> None:
    app, _, _ = site
    admin, member = browser(app, "10.0.0.1"), browser(app)
    login(admin, "admin")
    login(member, "kt-dong")
    page = f"/manage/users/{user_id(app, 'kt-dong')}/password"
    assert post(admin, page, {"password": NEW, "confirm": NEW}, page=page).status_code == 302
    assert not logged_in(member)
    assert login(member, "kt-dong", NEW).status_code == 302
    deactivate = f"/manage/users/{user_id(app, 'kt-dong')}/deactivate"
    assert post(admin, deactivate, page="/manage/users").status_code == 302
    assert not logged_in(member)
    assert logged_in(admin)


def test_an_administrator_resetting_their_own_password_stays_logged_in(site) -> None:
    app, _, _ = site
    admin, elsewhere = browser(app), browser(app, "10.0.0.6")
    login(admin, "admin")
    login(elsewhere, "admin")
    page = f"/manage/users/{user_id(app, 'admin')}/password"
    assert post(admin, page, {"password": NEW, "confirm": NEW}, page=page).status_code == 302
    assert logged_in(admin) and not logged_in(elsewhere)


def test_an_idle_session_ends_by_itself(site, server_clock) -> None:
    app, _, _ = site
    member = browser(app)
    login(member, "kt-dong")
    hour = 3600 * 1000
    idle_hours = int(IDLE.total_seconds() // 3600)
    for _ in range(3):  # in use: it lasts beyond IDLE
        server_clock.advance((idle_hours - 1) * hour)
        assert logged_in(member)
    server_clock.advance(idle_hours * hour + 1000)
    assert not logged_in(member)
