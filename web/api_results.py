"""The results read API, version 1 (``/api/results/v1/…``): read-only JSON of opened
results for province systems (a provincial dashboard), described in
``docs/results-api.openapi.yaml`` and ``docs/results-api.md``.

Every request carries ``Authorization: Bearer <token>``, a read token an administrator
issued for one unit (``web.manage.tokens``, ``web.api_results_auth``); it reads that unit
and everything below it, and an office or unit elsewhere is "not found", exactly as one
that does not exist. No session, no cookie (no answer sets one), so no CSRF; no CORS.
Every refusal is JSON ``{"error", "message" (Vietnamese), "message_en"}`` with a 4xx
status: 400 names the parameter at fault, never a 500. The figures are the opened results
only (:mod:`web.api_results_answers`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import NoReturn

from flask import Blueprint, Flask, Response, current_app, g, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

from hom_phieu.i18n import _, language
from web import api_results_answers as answers
from web import db
from web.api_results_auth import Reader, TokenRefused, authenticate
from web.api_results_models import ApiError
from web.auth import csrf
from web.minutes_json import Json
from web.models import Office, Unit
from web.report_period import Period, PeriodError, PeriodKind
from web.report_query import Channels

PREFIX = "/api/results/v1"
bp = Blueprint("api_results", __name__, url_prefix=PREFIX)
PERIOD_PARAMETERS = frozenset({"period", "month", "year", "quarter", "from", "to"})
REPORT_PARAMETERS = PERIOD_PARAMETERS | {"channels"}
NEEDED = {"month": ("month",), "quarter": ("year", "quarter"), "year": ("year",),
          "range": ("from", "to")}  # fmt: skip
REALM = 'Bearer realm="hom-phieu results"'


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    csrf.exempt(bp)  # no session: a token in a header, which no other site can make send


class ApiResponse(Response):
    """The API's answers: never a cookie (the site's language and session cookies are for
    browsers; a province system holds no session here)."""

    def set_cookie(self, *args: object, **kwargs: object) -> None:
        return None


class Refused(Exception):
    def __init__(self, status: int, error: ApiError) -> None:
        super().__init__(error.message_en)
        self.status, self.error = status, error


def both(make: Callable[[], str]) -> tuple[str, str]:
    """A message in Vietnamese and in English (``make`` translates it with ``_``)."""
    with language("vi"):
        vietnamese = make()
    with language("en"):
        english = make()
    return vietnamese, english


def refuse(status: int, code: str, make: Callable[[], str]) -> NoReturn:
    raise Refused(status, ApiError(code, *both(make)))


def answer(document: Json, status: int = 200) -> ApiResponse:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    response = ApiResponse(body, status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.errorhandler(Refused)
def refused(exc: Refused) -> ApiResponse:
    db.session().rollback()
    response = answer(exc.error.to_json(), exc.status)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = REALM + ', error="invalid_token"'
    if exc.status == 405:
        response.headers["Allow"] = "GET, HEAD"
    return response


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> ApiResponse:
    code = exc.code or 500
    error = {400: "malformed", 404: "not-found", 405: "method-not-allowed"}.get(code, "http")
    return refused(Refused(code, ApiError(error, exc.description or "", exc.description or "")))


# --- who reads ----------------------------------------------------------------------------
REFUSALS = {
    "missing": lambda: _("A read token is needed: send the header Authorization: Bearer <token>."),
    "malformed": lambda: _("The header Authorization must be: Bearer <token>."),
    "unknown": lambda: _("This read token is not valid."),
    "revoked": lambda: _("This read token has been revoked: ask an administrator for a new one."),
}


@bp.before_request
def who_reads() -> None:
    """Every path of the API (unknown ones too) needs a valid token first."""
    try:
        g.results_reader = authenticate(db.session(), request.headers.get("Authorization"))
    except TokenRefused as refusal:
        refuse(401, "unauthenticated", REFUSALS[refusal.reason])


def reader() -> Reader:
    found: Reader = g.results_reader
    return found


def office_of(office_id: int) -> Office:
    """The reader's office, or 404 (whether it exists elsewhere is not said)."""
    office = db.session().get(Office, office_id)
    if office is None or office.unit_id not in reader().units:
        refuse(404, "not-found", lambda: _("There is no such office here."))
    return office


def unit_of(unit_id: int) -> Unit:
    unit = db.session().get(Unit, unit_id)
    if unit is None or unit.id not in reader().units:
        refuse(404, "not-found", lambda: _("There is no such unit here."))
    return unit


# --- parameters ---------------------------------------------------------------------------
def checked(args: MultiDict[str, str], allowed: frozenset[str]) -> dict[str, str]:
    """The query's parameters, each once, none unknown."""
    unknown = [name[:40] for name in args if name not in allowed]
    if unknown:
        refuse(
            400, "bad-parameter", lambda: _("Unknown parameter: {name}.").format(name=unknown[0])
        )
    repeated = [name for name in args if len(args.getlist(name)) > 1]
    if repeated:
        refuse(400, "bad-parameter", lambda: _(
            "The parameter {name} is given more than once.").format(name=repeated[0]))  # fmt: skip
    return {name: args[name] for name in args}


def period_of(args: dict[str, str]) -> Period:
    """``from``/``to`` (a range of months), or ``period=month|quarter|year|range`` with its
    fields, as the report pages read them."""
    if "period" not in args:
        if "from" not in args and "to" not in args:
            refuse(400, "bad-parameter", lambda: _(
                "Name the period: from=YYYY-MM&to=YYYY-MM, or period=month, quarter, year "
                "or range with its fields."))  # fmt: skip
        args = {**args, "period": PeriodKind.RANGE.value}
    missing = [name for name in NEEDED.get(args["period"], ()) if not args.get(name)]
    if missing:
        refuse(400, "bad-parameter",
               lambda: _("The parameter {name} is missing.").format(name=missing[0]))  # fmt: skip

    def parsed() -> Period:
        return Period.parse(args, Period.month("2000-01"))

    try:
        return parsed()
    except PeriodError:
        refuse(400, "bad-parameter", lambda: _period_error(parsed))
    except ValueError:  # a digit int() does not read ("²"): not a number either
        refuse(400, "bad-parameter", lambda: _("The period is not valid."))


def _period_error(parse: Callable[[], Period]) -> str:
    try:
        parse()
    except PeriodError as error:
        return str(error)
    return ""


def channels_of(args: dict[str, str]) -> Channels:
    text = args.get("channels", Channels.OFFICIAL.value)
    try:
        return Channels(text)
    except ValueError:
        choices = ", ".join(channel.value for channel in Channels)
        refuse(400, "bad-parameter", lambda: _("channels must be one of: {choices}.").format(
            choices=choices))  # fmt: skip


def report_args() -> tuple[Period, Channels]:
    args = checked(request.args, REPORT_PARAMETERS)
    return period_of(args), channels_of(args)


# --- routes -------------------------------------------------------------------------------
@bp.get("/offices")
def offices() -> ApiResponse:
    checked(request.args, frozenset())
    return answer(answers.offices(db.session(), reader()).to_json())


@bp.get("/offices/<int:office_id>/months")
def months(office_id: int) -> ApiResponse:
    office = office_of(office_id)
    period, channels = report_args()
    found = answers.months(db.session(), reader(), office, period, channels)
    return answer(found.to_json())


@bp.get("/offices/<int:office_id>/clerks")
def clerks(office_id: int) -> ApiResponse:
    office = office_of(office_id)
    period, channels = report_args()
    found = answers.clerks(db.session(), reader(), office, period, channels)
    return answer(found.to_json())


@bp.get("/units/<int:unit_id>/summary")
def summary(unit_id: int) -> ApiResponse:
    unit = unit_of(unit_id)
    period, channels = report_args()
    return answer(answers.summary(db.session(), unit, period, channels).to_json())


@bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str) -> NoReturn:
    """JSON for paths the API does not have, and 405 for a method a path does not take."""
    adapter = current_app.url_map.bind("localhost")
    try:
        endpoint, _arguments = adapter.match(request.path, method="GET")
    except HTTPException:  # no route (or a redirect to one): not a path of the API
        endpoint = ""
    if endpoint and endpoint != "api_results.unknown":
        refuse(405, "method-not-allowed",
               lambda: _("Only GET is allowed: the results API is read-only."))  # fmt: skip
    refuse(404, "not-found", lambda: _(
        "There is no such path in the results API: see docs/results-api.md."))  # fmt: skip
