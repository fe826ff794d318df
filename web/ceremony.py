"""The opening ceremony's pages: an office's box of a month, from sealed to opened.

The secretary of the office's committee starts the ceremony (on or after the month's
last working day, or earlier with a recorded reason); members confirm one after another
on the same screen with their own password and their own confirmation code (which they set
on this screen, before the committee: ``web.ceremony_codes``, ``web.committee_codes``);
once the quorum is met the secretary
opens the box: every chain is verified, the ballots counted, the minutes written and the
box frozen. Until then only "N ballots from M devices, last sync at …" is shown.
"""

from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from hom_phieu import formatting
from hom_phieu.i18n import _
from hom_phieu.ledger.key_shares import ShareError
from web import clock, committee_codes, credentials, db, minutes_render, minutes_text
from web.auth import audit, roles_required
from web.box_count import LEVELS
from web.ceremony_calendar import box_label, parse_box, today
from web.ceremony_seal import (
    box_seal,
    escrow_ballots,
    opened_detail,
    publish_opened,
    seal_keys,
    unseal_typed,
)
from web.checklist import needs_reason
from web.committee_changes import lock_office
from web.committee_codes import MAX_CODE
from web.labels import CHANNEL_LABELS, STATUS_LABELS, label, place_and_date
from web.manage.common import Form
from web.minutes import Minutes
from web.minutes_document import minutes_document
from web.minutes_seal import seal_lines
from web.models import (
    CommitteeMember,
    CommitteeRole,
    Confirmation,
    Office,
    Opening,
    Role,
    User,
)
from web.opening import (
    OpeningRefused,
    open_box,
    opening_due,
    quorum_of,
    sealed_summary,
    verification,
)
from web.pages import office_or_404
from web.survey import close_survey_box

bp = Blueprint("ceremony", __name__)
# Who may follow a ceremony and read opened results (the secretary acts; see below).
READERS = (Role.COMMITTEE, Role.VIEWER, Role.TECHNICIAN, Role.CLERK)
RESULT_READERS = (Role.ADMIN, Role.COMMITTEE, Role.VIEWER)


def init_app(app: Flask) -> None:
    from web import ceremony_codes, ceremony_review  # (their routes use this module's pages)

    app.register_blueprint(bp)
    app.register_blueprint(ceremony_codes.bp)
    app.register_blueprint(ceremony_review.bp)
    app.jinja_env.filters["percent_of"] = formatting.percent
    app.jinja_env.filters["minutes_time"] = minutes_time
    app.jinja_env.globals.update(
        levels=LEVELS,
        seal_lines=seal_lines,
        severity_label=lambda key: label(STATUS_LABELS, key),
        channel_label=lambda key: label(CHANNEL_LABELS, key),
        minutes_place_and_date=minutes_place_and_date,
        minutes_month=minutes_text.month,
        unverified_note=minutes_text.unverified_note,
        minutes_document=minutes_document,  # the printable minutes: the PDF's blocks
        chair_of=lambda attendees: minutes_text.name_of(minutes_text.chair(attendees)),
        secretary_of=lambda attendees: minutes_text.name_of(minutes_text.secretary(attendees)),
    )


def minutes_time(moment: datetime) -> str:
    """A time of the minutes as the pages show times (``30/11/2026 16:05:12``)."""
    return formatting.date_time_iso(moment.isoformat())


def minutes_place_and_date(minutes: Minutes) -> str:
    """The place-and-date line of the minutes' header."""
    return place_and_date(minutes.place, minutes.opened_at.isoformat())


class StartForm(Form):
    early_reason = TextAreaField(validators=[Optional(), Length(max=2000)])


class ConfirmForm(Form):
    username = StringField(validators=[DataRequired(), Length(max=80)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])
    code = PasswordField(validators=[DataRequired(), Length(max=MAX_CODE)])


class CodeForm(Form):
    """A member sets a confirmation code before the committee (``web.ceremony_codes``)."""

    username = StringField(validators=[DataRequired(), Length(max=80)])
    password = PasswordField(validators=[DataRequired(), Length(max=200)])
    code = PasswordField(validators=[DataRequired(), Length(max=MAX_CODE)])
    code_again = PasswordField(validators=[DataRequired(), Length(max=MAX_CODE)])
    previous_code = PasswordField(validators=[Optional(), Length(max=MAX_CODE)])
    countersigner = StringField(validators=[Optional(), Length(max=80)])
    countersigner_code = PasswordField(validators=[Optional(), Length(max=MAX_CODE)])


class OpenForm(Form):
    """The figures of the opening (checked by ``web.ceremony_review``, typed as people write
    numbers), then the shares on the review's own form."""

    dossiers_returned = StringField(
        validators=[Optional(), Length(max=20)], render_kw={"inputmode": "numeric"}
    )
    warnings_reason = TextAreaField(validators=[Optional(), Length(max=2000)])
    review_token = HiddenField(validators=[Optional(), Length(max=4000)])


def _box_or_404(box: str) -> str:
    try:
        parse_box(box)
    except ValueError:
        abort(404)
    return box


def _opening(office_id: int, box: str) -> Opening | None:
    return db.session().scalar(
        select(Opening).where(Opening.office_id == office_id, Opening.box == box)
    )


def _secretary_of(office_id: int) -> bool:
    """Only the office committee's secretary runs the ceremony's screen."""
    member = _membership(office_id, current_user.id)
    return member is not None and member.committee_role == CommitteeRole.SECRETARY


def _require_secretary(office_id: int) -> None:
    if not _secretary_of(office_id):
        abort(403)


def _ceremony_under_way(office_id: int, box: str) -> tuple[Office, Opening]:
    """The office and its started (not yet opened) ceremony, for the secretary only."""
    office = office_or_404(office_id)
    _require_secretary(office.id)
    opening = _opening(office.id, _box_or_404(box))
    if opening is None or opening.status != Opening.STARTED:
        abort(409)
    return office, opening


def _page(office_id: int, box: str):
    return redirect(url_for("ceremony.box_page", office_id=office_id, box=box))


@bp.get("/offices/<int:office_id>/boxes/<box>")
@roles_required(*READERS)
def box_page(
    office_id: int,
    box: str,
    forms: dict | None = None,
    status: int = 200,
    share_error: str | None = None,
    review=None,
):
    office = office_or_404(office_id)
    box = _box_or_404(box)
    session = db.session()
    opening = _opening(office.id, box)
    forms = forms or {}
    context = {
        "office": office,
        "box": box,
        "box_label": box_label(box),
        "opening": opening,
        "summary": sealed_summary(session, office.id, box),
        "secretary": _secretary_of(office.id),
        "due": opening_due(session, box, office),
    }
    if opening is not None and opening.status == Opening.OPENED:
        if current_user.role not in RESULT_READERS:
            return render_template("ceremony/box.html", **context), status
        minutes = _minutes(opening)
        return render_template("ceremony/box.html", minutes=minutes, **context), status
    if opening is not None:
        context["quorum"] = quorum_of(session, opening)
        context["confirm_form"] = forms.get("confirm") or ConfirmForm(formdata=None)
        context["open_form"] = forms.get("open") or OpenForm(formdata=None)
        context["code_form"] = forms.get("code") or CodeForm(formdata=None)
        context["seal"] = box_seal(session, office, box)
        context["share_error"] = share_error
        context["review"] = review  # (web.ceremony_review: the summary before the opening)
        # Verifying reads every record of the office: the secretary's screen asks for it.
        if review is not None:  # (its verification, read once)
            context["checks"] = list(review.checks)
            if review.named_keys is not None:
                context["named_keys"] = review.named_keys
        elif context["secretary"] and (request.args.get("verify") or "open" in forms):
            seal = seal_keys(session, opening, preview=True)  # (reads the records' keys once)
            checks = verification(session, opening, seal=seal)[1]
            context["checks"], context["needs_reason"] = checks, needs_reason(checks)
            if seal.named is not None:  # each device's key, to compare with its zero report
                context["named_keys"] = seal.named
    else:
        context["start_form"] = forms.get("start") or StartForm(formdata=None)
        context["early"] = today(clock.now()) < context["due"]
    return render_template("ceremony/box.html", **context), status


@bp.post("/offices/<int:office_id>/boxes/<box>/start")
@roles_required(Role.COMMITTEE)
def start(office_id: int, box: str):
    office = office_or_404(office_id)
    box = _box_or_404(box)
    _require_secretary(office.id)
    form = StartForm()
    if not form.validate():
        return box_page(office_id, box, forms={"start": form}, status=400)
    session = db.session()
    lock_office(session, office.id)  # (no committee change half-way through a start)
    now = clock.now()
    first_day = parse_box(box)
    if (today(now).year, today(now).month) < first_day:
        form.early_reason.errors.append(_("this month has not begun: its box cannot be opened"))
        return box_page(office_id, box, forms={"start": form}, status=400)
    reason = (form.early_reason.data or "").strip()
    if today(now) < opening_due(session, box, office) and not reason:
        form.early_reason.errors.append(
            _(
                "the box is due to be opened on {day}: give the reason for opening it earlier"
            ).format(day=opening_due(session, box, office).strftime("%d/%m/%Y"))
        )
        return box_page(office_id, box, forms={"start": form}, status=400)
    session.add(
        Opening(
            office_id=office.id,
            box=box,
            started_by=current_user.id,
            started_at=now,
            early_reason=reason,
        )
    )
    audit("ceremony_started", f"office {office.code} box {box}", early_reason=reason)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # started by someone else a moment ago: show it
    return _page(office.id, box)


@bp.post("/offices/<int:office_id>/boxes/<box>/confirm")
@roles_required(Role.COMMITTEE)
def confirm(office_id: int, box: str):
    """A member confirms with their own account name, password and confirmation code,
    typed on the secretary's screen. Wrong passwords and codes count towards the login
    throttle."""
    office, opening = _ceremony_under_way(office_id, box)
    session = db.session()
    form = ConfirmForm()
    if not form.validate():
        return box_page(office_id, box, forms={"confirm": form}, status=400)
    username = form.username.data.strip()
    refusal, status = None, 400
    # This logged-in screen is a throttle channel of its own: a stranger's wrong passwords
    # elsewhere never slow a member confirming here (web.login_throttle).
    verdict = credentials.check(
        session, username, form.password.data, credentials.colleague_client(current_user.id)
    )
    if verdict.wait is not None:
        refusal, status = credentials.wait_message(verdict.wait), 429
    elif verdict.user is None:
        refusal, status = _("Wrong account name or password."), 401
    else:
        user = verdict.user
        refusal = _confirmation_refusal(opening, user)
        if refusal is None:  # the part an administrator who reset the password lacks
            screen = credentials.colleague_client(current_user.id)
            refusal, status = committee_codes.typed_refusal(
                session, office.id, user, form.code.data, screen
            )
    if refusal is not None:
        audit(
            "ceremony_confirmation_refused",
            f"office {office.code} box {box}",
            username=username,
            reason=refusal,
        )
        session.commit()
        form.username.errors.append(refusal)
        return box_page(office_id, box, forms={"confirm": form}, status=status)
    member = _membership(office.id, user.id)
    session.add(
        Confirmation(opening_id=opening.id, user_id=user.id, committee_role=member.committee_role)
    )
    audit(
        "ceremony_confirmed",
        f"office {office.code} box {box}",
        username=username,
        committee_role=member.committee_role,
    )
    session.commit()
    flash(_("{name} has confirmed.").format(name=user.display_name))
    return _page(office.id, box)


def _membership(office_id: int, user_id: int) -> CommitteeMember | None:
    return db.session().scalar(
        select(CommitteeMember).where(
            CommitteeMember.office_id == office_id, CommitteeMember.user_id == user_id
        )
    )


def _confirmation_refusal(opening: Opening, user: User) -> str | None:
    if _membership(opening.office_id, user.id) is None:
        elsewhere = db.session().scalar(
            select(CommitteeMember.id).where(CommitteeMember.user_id == user.id)
        )
        if elsewhere is not None:
            return _("{name} is on the committee of another office, not of this one").format(
                name=user.display_name
            )
        return _("{name} is not a member of this office's committee").format(name=user.display_name)
    if any(c.user_id == user.id for c in opening.confirmations):
        return _("{name} has confirmed already").format(name=user.display_name)
    return None


@bp.post("/offices/<int:office_id>/boxes/<box>/open")
@roles_required(Role.COMMITTEE)
def open_(office_id: int, box: str):
    office, opening = _ceremony_under_way(office_id, box)
    session = db.session()
    from web.ceremony_review import parse_dossiers, review_again, reviewed_as  # (imports this)

    form = OpenForm()
    try:
        dossiers = parse_dossiers(form.dossiers_returned.data) if form.validate() else None
    except ValueError as error:
        form.dossiers_returned.errors = [str(error)]
    if form.errors:
        return box_page(office_id, box, forms={"open": form}, status=400)
    # The shares typed on this screen: read from this request only, never stored or shown.
    try:
        unsealed = unseal_typed(session, office, box, request.form)
    except ShareError as error:
        session.rollback()
        audit("box_open_refused", f"office {office.code} box {box}", reason="shares")
        session.commit()  # (the message names the field, never the words typed)
        return review_again(office, box, opening, form, dossiers, share_error=str(error))
    close_survey_box(office)  # a month over: its phone answers' box is sealed now
    try:
        count = open_box(
            session,
            opening,
            current_user.id,
            warnings_reason=form.warnings_reason.data or "",
            dossiers_returned=dossiers,
            keys=unsealed.keys,
            seal=unsealed.seal,
        )[0]
        escrow_needed = escrow_ballots(session, office, count, unsealed)
        if escrow_needed:
            raise OpeningRefused(escrow_needed)
        reason = (form.warnings_reason.data or "").strip()
        if not reviewed_as(form.review_token.data, opening.id, dossiers, reason):
            raise OpeningRefused(
                _(
                    "these figures are not the ones of the summary the committee read: "
                    "read the summary again before opening"
                )
            )
    except OpeningRefused as refused:
        session.rollback()
        form.warnings_reason.errors.append(str(refused))
        return review_again(office, box, opening, form, dossiers)
    target = f"office {office.code} box {box}"
    audit("box_opened", target, minutes_hash=opening.minutes_hash, **opened_detail(unsealed))
    if unsealed.escrow is not None:  # every use of the province's escrow key is audited
        audit("escrow_key_used", target, **opened_detail(unsealed))
    publish_opened(unsealed)  # the box key's master: the recount bundle opens it again
    session.commit()
    return _page(office.id, box)


# --- the minutes and their exports ----------------------------------------------------------


def _minutes(opening: Opening) -> Minutes:
    """An opened box's minutes, read back from what is frozen with it."""
    assert opening.minutes is not None  # an opened box always has its minutes
    return Minutes.from_bytes(opening.minutes)


def _opened(office_id: int, box: str) -> tuple[Opening, Minutes]:
    office = office_or_404(office_id)
    opening = _opening(office.id, _box_or_404(box))
    if opening is None or opening.status != Opening.OPENED:
        abort(404)
    return opening, _minutes(opening)


def _download(body: bytes | str, mimetype: str, name: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.get("/offices/<int:office_id>/boxes/<box>/minutes")
@roles_required(*RESULT_READERS)
def minutes(office_id: int, box: str):
    opening, content = _opened(office_id, box)
    return render_template(
        "ceremony/minutes.html", opening=opening, minutes=content, box_label=box_label(box)
    )


@bp.get("/offices/<int:office_id>/boxes/<box>/minutes.<kind>")
@roles_required(*RESULT_READERS)
def minutes_file(office_id: int, box: str, kind: str):
    opening, content = _opened(office_id, box)
    assert opening.minutes is not None and opening.minutes_hash is not None
    download = minutes_render.render(kind, content, opening.minutes, opening.minutes_hash)
    if download is None:
        abort(404)
    return _download(
        download.body, download.mimetype, f"bien-ban-{opening.office.code}-{box}.{kind}"
    )
