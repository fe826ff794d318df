"""Changes to an office's committee: recorded, refused while a ceremony is under way, kept
within what the quorum needs, and listed in the checklist (so in the minutes) of the box
whose month they fall in.

A change is any of :class:`web.models_committee.ChangeKind`: a member added or removed, a
role or the quorum changed, an account's password reset by an administrator, a code set
before the committee. Each is a warning of the checklist: the committee must give its
reason to open the box anyway, and the minutes print it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hom_phieu import formatting
from hom_phieu.clock import TIMEZONE
from hom_phieu.i18n import _
from web import clock
from web.ceremony_calendar import box_label, parse_box
from web.checklist import WARNING, Check
from web.labels import COMMITTEE_ROLE_LABELS, label
from web.minutes_build import moment
from web.minutes_changes import ChangeEntry
from web.models import CommitteeMember, Office, Opening, User
from web.models_committee import ChangeKind, CodeOrigin, CommitteeChange, ConfirmationCode
from web.quorum import shape_refusal

OFFICE_WIDE = ""  # the device id of a check about the office as a whole
COMMITTEE_CHECK = "committee"


def record(
    session: Session,
    office_id: int,
    kind: ChangeKind,
    *,
    member_id: int | None = None,
    committee_role: str | None = None,
    before: str = "",
    after: str = "",
    opening_id: int | None = None,
    countersigned_by: int | None = None,
    at: datetime | None = None,
) -> None:
    """One change, made by the request's user (in the caller's transaction)."""
    by = current_user.id if getattr(current_user, "is_authenticated", False) else None
    session.add(
        CommitteeChange(
            office_id=office_id,
            at=at or clock.now(),
            kind=kind,
            by_id=by,
            member_id=member_id,
            committee_role=committee_role,
            before=before,
            after=after,
            opening_id=opening_id,
            countersigned_by=countersigned_by,
        )
    )


def lock_office(session: Session, office_id: int) -> None:
    """Serialise the committee's changes with the office's ceremonies (PostgreSQL locks
    the office's row until the transaction ends; SQLite has one writer at a time)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Office.id).where(Office.id == office_id).with_for_update())


def ceremony_under_way(session: Session, office_id: int) -> Opening | None:
    return session.scalar(
        select(Opening).where(Opening.office_id == office_id, Opening.status == Opening.STARTED)
    )


def under_way_refusal(session: Session, office_id: int) -> str | None:
    """Nothing about the committee changes while one of its ceremonies is under way."""
    opening = ceremony_under_way(session, office_id)
    if opening is None:
        return None
    return _(
        "the opening ceremony of the box of {month} is under way: the committee, its roles "
        "and its quorum cannot change until that box is opened"
    ).format(month=box_label(opening.box))


def able_roles(session: Session, office_id: int) -> dict[int, str]:
    """The committee roles of the members able to confirm, by member (committee_members)
    id: active accounts, and once the office has codes, only members holding one (valid,
    or suspended and so recoverable by its owner)."""
    query = (
        select(CommitteeMember.id, CommitteeMember.committee_role)
        .join(User, CommitteeMember.user_id == User.id)
        .where(CommitteeMember.office_id == office_id, User.active.is_(True))
    )
    has_codes = session.scalar(select(func.count()).where(ConfirmationCode.office_id == office_id))
    if has_codes:
        query = query.join(
            ConfirmationCode,
            (ConfirmationCode.office_id == CommitteeMember.office_id)
            & (ConfirmationCode.user_id == CommitteeMember.user_id),
        )
    return {member: role for member, role in session.execute(query)}


def change_refusal(
    session: Session,
    office: Office,
    *,
    quorum: int | None = None,
    removing: int | None = None,
    new_role: tuple[int, str] | None = None,
) -> str | None:
    """Why changing the quorum, removing a member or giving a member a new role (member
    ids of committee_members) is refused now, or None. The office is locked first."""
    lock_office(session, office.id)
    refusal = under_way_refusal(session, office.id)
    if refusal is not None:
        return refusal
    roles = able_roles(session, office.id)
    roles.pop(removing or 0, None)
    if new_role is not None and new_role[0] in roles:
        roles[new_role[0]] = new_role[1]
    return shape_refusal(office.quorum if quorum is None else quorum, list(roles.values()))


# --- the checklist --------------------------------------------------------------------------


def window_start(session: Session, opening: Opening) -> datetime:
    """From when a box's changes are listed: the first instant of its month, or the
    office's previous opening if that came earlier (nothing falls between two boxes)."""
    year, month = parse_box(opening.box)
    start = datetime(year, month, 1, tzinfo=TIMEZONE).astimezone(UTC)
    previous = session.scalar(
        select(func.max(Opening.opened_at)).where(
            Opening.office_id == opening.office_id,
            Opening.status == Opening.OPENED,
            Opening.box < opening.box,
        )
    )
    if previous is None:
        return start
    return min(start, formatting.aware(previous).astimezone(UTC))  # (SQLite compares text)


def changes_of(session: Session, opening: Opening, until: datetime) -> list[CommitteeChange]:
    """The committee's changes listed with ``opening``'s box, oldest first."""
    return list(
        session.scalars(
            select(CommitteeChange)
            .where(
                CommitteeChange.office_id == opening.office_id,
                CommitteeChange.at >= window_start(session, opening),
                CommitteeChange.at <= until.astimezone(UTC),
            )
            .order_by(CommitteeChange.at, CommitteeChange.id)
        )
    )


def committee_checks(session: Session, opening: Opening, until: datetime) -> list[Check]:
    """One warning per change of the committee listed with the box."""
    return [
        Check(COMMITTEE_CHECK, WARNING, OFFICE_WIDE, describe(change))
        for change in changes_of(session, opening, until)
    ]


def change_entries(session: Session, opening: Opening, until: datetime) -> list[ChangeEntry]:
    """The committee's changes listed with ``opening``'s box as lines of the minutes'
    "changes during the month" (``Minutes.changes``), in the current language."""
    return [_entry(change) for change in changes_of(session, opening, until)]


NOTHING = "—"


def _entry(change: CommitteeChange) -> ChangeEntry:
    member, role = _who(change.member), label(COMMITTEE_ROLE_LABELS, change.committee_role)
    subject = _("The committee: {member}").format(member=member)
    before, after = NOTHING, role
    kind = change.kind
    if kind == ChangeKind.MEMBER_REMOVED:
        before, after = role, NOTHING
    elif kind == ChangeKind.ROLE_CHANGED:
        before = label(COMMITTEE_ROLE_LABELS, change.before)
    elif kind == ChangeKind.QUORUM_CHANGED:
        subject, before, after = _("The committee's quorum"), change.before, change.after
    elif kind == ChangeKind.PASSWORD_RESET:
        subject = _("The password of {member}").format(member=member)
        after = _("reset by an administrator: the confirmation code is suspended")
    elif kind == ChangeKind.CODE_SET:
        subject = _("The confirmation code of {member}").format(member=member)
        after = _origin_words(change)
    return ChangeEntry(
        kind=kind, at=moment(change.at), by=_who(change.by), subject=subject,
        before=before, after=after,
    )  # fmt: skip


def _origin_words(change: CommitteeChange) -> str:
    if change.after == CodeOrigin.COUNTERSIGNED:
        return _("set before the committee, countersigned by {countersigner}").format(
            countersigner=_who(change.countersigner)
        )
    if change.after == CodeOrigin.PREVIOUS_CODE:
        return _("set before the committee with the previous code")
    return _("set before the committee without a countersignature (the committee's first codes)")


def _who(user: User | None) -> str:
    if user is None:
        return _("the server")
    return f"{user.display_name} ({user.username})"


def describe(change: CommitteeChange) -> str:
    """A change in words (the checklist's and the minutes' language)."""
    words = {
        "member": _who(change.member),
        "role": label(COMMITTEE_ROLE_LABELS, change.committee_role),
        "by": _who(change.by),
        "time": formatting.stored_time(change.at),
        "before": change.before,
        "after": change.after,
    }
    kind = change.kind
    if kind == ChangeKind.MEMBER_ADDED:
        text = _("{member} was added to the committee as {role} by {by} at {time}")
    elif kind == ChangeKind.MEMBER_REMOVED:
        text = _("{member}, {role}, was removed from the committee by {by} at {time}")
    elif kind == ChangeKind.ROLE_CHANGED:
        words["before"] = label(COMMITTEE_ROLE_LABELS, change.before)
        text = _(
            "the committee role of {member} was changed from {before} to {role} by {by} at {time}"
        )
    elif kind == ChangeKind.QUORUM_CHANGED:
        text = _("the quorum was changed from {before} to {after} by {by} at {time}")
    elif kind == ChangeKind.PASSWORD_RESET:
        text = _(
            "the password of {member}, {role}, was reset by {by} at {time}: their confirmation "
            "code is suspended until they set a new one before the committee"
        )
    elif change.after == CodeOrigin.COUNTERSIGNED:
        words["countersigner"] = _who(change.countersigner)
        text = _(
            "{member}, {role}, set a new confirmation code before the committee at {time}, "
            "countersigned by {countersigner}"
        )
    elif change.after == CodeOrigin.PREVIOUS_CODE:
        text = _(
            "{member}, {role}, set a new confirmation code before the committee at {time}, "
            "proving their previous code"
        )
    else:
        text = _(
            "{member}, {role}, set a confirmation code before the committee at {time} without "
            "a countersignature: the committee's first codes, set at its first ceremony"
        )
    return text.format(**words)
