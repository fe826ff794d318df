"""Accounts: hashed passwords, throttled logins, CSRF on every form, roles and unit scope
checked on every route, and the append-only audit log of administrative actions."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import delete, func, select
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from hom_phieu.i18n import _
from web import clock, db
from web.models import AuditEntry, LoginAttempt, Role, Unit, User

MAX_FAILURES = 5  # per account or per address …
FAILURE_WINDOW = timedelta(minutes=15)  # … in this window, then logins wait
MIN_PASSWORD = 10

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
login_manager = LoginManager()


class Account:
    """What Flask-Login keeps of a user for one request."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.id, self.role, self.unit_id = user.id, user.role, user.unit_id
        self.display_name, self.language = user.display_name, user.language

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        # The password's hash is part of the session's id: a reset signs out every session.
        return f"{self.id}:{session_stamp(self.user)}"


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = ""
    app.register_blueprint(bp)

    @login_manager.user_loader
    def load(session_id: str) -> Account | None:
        user_id, _, stamp = session_id.partition(":")
        user = db.session().get(User, int(user_id)) if user_id.isdigit() else None
        if user is None or not user.active or stamp != session_stamp(user):
            return None
        return Account(user)


def session_stamp(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(
            _("a password needs at least {count} characters").format(count=MIN_PASSWORD)
        )
    return generate_password_hash(password)


def create_user(
    username: str,
    password: str,
    display_name: str,
    role: str,
    unit_id: int | None = None,
    *,
    password_hash: str | None = None,
) -> User:
    """A new account. ``password_hash``, when given, must be :func:`hash_password` of
    ``password`` made earlier: it is stored instead of hashing again (the test suite hashes
    its one fixture password once for its many accounts)."""
    if role not in Role.ALL:
        raise ValueError(_("unknown role {role}").format(role=role))
    session = db.session()
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValueError(_("the account {name} exists already").format(name=username))
    user = User(
        username=username,
        password_hash=password_hash or hash_password(password),
        display_name=display_name,
        role=role,
        unit_id=unit_id,
    )
    session.add(user)
    session.flush()
    return user


def audit(action: str, target: str = "", **detail: Any) -> None:
    """Append to the audit log (in the caller's transaction)."""
    user_id = current_user.id if getattr(current_user, "is_authenticated", False) else None
    address = request.remote_addr or "" if request else ""
    db.session().add(
        AuditEntry(user_id=user_id, action=action, target=target, detail=detail, address=address)
    )


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
    session = db.session()
    found, frontier = [current_user.unit_id], [current_user.unit_id]
    while frontier:
        frontier = list(session.scalars(select(Unit.id).where(Unit.parent_id.in_(frontier))))
        found += frontier
    return found


def require_unit(unit_id: int) -> None:
    scope = units_in_scope()
    if scope is not None and unit_id not in scope:
        abort(404)  # not 403: do not confirm that another commune's data exists


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired(), Length(max=80)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])


def _throttled(session, username: str, address: str) -> bool:
    since = clock.now() - FAILURE_WINDOW
    session.execute(delete(LoginAttempt).where(LoginAttempt.at < since - FAILURE_WINDOW))
    failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.at >= since,
            LoginAttempt.ok.is_(False),
            (LoginAttempt.username == username) | (LoginAttempt.address == address),
        )
    )
    return failures >= MAX_FAILURES


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        session = db.session()
        username, address = form.username.data.strip(), request.remote_addr or ""
        if _throttled(session, username, address):
            session.commit()
            flash(_("Too many failed logins: wait 15 minutes, then try again."), "error")
            return render_template("login.html", form=form), 429
        user = session.scalar(select(User).where(User.username == username))
        ok = bool(
            user and user.active and check_password_hash(user.password_hash, form.password.data)
        )
        session.add(LoginAttempt(username=username, address=address, ok=ok))
        if ok:
            login_user(Account(user))
            audit("login", username)
            session.commit()
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//")
                            else url_for("pages.index"))  # fmt: skip
        session.commit()
        flash(_("Wrong account name or password."), "error")
        return render_template("login.html", form=form), 401
    return render_template("login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    audit("logout", current_user.display_name)
    db.session().commit()
    logout_user()
    return redirect(url_for("auth.login"))
