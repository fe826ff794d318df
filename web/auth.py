"""Accounts: hashed passwords, throttled logins, server-side sessions, CSRF on every form,
roles and unit scope checked on every route, and the append-only audit log of
administrative actions.

A login is checked by ``web.credentials`` (throttle, constant time), becomes a row of
``web.user_sessions`` (ended by logging out, a new password or deactivation), and sends
the browser on only to a path of this server (``web.redirects``). What a password may be:
``web.passwords``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie_session
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select
from wtforms import PasswordField, StringField, ValidationError
from wtforms.validators import DataRequired, Length

from hom_phieu.i18n import _
from web import credentials, db, passwords, trusted_browsers, user_sessions
from web.form_input import StorableInputMeta
from web.models import AuditEntry, Role, User
from web.redirects import local_target
from web.unit_tree import subtree

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
login_manager = LoginManager()


class Account:
    """What Flask-Login keeps of a user for one request: the account and the token of
    its server-side session (the id in the session cookie)."""

    def __init__(self, user: User, token: str) -> None:
        self.user, self.token = user, token
        self.id, self.role, self.unit_id = user.id, user.role, user.unit_id
        self.display_name, self.language = user.display_name, user.language

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.token


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = ""
    app.register_blueprint(bp)

    @login_manager.user_loader
    def load(token: str) -> Account | None:
        user = user_sessions.load(db.session(), token)
        return Account(user, token) if user is not None else None

    @app.before_request
    def load_session_first() -> None:
        # A logged-in browser's session is looked up (and its last use stamped) before the
        # view writes anything, never half-way through the view's own transaction.
        if "_user_id" in cookie_session:
            current_user._get_current_object()


def start_session(user: User) -> None:
    """Log ``user`` in on this browser (in the caller's transaction)."""
    login_user(Account(user, user_sessions.start(db.session(), user.id)))


def set_password(user: User, password_hash: str) -> None:
    """A new password (``passwords.hash_password``): every session of the account ends,
    everywhere; if it is the person's own, this browser goes on in a new one."""
    user.password_hash = password_hash
    user_sessions.revoke_all(db.session(), user.id)
    if getattr(current_user, "is_authenticated", False) and current_user.id == user.id:
        start_session(user)


def create_user(
    username: str,
    password: str,
    display_name: str,
    role: str,
    unit_id: int | None = None,
    *,
    password_hash: str | None = None,
) -> User:
    """A new account; a password that ``web.passwords`` refuses raises
    ``passwords.WeakPassword`` (a ValueError). ``password_hash``, when given, must be
    ``passwords.hash_password`` of ``password`` made earlier: it is stored instead of hashing
    again (the test suite hashes its one fixture password once for its many accounts); the
    password is still checked against this account's name and words."""
    if role not in Role.ALL:
        raise ValueError(_("unknown role {role}").format(role=role))
    session = db.session()
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValueError(_("the account {name} exists already").format(name=username))
    of = passwords.owner(username, display_name, unit_id)
    reason = passwords.refusal(password, of)
    if reason is not None:
        raise passwords.WeakPassword(reason)
    user = User(
        username=username,
        password_hash=password_hash or passwords.hash_password(password, of),
        display_name=display_name,
        role=role,
        unit_id=unit_id,
    )
    session.add(user)
    session.flush()
    return user


def audit(
    action: str,
    target: str = "",
    *,
    office_id: int | None = None,
    unit_id: int | None = None,
    **detail: Any,
) -> None:
    """Append to the audit log (in the caller's transaction). ``office_id``/``unit_id``: the
    office or unit whose settings the action changed (``web.month_changes`` lists them in
    a box's checklist and minutes)."""
    user_id = current_user.id if getattr(current_user, "is_authenticated", False) else None
    address = request.remote_addr or "" if request else ""
    entry = AuditEntry(user_id=user_id, action=action, target=target, detail=detail,
                       address=address, office_id=office_id, unit_id=unit_id)  # fmt: skip
    db.session().add(entry)


def roles_required(*roles: str) -> Callable:
    """Only these roles (administrators always) may use the route."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        @login_required
        def checked(*args: Any, **kwargs: Any):
            if current_user.role != Role.ADMIN and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return checked

    return decorate


def units_in_scope() -> list[int] | None:
    """Ids of the units the current user may see: their unit and all below it.
    None: everything (an account without a unit, i.e. the whole tree)."""
    if current_user.unit_id is None:
        return None
    return subtree(db.session(), current_user.unit_id)


def require_unit(unit_id: int) -> None:
    scope = units_in_scope()
    if scope is not None and unit_id not in scope:
        abort(404)  # not 403: do not confirm that another commune's data exists


class LoginForm(FlaskForm):
    Meta = StorableInputMeta  # a NUL in a name is refused, never looked up
    username = StringField(validators=[DataRequired(), Length(max=80)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if not form.is_submitted():
        return render_template("login.html", form=form)
    if not form.validate():
        return render_template("login.html", form=form), 400
    session = db.session()
    username = form.username.data.strip()
    verdict = credentials.check(
        session, username, form.password.data, credentials.browser_client(username)
    )
    session.commit()
    if verdict.wait is not None:
        flash(credentials.wait_message(verdict.wait), "error")
        return _must_wait(render_template("login.html", form=form), verdict.wait.seconds())
    if verdict.user is None:
        flash(_("Wrong account name or password."), "error")
        return render_template("login.html", form=form), 401
    start_session(verdict.user)
    audit("login", username)
    session.commit()
    response = redirect(local_target(request.args.get("next")) or url_for("pages.index"))
    trusted_browsers.remember(response, username)
    return response


def _must_wait(page: str, seconds: int) -> Response:
    response = make_response(page, 429)
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.post("/logout")
@login_required
def logout():
    audit("logout", current_user.display_name)
    user_sessions.revoke(db.session(), current_user.token)
    db.session().commit()
    logout_user()
    return redirect(url_for("auth.login"))


class OwnPasswordForm(FlaskForm):
    Meta = StorableInputMeta
    current = PasswordField(validators=[DataRequired(), Length(max=200)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(validators=[DataRequired(), Length(max=200)])

    def validate_password(self, field) -> None:
        user = current_user.user
        reason = passwords.refusal(
            field.data, passwords.owner(user.username, user.display_name, user.unit_id)
        )
        if reason is not None:
            raise ValidationError(reason)

    def validate_confirm(self, field) -> None:
        if field.data != self.password.data:
            raise ValidationError(_("the two passwords differ"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def own_password():
    """One's own new password, with the current one: every other session ends."""
    form = OwnPasswordForm()
    if not form.is_submitted():
        return render_template("account_password.html", form=form)
    if not form.validate():
        return render_template("account_password.html", form=form), 400
    session, username = db.session(), current_user.user.username
    verdict = credentials.check(
        session, username, form.current.data, credentials.browser_client(username)
    )
    session.commit()
    if verdict.wait is not None:
        form.current.errors = [credentials.wait_message(verdict.wait)]
        page = render_template("account_password.html", form=form)
        return _must_wait(page, verdict.wait.seconds())
    if verdict.user is None:
        form.current.errors = [_("the current password is wrong")]
        return render_template("account_password.html", form=form), 400
    user = verdict.user
    of = passwords.owner(user.username, user.display_name, user.unit_id)
    set_password(user, passwords.hash_password(form.password.data, of))
    audit("password_changed", f"user {username}")  # never the password itself
    session.commit()
    flash(_("Your password is changed; your other sessions are logged out."))
    return redirect(url_for("pages.index"))
