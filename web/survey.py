"""The phone survey behind the clerk's QR code: a page for the citizen's phone.

Opened from the QR on the kiosk's screen (``/s/OFFICE/CLERK``) or on the printed ticket
(the same address with ``?t=RECEIPT``, the ticket's receipt code). The citizen rates the
clerk overall on the office's scale and on each detailed criterion, may leave a comment,
and gets the receipt code of the answer. Answers go into the office's sealed monthly box
(``web.survey_box``, in the server's database, in one transaction with the answer's
ticket claim and rate-limit row): nothing of them is shown before the opening.

Against stuffing: a ticket's QR takes one answer (the receipt code is claimed once,
within ``TICKET_DAYS`` of its vote, for the clerk who served); the screen's open QR takes
one answer per browser per clerk per day; every address is rate-limited. Each refused
attempt is recorded as a REFUSED record in the box, for the ceremony's checklist. No
personal data is asked for; addresses are kept only as keyed hashes, for rate limiting.

Small and plain on purpose: no scripts, no external fonts, large touch targets.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request
from flask import session as cookie
from PIL import Image
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from wtforms import RadioField, TextAreaField
from wtforms.validators import InputRequired, Length

from hom_phieu.clock import TIMEZONE
from hom_phieu.i18n import _
from hom_phieu.ledger.errors import BallotBoxError
from hom_phieu.ledger.events import RefusalReason
from hom_phieu.ledger.records import Level, normalise_receipt_code
from web import clock, db, survey_box
from web.ballot_channels import TICKET_DAYS, ticket_problem
from web.labels import LEVEL_LABELS
from web.manage.common import Form
from web.models import (
    Clerk,
    Counter,
    Office,
    SurveyAttempt,
    SurveyTicket,
)
from web.services import services
from web.survey_criteria import criteria_of
from web.throttle import address_key
from web.ticket_lookup import ticket_lookup

bp = Blueprint("survey", __name__, url_prefix="/s")
RATE_LIMIT = 10  # answers (and attempts) per address …
RATE_WINDOW = timedelta(hours=1)  # … in this window
MAX_COMMENT = 1000
PHOTO_PX = 160


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


class SurveyForm(Form):
    level = RadioField(validators=[InputRequired()])
    comment = TextAreaField(validators=[Length(max=MAX_COMMENT)])


def _form(office: Office, criteria: list[str], formdata: Any = None) -> SurveyForm:
    """The form with one radio group per criterion (fields ``c0``, ``c1``, …)."""
    filled = _form_class(len(criteria))
    form = filled(formdata=formdata) if formdata is not None else filled()
    form.level.choices = [(b.name, b.label) for b in office.scale]
    for number in range(len(criteria)):
        getattr(form, f"c{number}").choices = [(lv, _(LEVEL_LABELS[lv])) for lv in LEVEL_LABELS]
    return form


@lru_cache(maxsize=16)
def _form_class(criteria: int) -> type[SurveyForm]:
    """The form class for ``criteria`` criteria, made once (a class per request is slow)."""
    fields = {f"c{n}": RadioField(validators=[InputRequired()]) for n in range(criteria)}
    return type(f"SurveyForm{criteria}", (SurveyForm,), fields)


def _office_and_clerk(office_code: str, clerk_code: str) -> tuple[Office, Clerk]:
    session = db.session()
    office = session.scalar(select(Office).where(Office.code == office_code))
    clerk = office and session.scalar(
        select(Clerk).where(Clerk.office_id == office.id, Clerk.code == clerk_code)
    )
    if office is None or clerk is None or not clerk.active:
        abort(404)
    return office, clerk


# --- the page -----------------------------------------------------------------------------
@bp.route("/<office_code>/<clerk_code>", methods=["GET", "POST"])
def answer(office_code: str, clerk_code: str):
    office, clerk = _office_and_clerk(office_code, clerk_code)
    criteria = criteria_of(office)
    ticket = request.values.get("t", "")[:40]
    form = _form(office, criteria, request.form if request.method == "POST" else None)
    context = {"office": office, "clerk": clerk, "criteria": criteria, "ticket": ticket,
               "form": form, "counter": clerk_counter(clerk)}  # fmt: skip
    if request.method == "GET":
        refusal = _refusal(office, clerk, ticket)
        if refusal is not None:  # said at once, recorded only when an answer is sent
            return render_template("survey/refused.html", message=refusal[1], **context), refusal[2]
        return render_template("survey/answer.html", **context)
    attempt = _attempt_row(request.remote_addr or "")
    refusal = _refusal(office, clerk, ticket)
    if refusal is not None:
        reason, message, status = refusal
        try:
            survey_box.refuse(db.session(), office, services().state_cache, reason=reason,
                              clerk=clerk.code, bookkeeping=attempt)  # fmt: skip
        except BallotBoxError as exc:  # the refusal stands; the log keeps what the box could not
            current_app.logger.error("refused phone answer (%s) for office %s not recorded: %s",
                                     reason, office.code, exc)  # fmt: skip
        return render_template("survey/refused.html", message=message, **context), status
    if not form.validate():  # (still an attempt, against the address's limit)
        attempt(db.session())
        db.session().commit()
        return render_template("survey/answer.html", **context), 400
    button = next(b for b in office.scale if b.name == form.level.data)
    detail: dict[str, Any] = {
        "criteria": {text: getattr(form, f"c{n}").data for n, text in enumerate(criteria)},
        "source": "ticket" if ticket else "screen",
    }
    code = normalise_receipt_code(ticket) if ticket else None
    if code is not None:
        detail["ticket"] = code  # so the opening checks the ticket again, from the records
    comment = (form.comment.data or "").strip()
    if comment:
        detail["comment"] = comment

    def bookkeeping(session: Session) -> None:
        """The answer's rate-limit row and its ticket claim, committed with the answer."""
        attempt(session)
        if code is not None:
            if session.scalar(select(SurveyTicket.id).where(SurveyTicket.receipt == code)):
                raise TicketTaken
            session.add(SurveyTicket(receipt=code))

    try:  # durable, with its ticket claim, once this returns
        receipt = survey_box.cast(db.session(), office, services().state_cache,
                                  clerk=clerk.code, button=button.name,
                                  level=Level(button.level), detail=detail,
                                  bookkeeping=bookkeeping)  # fmt: skip
    except TicketTaken:  # another answer took the ticket first
        db.session().rollback()
        return render_template("survey/refused.html", message=_ticket_used(), **context), 409
    except BallotBoxError as exc:  # e.g. a full disk: nothing written, the ticket keeps it
        db.session().rollback()
        current_app.logger.error("phone answer not recorded for office %s: %s", office.code, exc)
        message = _("Your answer could not be recorded just now. Please try again later.")
        return render_template("survey/refused.html", message=message, **context), 503
    if not ticket:
        today = _today()  # only today's entries matter: older ones are dropped
        answered = {k: v for k, v in cookie.get("answered", {}).items() if v == today}
        answered[_clerk_key(office, clerk)] = today
        cookie["answered"] = answered
    return render_template("survey/thanks.html", receipt=receipt.code, **context)


class TicketTaken(Exception):
    """The ticket's one answer was taken by another request meanwhile."""


@bp.get("/<office_code>/<clerk_code>/photo")
def photo(office_code: str, clerk_code: str):
    """The clerk's photo, small (the page stays light on a slow phone)."""
    _office, clerk = _office_and_clerk(office_code, clerk_code)
    if not clerk.photo:
        abort(404)
    image = Image.open(io.BytesIO(clerk.photo)).convert("RGB")
    image.thumbnail((PHOTO_PX, PHOTO_PX))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=70)
    response = Response(buffer.getvalue(), mimetype="image/jpeg")
    response.headers["Cache-Control"] = "public, max-age=86400"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def clerk_counter(clerk: Clerk) -> str:
    counter = db.session().get(Counter, clerk.counter_id) if clerk.counter_id else None
    return counter.name if counter else ""


# --- the rules against stuffing ----------------------------------------------------------
def _refusal(office: Office, clerk: Clerk, ticket: str) -> tuple[RefusalReason, str, int] | None:
    """Why this answer may not be taken: (reason code, words, HTTP status), or None."""
    if not _within_rate(request.remote_addr or ""):
        message = _("Too many answers from this connection: please try again in an hour.")
        return RefusalReason.RATE_LIMIT, message, 429
    if ticket:
        refusal = _ticket_refusal(office, clerk, ticket)
        return None if refusal is None else (*refusal, 409)
    if cookie.get("answered", {}).get(_clerk_key(office, clerk)) == _today():
        message = _(
            "You have already rated this clerk today from this phone. Thank you! The QR "
            "code on your ticket takes one more detailed answer."
        )
        return RefusalReason.DAILY_LIMIT, message, 409
    return None


def _ticket_refusal(office: Office, clerk: Clerk, ticket: str) -> tuple[RefusalReason, str] | None:
    code = normalise_receipt_code(ticket)
    if code is None:
        return RefusalReason.TICKET_MALFORMED, _("This ticket code is not valid.")
    session = db.session()
    now_ms = int(clock.now().timestamp() * 1000)
    problem = ticket_problem(ticket_lookup(session, office.id)(code), clerk.code, now_ms)
    if problem is RefusalReason.TICKET_UNKNOWN:
        return problem, _(
            "This ticket has not reached the server yet. Please try again in a few minutes."
        )
    if problem is RefusalReason.WRONG_CLERK:
        return problem, _("This ticket was printed for another clerk.")
    if problem is not None:
        return problem, _(
            "This ticket is older than {days} days: its QR code no longer takes answers."
        ).format(days=TICKET_DAYS)
    if session.scalar(select(SurveyTicket.id).where(SurveyTicket.receipt == code)):
        return RefusalReason.TICKET_USED, _ticket_used()
    return None


def _ticket_used() -> str:
    return _("This ticket's detailed answer has been given already. Thank you!")


def _within_rate(address: str) -> bool:
    """False once the address is over the limit (this attempt not counted yet)."""
    session = db.session()
    recent = session.scalar(
        select(func.count())
        .select_from(SurveyAttempt)
        .where(
            SurveyAttempt.address == address_key(address),
            SurveyAttempt.at >= clock.now() - RATE_WINDOW,
        )
    )
    return recent < RATE_LIMIT


def _attempt_row(address: str) -> Callable[[Session], None]:
    """The attempt's rate-limit bookkeeping, written in the answer's (or refusal's)
    transaction: the row, and the deletion of rows past the window."""
    key, now = address_key(address), clock.now()

    def write(session: Session) -> None:
        session.execute(delete(SurveyAttempt).where(SurveyAttempt.at < now - RATE_WINDOW))
        session.add(SurveyAttempt(address=key, at=now))

    return write


def _clerk_key(office: Office, clerk: Clerk) -> str:
    return f"{office.id}:{clerk.code}"


def _today() -> str:
    return clock.now().astimezone(TIMEZONE).date().isoformat()


def close_survey_box(office: Office) -> None:
    """Close the office's phone-survey box when its month is over (before a count)."""
    survey_box.close_if_due(db.session(), office, services().state_cache)
