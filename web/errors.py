"""What the server answers when a request cannot be served, so that no input reaches a 500.

Three faults are answered here for every route: a URL (path or query) holding a character
that cannot be stored (NUL, a lone surrogate: ``hom_phieu.protocol.fields.unstorable``)
is a ``400`` before any view looks it up in the database; an id in the path past the
database's integers is a ``404`` (no route matches it); a database that cannot write
(a full disk, an I/O error, a database that went away) is a ``503`` with the reason,
never a stack trace. The device API answers both as JSON error answers
(``docs/sync-protocol.md``), every other route with a page. Form fields are checked by
the forms themselves (``web/form_input.py``), next to the field.

Every other HTTP error (400, 403, 404, 405, 409, 413, 429, 500…) that no blueprint answers
itself (the two APIs do, in JSON) is a page of the product in the reader's language, never
the framework's English one, with a way back: citizens' addresses (``/public``, ``/s``)
lead to the public pages, the staff's to the front page.
"""

from __future__ import annotations

import contextlib
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound
from werkzeug.routing import IntegerConverter, Map

from hom_phieu.i18n import _
from hom_phieu.protocol.fields import unstorable
from hom_phieu.protocol.models import ErrorAnswer, ErrorCode
from web import db
from web.form_input import DATABASE_INT

RETRY_AFTER_S = 60
# PostgreSQL's SQLSTATE class 53, "insufficient resources" (53100: disk_full); SQLite says so.
DISK_FULL_SQLSTATE = "53"
DISK_FULL_WORDS = ("disk is full", "no space left")


class DatabaseIdConverter(IntegerConverter):
    """``<int:…>`` in every route: a number past the database's integers names nothing
    (404), rather than failing the query that would look it up."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", DATABASE_INT)
        super().__init__(url_map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Before any blueprint adds its routes (their ``<int:…>`` take the converter then)."""
    app.url_map.converters["int"] = DatabaseIdConverter
    app.before_request(refuse_unstorable_url)
    app.register_error_handler(OperationalError, database_unavailable)
    app.register_error_handler(NotFound, not_found)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(InternalServerError, internal_error)


def not_found(exc: NotFound) -> NotFound | tuple[Response | str, int]:
    """An API path no rule matches (the API's own catch-all takes no line breaks) is a
    JSON error answer too; any other is the usual page."""
    if request.path.startswith("/api/"):
        return _answer(
            404, ErrorCode.NOT_FOUND, _("there is no such API path: see docs/sync-protocol.md")
        )
    return http_error(exc)


CITIZEN_PREFIXES = ("/public", "/s/")  # the pages a citizen opens (no account)


def http_error(exc: HTTPException) -> HTTPException | tuple[Response | str, int]:
    """The product's page (the API's JSON answer) for an HTTP error no blueprint answered."""
    status = exc.code or 500
    if status < 400:
        return exc  # (a redirect the router asks for, e.g. a missing trailing slash)
    if request.path.startswith("/api/"):
        return _answer(status, _api_code(status), _reason(exc))
    headers = {k: v for k, v in exc.get_headers() if k in ("Retry-After", "Allow")}
    return _page(status, _reason(exc)), status, headers


def internal_error(exc: InternalServerError) -> tuple[Response | str, int]:
    """500: an unexpected fault, logged by Flask; the reader gets the product's page."""
    with contextlib.suppress(SQLAlchemyError):
        db.session().rollback()
    return http_error(exc)


def _api_code(status: int) -> ErrorCode:
    codes = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED,
             413: ErrorCode.TOO_LARGE, 429: ErrorCode.THROTTLED}  # fmt: skip
    return codes.get(status, ErrorCode.MALFORMED if status < 500 else ErrorCode.UNAVAILABLE)


def _title(status: int) -> str:
    titles = {
        400: _("The request is not valid"),
        403: _("You may not open this page"),
        404: _("This page does not exist"),
        405: _("This address is not opened this way"),
        409: _("The page has changed in the meantime"),
        413: _("What was sent is too large"),
        429: _("Too many attempts"),
    }
    return titles.get(status, _("The request could not be served"))


def _reason(exc: HTTPException) -> str:
    """What the reader can do; never the framework's English description."""
    status = exc.code or 500
    if isinstance(exc, CSRFError):
        return _(
            "The form had expired or was sent from elsewhere: open the page again and resend it."
        )
    reasons = {
        400: _("The address or the form holds something the server cannot read."),
        403: _(
            "Your account's role does not open this page; ask the administrator if you need it."
        ),
        404: _("The address may be mistyped, or what it named was removed or is not in your area."),
        405: _("This address is used by a button of a page, not opened directly."),
        409: _("Someone else changed it first: open the page again to see where it stands."),
        413: _("Send a smaller file or fewer data at once."),
        429: _("Wait a few minutes, then try again."),
    }
    return reasons.get(
        status, _("The server met an unexpected fault; it has been logged. Try again later.")
    )


def refuse_unstorable_url() -> tuple[Response | str, int] | None:
    """400 for a path or query that holds a character no database can hold."""
    for value in (request.path, *request.args.keys(), *request.args.values()):
        character = unstorable(value)
        if character is not None:
            reason = _("the address contains a character that cannot be stored ({character})")
            return _answer(400, ErrorCode.MALFORMED, reason.format(character=character))
    return None


def database_unavailable(exc: OperationalError) -> tuple[Response | str, int, dict[str, str]]:
    """503: the database cannot store anything now; nothing of this request was kept."""
    with contextlib.suppress(SQLAlchemyError):
        db.session().rollback()
    if disk_full(exc):
        reason = _("the server's disk is full: nothing can be stored until space is freed")
    else:
        reason = _("the server's database is not available (unreachable or failing)")
    current_app.logger.error("database unavailable (503): %s", str(exc.orig).strip()[:300])
    body, status = _answer(503, ErrorCode.UNAVAILABLE, reason)
    return body, status, {"Retry-After": str(RETRY_AFTER_S)}


def disk_full(exc: OperationalError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    words = str(exc.orig).lower()
    return sqlstate.startswith(DISK_FULL_SQLSTATE) or any(w in words for w in DISK_FULL_WORDS)


def _answer(status: int, error: ErrorCode, reason: str) -> tuple[Response | str, int]:
    if request.path.startswith("/api/"):
        return jsonify(ErrorAnswer(error, reason).to_json()), status
    return _page(status, reason), status


def _page(status: int, reason: str) -> str:
    """The product's error page, its way back chosen by who asked (a citizen or staff)."""
    return render_template(
        "error.html", status=status, title=_title(status), reason=reason,
        citizen=request.path.startswith(CITIZEN_PREFIXES),
    )  # fmt: skip
