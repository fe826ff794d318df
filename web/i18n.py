"""The admin pages in Vietnamese first, English second: one language per request."""

from __future__ import annotations

from flask import Flask, request
from flask_login import current_user

from hom_phieu import formatting
from hom_phieu.i18n import LANGUAGES, _, current_language, ngettext, set_request_language
from web.labels import TEMPLATE_LABELS

LANGUAGE_COOKIE = "lang"


def init_app(app: Flask) -> None:
    @app.before_request
    def choose_language() -> None:
        wanted = request.args.get("lang") or request.cookies.get(LANGUAGE_COOKIE)
        if wanted not in LANGUAGES and getattr(current_user, "is_authenticated", False):
            wanted = current_user.language
        set_request_language(wanted if wanted in LANGUAGES else "vi")

    @app.teardown_request
    def forget_language(_exc: BaseException | None) -> None:
        set_request_language(None)  # a worker thread's next request starts afresh

    @app.after_request
    def remember_language(response):
        if request.args.get("lang") in LANGUAGES:
            response.set_cookie(
                LANGUAGE_COOKIE, request.args["lang"], max_age=365 * 86400, samesite="Lax",
                secure=app.config["SESSION_COOKIE_SECURE"], httponly=True,
            )  # fmt: skip
        return response

    app.jinja_env.globals.update(_=_, ngettext=ngettext, current_language=current_language)
    app.jinja_env.globals.update(TEMPLATE_LABELS)  # one label function per kind of code
    app.jinja_env.filters["date_time"] = formatting.date_time
    app.jinja_env.filters["day"] = formatting.date
    app.jinja_env.filters["moment"] = formatting.stored_time
    app.jinja_env.filters["percent"] = formatting.percent
