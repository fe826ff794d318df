"""The review before the irreversible opening: the secretary types the dossiers returned
and, when the verification shows warnings, the reason for opening anyway; the server checks
them and shows a summary (the ballots up to the cut-off, the participation rate, every
warning and the reasons). Only the summary's own form, with the shares of the box key,
opens and freezes the box (``web.ceremony.open_``, which checks everything again).

Before the opening the sealed ballots are only numbered, never read: the summary counts the
ballots of the box, and the minutes the official ones among them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace

from flask import Blueprint, current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from hom_phieu import formatting
from hom_phieu.i18n import _
from web import clock, db
from web.auth import roles_required
from web.ceremony import OpenForm, _ceremony_under_way, box_page
from web.ceremony_calendar import month_end
from web.ceremony_seal import seal_keys
from web.checklist import OK, Check, dossiers_check
from web.models import Office, Opening, Role
from web.opening import dossiers_refusal, quorum_of, verification

bp = Blueprint("ceremony_review", __name__)
# A whole number as people type it: 1200, 1 200 or 1.200 (the Vietnamese thousands dot).
NUMBER = re.compile(r"-?\d{1,3}(?:[. ]\d{3})+|-?\d+")


def parse_dossiers(text: str | None) -> int | None:
    """The dossiers typed (None: left empty); a ValueError with the message otherwise."""
    text = (text or "").strip()
    if not text:
        return None
    if NUMBER.fullmatch(text) is None:
        raise ValueError(_("type the number of dossiers returned as a whole number, e.g. 120"))
    number = int(re.sub(r"[. ]", "", text))
    refusal = dossiers_refusal(number)
    if refusal is not None:
        raise ValueError(refusal)
    return number


@dataclass(frozen=True, slots=True)
class Review:
    """What the committee reads before the box is opened."""

    ballots: int  # ballots of the box up to the cut-off, every device
    phone: int  # of them, phone answers (official only with a ticket that checks out)
    late: int  # late ballots of boxes opened before (their supplements)
    devices: int
    dossiers: int | None
    rate: str | None  # participation, decimal comma
    warnings: tuple[Check, ...]  # of ``checks``, the ones not ok (and the dossiers' check)
    reason: str
    cut_off: bool  # opened before the month is over: the opening is the cut-off
    checks: tuple[Check, ...] = ()  # the whole verification, as the page lists it
    ready: bool = True  # False: refused (a warning without a reason), shown with its checks
    named_keys: Mapping[str, Counter[str]] | None = None  # each device's keys (web.checklist)
    token: str = ""  # binds the opening's form to these figures (:func:`review_token`)


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="hom-phieu opening review")


def review_token(opening_id: int, dossiers: int | None, reason: str) -> str:
    """The server's signature of the figures a summary showed. The opening's form carries
    it back: the secretary's browser cannot change the dossiers or the reason between the
    summary the committee read and the opening (a change needs a new summary, on screen)."""
    return str(_signer().dumps([opening_id, dossiers, reason]))


def reviewed_as(token: str | None, opening_id: int, dossiers: int | None, reason: str) -> bool:
    """Whether ``token`` is the signature of a summary of exactly these figures."""
    try:
        return bool(_signer().loads(token or "") == [opening_id, dossiers, reason])
    except BadSignature:
        return False


def review_of(session: Session, opening: Opening, dossiers: int | None, reason: str) -> Review:
    """The summary of the box as it would be opened now (the preview: no ballot read)."""
    now = clock.now()
    seal = seal_keys(session, opening, preview=True)
    count, checks = verification(session, opening, now, seal=seal)
    ballots = sum(device.votes for device in count.devices)
    phone = sum(device.votes for device in count.devices if device.device.survey)
    extra = dossiers_check(count.counter_votes, dossiers)  # as the opening checks them
    return Review(
        ballots=ballots,
        phone=phone,
        late=sum(sum(device.supplement_votes.values()) for device in count.devices),
        devices=len(count.devices),
        dossiers=dossiers,
        rate=None if not dossiers else formatting.percent(count.counter_votes, dossiers),
        warnings=tuple(c for c in [*checks, extra] if c is not None and c.severity != OK),
        reason=reason,
        cut_off=now < month_end(opening.box),
        checks=tuple(c for c in [*checks, extra] if c is not None),
        named_keys=seal.named,
        token=review_token(opening.id, dossiers, reason),
    )


def reviewed(office_id: int, box: str, opening: Opening, form: OpenForm) -> Review | None:
    """The review of a form (None when its figures are not valid; not ``ready`` when a
    warning has no reason), the form's fields carrying the errors."""
    if not form.validate():
        return None
    try:
        dossiers = parse_dossiers(form.dossiers_returned.data)
    except ValueError as error:
        form.dossiers_returned.errors = [str(error)]
        return None
    reason = (form.warnings_reason.data or "").strip()
    review = review_of(db.session(), opening, dossiers, reason)
    if review.warnings and not reason:
        form.warnings_reason.errors = [
            _("the verification shows warnings: give the reason for opening anyway")
        ]
        return replace(review, ready=False)
    return review


@bp.post("/offices/<int:office_id>/boxes/<box>/review")
@roles_required(Role.COMMITTEE)
def review(office_id: int, box: str):
    """The figures checked and the summary shown; nothing is opened or stored."""
    office, opening = _ceremony_under_way(office_id, box)
    form = OpenForm()
    if not quorum_of(db.session(), opening).met:
        return box_page(office.id, box, status=409)
    summary = reviewed(office.id, box, opening, form)
    status = 200 if summary is not None and summary.ready else 400
    return box_page(office.id, box, forms={"open": form}, status=status, review=summary)


def review_again(
    office: Office,
    box: str,
    opening: Opening,
    form: OpenForm,
    dossiers: int | None,
    share_error: str | None = None,
):
    """The review shown again after a refused opening (wrong shares, or a refusal of
    ``web.opening.open_box``), with the message; the shares' fields come back empty."""
    reason = (form.warnings_reason.data or "").strip()
    summary = review_of(db.session(), opening, dossiers, reason)
    summary = replace(summary, ready=not summary.warnings or bool(reason))
    return box_page(
        office.id, box, forms={"open": form}, status=400, share_error=share_error, review=summary
    )
