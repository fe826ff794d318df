"""Setting a confirmation code before the committee: on the secretary's screen, while a
ceremony of the office is under way, so that the members present see it done and the
minutes list it.

The member types their account name, password and the new code twice, and one of: their
previous code (a code suspended by a password reset or a removal, or one being changed);
nothing, while the office's committee sets its first codes (``committee_codes.founding``);
or, once the quorum has been met at this ceremony, the account name and code of a member
who has confirmed, as countersignature. The rules are in :mod:`web.committee_codes`.
"""

from __future__ import annotations

from flask import Blueprint, flash
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from hom_phieu.i18n import _
from web import committee_codes, credentials, db, login_throttle
from web.auth import audit, roles_required
from web.ceremony import CodeForm, _ceremony_under_way, _membership, _page, box_page
from web.models import Opening, Role, User
from web.models_committee import CodeOrigin
from web.opening import quorum_of

bp = Blueprint("ceremony_codes", __name__)


class Refused(Exception):
    """A code is not set; ``args``: the reason and the HTTP status."""


@bp.post("/offices/<int:office_id>/boxes/<box>/code")
@roles_required(Role.COMMITTEE)
def set_code(office_id: int, box: str):
    office, opening = _ceremony_under_way(office_id, box)
    session = db.session()
    form = CodeForm()
    if not form.validate():
        return box_page(office_id, box, forms={"code": form}, status=400)
    username = form.username.data.strip()
    try:
        user = _member(session, username, form.password.data)
        member = _membership(office.id, user.id)
        if member is None:
            raise Refused(
                _("{name} is not a member of this office's committee").format(
                    name=user.display_name
                ),
                400,
            )
        problem = committee_codes.code_refusal(
            form.code.data, form.code_again.data, user.password_hash
        )
        if problem is not None:
            raise Refused(problem, 400)
        origin, countersigner = _origin(session, opening, user, form)
    except Refused as refused:
        reason, status = refused.args
        audit("confirmation_code_refused", f"office {office.code} box {box}",
              username=username, reason=reason)  # fmt: skip
        session.commit()
        form.username.errors.append(reason)
        return box_page(office_id, box, forms={"code": form}, status=status)
    committee_codes.store(session, opening, member, form.code.data, origin, countersigner)
    audit("confirmation_code_set", f"office {office.code} box {box}", username=username,
          origin=origin, countersigned_by=form.countersigner.data or None)  # fmt: skip
    session.commit()
    flash(_("{name} has set a new confirmation code.").format(name=user.display_name))
    return _page(office.id, box)


def _member(session: Session, username: str, password: str) -> User:
    verdict = credentials.check(session, username, password, _screen())
    if verdict.wait is not None:
        raise Refused(credentials.wait_message(verdict.wait), 429)
    if verdict.user is None:
        raise Refused(_("Wrong account name or password."), 401)
    return verdict.user


def _screen() -> login_throttle.Client:
    return credentials.colleague_client(current_user.id)


def _origin(
    session: Session, opening: Opening, user: User, form: CodeForm
) -> tuple[CodeOrigin, int | None]:
    """How this code may be set, and who countersigned it; :class:`Refused` otherwise."""
    office_id = opening.office_id
    if form.previous_code.data:  # (a suspended code proves its owner too)
        code = committee_codes.code_of(session, office_id, user.id)
        checked = committee_codes.check(
            session, user.username, code, form.previous_code.data, _screen()
        )
        if checked.wait is not None:
            raise Refused(credentials.wait_message(checked.wait), 429)
        if not checked.right:
            raise Refused(_("Wrong confirmation code."), 401)
        return CodeOrigin.PREVIOUS_CODE, None
    if committee_codes.founding(session, opening):
        return CodeOrigin.FOUNDING, None
    quorum = quorum_of(session, opening)
    if not quorum.met:
        raise Refused(
            _(
                "a new code is countersigned once the quorum has been met at this ceremony "
                "({missing}), or set with the member's previous code"
            ).format(missing="; ".join(quorum.missing())),
            400,
        )
    name = (form.countersigner.data or "").strip()
    if not name or not form.countersigner_code.data:
        raise Refused(
            _(
                "a member who has confirmed at this ceremony countersigns: their account "
                "name and confirmation code (or type the member's previous code)"
            ),
            400,
        )
    countersigner = session.scalar(select(User).where(User.username == name))
    confirmed = countersigner is not None and any(
        c.user_id == countersigner.id for c in opening.confirmations
    )
    if countersigner is None or countersigner.id == user.id or not confirmed:
        raise Refused(
            _(
                "the countersignature must come from another member who has confirmed at "
                "this ceremony"
            ),
            400,
        )
    refusal, status = committee_codes.typed_refusal(
        session, office_id, countersigner, form.countersigner_code.data, _screen()
    )
    if refusal is not None:
        raise Refused(refusal, status)
    return CodeOrigin.COUNTERSIGNED, countersigner.id
