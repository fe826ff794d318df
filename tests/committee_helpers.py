"""The committee's side of the server tests: an administrator's hands (resets, committee
changes) and a member's code set on the secretary's screen."""

from __future__ import annotations

from sqlalchemy import select

from tests.ceremony_helpers import post_form
from tests.web_helpers import PASSWORD, csrf_token, login
from web import db as web_db
from web.models import CommitteeMember, Office, Opening, User

# What the administrator sets when resetting a member's password (strong enough to pass).
RESET_PASSWORD = "Tàu-ngầm-đỏ-7391-biển"


def as_admin(client) -> None:
    assert login(client, "admin").status_code == 302
    client.get("/?lang=en")


def user_id(app, username: str) -> int:
    with app.app_context():
        found = web_db.session().scalar(select(User.id).where(User.username == username))
        assert found is not None, username
        return found


def member_id(app, username: str) -> int:
    """The committee_members id of ``username`` in the ceremony's office."""
    with app.app_context():
        found = web_db.session().scalar(
            select(CommitteeMember.id)
            .join(User, CommitteeMember.user_id == User.id)
            .where(User.username == username, CommitteeMember.office_id == app.config["OFFICE_ID"])
        )
        assert found is not None, username
        return found


def manage_post(client, path: str, data: dict, page: str):
    """A management form sent with the CSRF token of ``page``."""
    form = client.get(page)
    assert form.status_code == 200, (page, form.status_code)
    return client.post(path, data={**data, "csrf_token": csrf_token(form.text)})


def office_page(app) -> str:
    return f"/manage/offices/{app.config['OFFICE_ID']}"


def reset_password(client, app, username: str, password: str = RESET_PASSWORD):
    page = f"/manage/users/{user_id(app, username)}/password"
    return manage_post(client, page, {"password": password, "confirm": password}, page)


def add_member(client, app, username: str, role: str):
    page = office_page(app)
    data = {"user": user_id(app, username), "committee_role": role}
    return manage_post(client, page + "/committee", data, page)


def remove_member(client, app, username: str):
    return manage_post(
        client, f"/manage/committee/{member_id(app, username)}/remove", {}, office_page(app)
    )


def change_role(client, app, username: str, role: str):
    path = f"/manage/committee/{member_id(app, username)}/role"
    return manage_post(client, path, {"committee_role": role}, office_page(app))


def set_quorum(client, app, quorum: int):
    page = office_page(app)
    return manage_post(client, page + "/quorum", {"quorum": str(quorum)}, page)


def new_committee_account(client, app, username: str, password: str = RESET_PASSWORD) -> None:
    """An account with the role "committee member" in Xã Đông Thanh, made on the page."""
    with app.app_context():
        unit_id = web_db.session().get(Office, app.config["OFFICE_ID"]).unit_id
    made = manage_post(
        client,
        "/manage/users/new",
        {
            "username": username,
            "display_name": f"Tài khoản {username}",
            "role": "committee",
            "unit": unit_id,
            "language": "vi",
            "password": password,
        },
        "/manage/users/new",
    )
    assert made.status_code == 302, made.text


def set_code(client, app, box: str, username: str, code: str, *, password: str = PASSWORD,
             again: str | None = None, previous: str = "", countersigner: str = "",
             countersigner_code: str = ""):  # fmt: skip
    """A member sets ``code`` on the secretary's screen (``client`` is the secretary)."""
    return post_form(client, app, box, "code", username=username, password=password, code=code,
                     code_again=code if again is None else again, previous_code=previous,
                     countersigner=countersigner,
                     countersigner_code=countersigner_code)  # fmt: skip


def confirmed(app, box: str) -> list[str]:
    """Who has confirmed the office's opening of ``box`` (account names, in order)."""
    with app.app_context():
        opening = web_db.session().scalar(
            select(Opening).where(Opening.office_id == app.config["OFFICE_ID"], Opening.box == box)
        )
        return [c.user.username for c in opening.confirmations] if opening else []
