"""The device API, version 1 (``/api/v1/…``): enrollment, records, health, configuration.

The contract is ``docs/sync-protocol.md``; its documents are the models of
:mod:`hom_phieu.protocol.models`. Every request but enrollment is signed with the
device's key (headers ``X-HomPhieu-Device`` and ``X-HomPhieu-Signature`` over the method,
the path and the SHA-256 of the body); acknowledgements and configurations are signed
with the server's key, which the kiosk pinned when it enrolled. Every error is a JSON
``{"error": code, "message": words}`` with a 4xx status, and stores nothing (an
equivocation's evidence and alert excepted: keeping them is the point). Nothing here
answers, or logs, counts by level or by clerk of a sealed box; the configuration carries
the office totals of the latest box its committee has opened (for the results slip).

This module is the blueprint: routes, errors, language. The jobs are
``api_v1_enroll`` (enrollment), ``api_v1_records`` (pushes), ``api_v1_config`` (health
and configuration) and ``api_v1_requests`` (reading and authenticating a request).
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from hom_phieu.i18n import LANGUAGES, _, set_request_language
from hom_phieu.protocol.models import ErrorAnswer, ErrorCode
from web import db
from web.api_v1_config import config, health
from web.api_v1_enroll import enroll
from web.api_v1_records import push
from web.api_v1_requests import MAX_PUSH_BYTES, too_large
from web.auth import csrf
from web.ingest import Refusal

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

ENDPOINTS = {"enroll": ("POST",), "records": ("POST",), "health": ("POST",), "config": ("GET",)}
bp.add_url_rule("/enroll", view_func=enroll, methods=["POST"])
bp.add_url_rule("/records", view_func=push, methods=["POST"])
bp.add_url_rule("/health", view_func=health, methods=["POST"])
bp.add_url_rule("/config", view_func=config, methods=["GET"])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    csrf.exempt(bp)  # devices sign their requests; there is no browser session to forge


# --- errors and language -------------------------------------------------------------------
HTTP_ERRORS = {
    400: ErrorCode.MALFORMED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.TOO_LARGE,
}


@bp.errorhandler(Refusal)
def refused(exc: Refusal) -> tuple[Response, int]:
    db.session().rollback()
    answer = ErrorAnswer(
        error=exc.error,
        message=exc.message,
        resume_from=exc.extra.get("resume_from"),
        seq=exc.extra.get("seq"),
        fault=exc.extra.get("fault"),
    )
    return jsonify(answer.to_json()), exc.status


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> tuple[Response, int]:
    code = exc.code or 500
    if code == 413:
        return refused(too_large(request.max_content_length or MAX_PUSH_BYTES))
    error = HTTP_ERRORS.get(code, f"http-{code}")
    return jsonify(ErrorAnswer(error, exc.description or "").to_json()), code


@bp.before_request
def language() -> None:
    """Devices say which language their staff read (``Accept-Language``)."""
    wanted = request.accept_languages.best_match(LANGUAGES)
    if wanted:
        set_request_language(wanted)


@bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> Response:
    """JSON, not an HTML page, for paths and methods the API does not have."""
    allowed = ENDPOINTS.get(rest)
    if allowed:
        raise Refusal(
            405,
            ErrorCode.METHOD_NOT_ALLOWED,
            _("use {methods} for this path").format(methods=", ".join(allowed)),
        )
    raise Refusal(
        404, ErrorCode.NOT_FOUND, _("there is no such API path: see docs/sync-protocol.md")
    )
