"""Confirmation codes: the part of a member's confirmation an administrator can neither set
nor read.

An administrator can reset any account's password and so log in as any member; a
confirmation therefore also needs the member's own code for that office's committee. A
code is chosen by the member on the secretary's screen while a ceremony is under way
("before the committee"), stored only as a hash, shown to nobody, and set in one of three
ways (:class:`web.models_committee.CodeOrigin`):

- with the member's previous code (a code suspended by a password reset or a removal, or a
  code being changed): only its owner knows it;
- countersigned: the quorum has already been met at this ceremony and a member who
  confirmed types their own code, so the members present admit the new code together
  (one member alone, or an administrator who holds one member's account, cannot add
  confirmations of their own making);
- founding: an office whose committee has never had a code (a new office, or the first
  ceremony after this feature) sets its first codes at its first ceremony without a
  countersignature. The checklist and the minutes say so.

An administrator's password reset suspends the account's codes in every office (the
member cannot confirm until they set a new one before the committee); every code set and
every reset is a committee change (``web.committee_changes``), listed in the checklist and
the minutes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from hom_phieu.i18n import _
from web import clock, credentials, db, login_throttle
from web.committee_changes import record
from web.login_throttle import Client, Wait
from web.models import CommitteeMember, Opening, User
from web.models_committee import ChangeKind, CodeOrigin, ConfirmationCode

MIN_CODE = 6
MAX_CODE = 64


class CodeState(StrEnum):
    NONE = "none"  # never set for this committee
    SUSPENDED = "suspended"  # a password reset or a removal: set a new one first
    VALID = "valid"


def code_of(session: Session, office_id: int, user_id: int) -> ConfirmationCode | None:
    return session.scalar(
        select(ConfirmationCode).where(
            ConfirmationCode.office_id == office_id, ConfirmationCode.user_id == user_id
        )
    )


def state_of(code: ConfirmationCode | None) -> CodeState:
    if code is None:
        return CodeState.NONE
    return CodeState.VALID if code.valid else CodeState.SUSPENDED


def states(session: Session, office_id: int) -> dict[int, CodeState]:
    """Each member's code state by user id (what the office page shows; never the code)."""
    codes = session.scalars(select(ConfirmationCode).where(ConfirmationCode.office_id == office_id))
    return {code.user_id: state_of(code) for code in codes}


def matches(code: ConfirmationCode | None, typed: str) -> bool:
    return code is not None and check_password_hash(code.code_hash, typed)


@dataclass(frozen=True)
class CodeCheck:
    """``right``: the code typed is the code held; ``wait``: set when this client must wait
    first (the code was not looked at)."""

    right: bool
    wait: Wait | None = None


def _throttle_key(username: str) -> str:
    """The name a code's failures are counted under in ``web.login_throttle``: apart from
    the account's passwords (a right password does not forget them; '#' is in no account
    name)."""
    return "code#" + hashlib.sha256(username.encode()).hexdigest()[:40]


def check(
    session: Session, username: str, code: ConfirmationCode | None, typed: str, who: Client
) -> CodeCheck:
    """``typed`` against ``username``'s ``code``, throttled like a password (the attempt is
    stored as a failure first, and forgotten when right)."""
    key = _throttle_key(username)
    attempt = login_throttle.begin(session, key, who)
    wait = login_throttle.wait_needed(session, key, who, besides=attempt)
    if wait is not None:
        login_throttle.withdraw(session, attempt)
        return CodeCheck(False, wait)
    if not matches(code, typed):
        return CodeCheck(False)
    login_throttle.succeeded(session, key, who)
    return CodeCheck(True)


def state_refusal(session: Session, office_id: int, user: User) -> str | None:
    """Why ``user`` cannot confirm with a code now, or None."""
    state = state_of(code_of(session, office_id, user.id))
    if state == CodeState.NONE:
        return _(
            "{name} has no confirmation code for this committee yet: set one before the "
            "committee first"
        ).format(name=user.display_name)
    if state == CodeState.SUSPENDED:
        return _(
            "{name}'s confirmation code is suspended (the account's password was reset by an "
            "administrator, or the member was removed from the committee): set a new one "
            "before the committee first"
        ).format(name=user.display_name)
    return None


def typed_refusal(
    session: Session, office_id: int, user: User, typed: str, who: Client
) -> tuple[str | None, int]:
    """None when ``typed`` is ``user``'s valid code for the office; otherwise the reason and
    the HTTP status: no valid code 400, a wrong one 401, too many wrong ones 429."""
    refusal = state_refusal(session, office_id, user)
    if refusal is not None:
        return refusal, 400
    checked = check(session, user.username, code_of(session, office_id, user.id), typed, who)
    if checked.wait is not None:
        return credentials.wait_message(checked.wait), 429
    return (None, 200) if checked.right else (_("Wrong confirmation code."), 401)


def code_refusal(code: str, again: str, password_hash: str) -> str | None:
    """What is wrong with a new code, or None."""
    if len(code) < MIN_CODE:
        return _("a confirmation code needs at least {count} characters").format(count=MIN_CODE)
    if code != again:
        return _("the two confirmation codes differ")
    if check_password_hash(password_hash, code):
        return _("the confirmation code must not be the account's password")
    return None


def founding(session: Session, opening: Opening) -> bool:
    """True while the office's committee has no code set before this ceremony began: its
    first codes are set at this ceremony without a countersignature."""
    earlier = session.scalar(
        select(ConfirmationCode.id)
        .where(
            ConfirmationCode.office_id == opening.office_id,
            ConfirmationCode.set_at < opening.started_at,
        )
        .limit(1)
    )
    return earlier is None


def store(
    session: Session,
    opening: Opening,
    member: CommitteeMember,
    code: str,
    origin: CodeOrigin,
    countersigned_by: int | None = None,
) -> None:
    """Set ``member``'s code (in the caller's transaction) and record it as a change."""
    now = clock.now()
    row = code_of(session, member.office_id, member.user_id)
    if row is None:
        row = ConfirmationCode(office_id=member.office_id, user_id=member.user_id)
        session.add(row)
    row.code_hash, row.valid = generate_password_hash(code), True
    row.set_at, row.origin = now, origin
    record(
        session,
        member.office_id,
        ChangeKind.CODE_SET,
        member_id=member.user_id,
        committee_role=member.committee_role,
        after=origin,
        opening_id=opening.id,
        countersigned_by=countersigned_by,
        at=now,
    )


def suspend(session: Session, office_id: int, user_id: int) -> None:
    """A removed member's code no longer confirms (re-added, they set a new one)."""
    code = code_of(session, office_id, user_id)
    if code is not None:
        code.valid = False


def void_on_reset(user: User) -> None:
    """An administrator has reset ``user``'s password: every code of the account is
    suspended, and the reset is a change of each committee the account sits on (in the
    request's transaction; the caller commits)."""
    session = db.session()
    codes = session.scalars(select(ConfirmationCode).where(ConfirmationCode.user_id == user.id))
    for code in codes:
        code.valid = False
    members = session.scalars(select(CommitteeMember).where(CommitteeMember.user_id == user.id))
    for member in members:
        record(
            session,
            member.office_id,
            ChangeKind.PASSWORD_RESET,
            member_id=user.id,
            committee_role=member.committee_role,
        )
