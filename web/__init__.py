"""The admin server: a Flask application factory with one blueprint per job.

Never imports ``hardware/``: only the kiosk may own pins, screen and printer.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response

from hom_phieu import paths
from hom_phieu.clock import Clock


def create_app(overrides: dict[str, Any] | None = None, *, clock: Clock | None = None) -> Flask:
    """Build the admin server. ``overrides``: Flask settings (tests, the demo); ``clock``:
    the time the server reads (tests and rehearsals set it; the system clock otherwise)."""
    instance = paths.home() / "server"
    instance.mkdir(parents=True, exist_ok=True)
    # instance_path in the state folder: inside a venv it is read-only under systemd.
    app = Flask(__name__, instance_path=str(instance))
    app.config.update(
        DATABASE_URL=os.environ.get("HOM_PHIEU_DATABASE_URL")
        or f"sqlite:///{instance / 'hom-phieu.sqlite3'}",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=True,
        REMEMBER_COOKIE_SECURE=True,
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        ENROLLMENT_HOURS=48,
    )
    app.config.update(overrides or {})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ.get("HOM_PHIEU_SECRET_KEY") or _secret(instance)

    from hom_phieu.clock import SystemClock
    from web import api_v1, auth, ceremony, db, errors, i18n, manage, pages, public, survey
    from web.services import Services, install

    engine = db.make_engine(app.config["DATABASE_URL"])
    install(app, Services(clock or SystemClock(), engine, db.sessions_of(engine)))
    db.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)  # after the language is chosen: its pages speak it
    auth.init_app(app)
    pages.init_app(app)
    manage.init_app(app)
    api_v1.init_app(app)
    from web import api_results

    api_results.init_app(app)
    ceremony.init_app(app)
    public.init_app(app)
    survey.init_app(app)
    from web import reports

    reports.init_app(app)
    from web import my_results

    my_results.init_app(app)
    from web import ranking_pages

    ranking_pages.init_app(app)
    from web import report_trends

    app.register_blueprint(report_trends.bp)
    from web import box_bundle_page

    app.register_blueprint(box_bundle_page.bp)
    from web import key_ceremony

    key_ceremony.init_app(app)
    from web import fleet_pages

    fleet_pages.init_app(app)
    from web import enroll_batch

    enroll_batch.init_app(app)
    from web import alerts_page

    alerts_page.init_app(app)
    from web import forks_page

    forks_page.init_app(app)
    from web import alert_mail_page

    alert_mail_page.init_app(app)
    app.after_request(_not_framed)
    return app


def _not_framed(response: Response) -> Response:
    """No page of the server may be shown inside another site's frame: a one-button
    confirmation (revoke a device, open a box) is the classic target of a click-jacking."""
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    return response


def _secret(instance: Path) -> str:
    """The session-signing secret, made once, kept in the instance folder (0600)."""
    path = instance / "secret-key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
