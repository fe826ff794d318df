"""Opening an office's box of a month: gather every device's chain, verify and count it,
write the minutes, record what was counted, and freeze the box.

Works on a database session, without Flask, so the ceremony pages, the tests and the
benchmark all open boxes the same way. The minutes are a :class:`web.minutes.Minutes`
(written by :mod:`web.minutes_build`); the canonical bytes of their JSON
(``docs/minutes-format.md``) and their SHA-256 are stored with the box.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hom_phieu.i18n import _, language
from hom_phieu.ledger.box_key import BoxPrivateKey
from hom_phieu.ledger.records import canonical_bytes, record_hash
from web import clock
from web.box_count import BoxCount
from web.ceremony_calendar import month_end
from web.ceremony_seal import seal_keys
from web.chain_checkpoints import store_checkpoints
from web.checklist import Check, SealKeys, checklist, dossiers_check, seal_checks
from web.committee_changes import change_entries, committee_checks
from web.forks import branch_checks
from web.minutes import Attendee, Minutes, OfficeHeader, QuorumSize
from web.minutes_build import NO_FIELD, Ceremony, ClerkInfo, build_minutes, moment
from web.minutes_changes import ChangeEntry
from web.minutes_seal import Seal
from web.models import (
    Clerk,
    CommitteeMember,
    CountedRange,
    LedgerRecord,
    Office,
    Opening,
    ProcedureField,
    User,
)
from web.month_changes import minutes_changes, settings_checks
from web.opening_count import count_box
from web.quorum import Quorum
from web.result_cells import write_cells
from web.unit_calendar import calendar_of


@dataclass(frozen=True, slots=True)
class SealedSummary:
    """All that may be known of a box before its opening."""

    ballots: int
    devices: int
    last_sync: datetime | None


def sealed_summary(session: Session, office_id: int, box: str) -> SealedSummary:
    row = session.execute(
        select(
            func.count(),
            func.count(func.distinct(LedgerRecord.device_pk)),
            func.max(LedgerRecord.received_at),
        ).where(
            LedgerRecord.office_id == office_id,
            LedgerRecord.box == box,
            LedgerRecord.kind == "VOTE",
        )
    ).one()
    return SealedSummary(row[0], row[1], row[2])


def opening_due(session: Session, box: str, office: Office) -> date:
    """The day from which ``office``'s box may be opened without a reason: the month's last
    working day in the calendar of the office's unit (``web.unit_calendar``)."""
    return calendar_of(session, office.unit_id).due_day(box)


def active_members(session: Session, office_id: int) -> list[CommitteeMember]:
    return list(
        session.scalars(
            select(CommitteeMember)
            .join(User, CommitteeMember.user_id == User.id)
            .where(CommitteeMember.office_id == office_id, User.active.is_(True))
        )
    )


def quorum_of(session: Session, opening: Opening) -> Quorum:
    """Confirmations count only while their member is still an active member."""
    members = {m.user_id: m for m in active_members(session, opening.office_id)}
    roles = [c.committee_role for c in opening.confirmations if c.user_id in members]
    return Quorum(opening.office.quorum, len(members), roles)


# --- opening ------------------------------------------------------------------------------


class OpeningRefused(Exception):
    """The box cannot be opened now; the message says why."""


MAX_DOSSIERS = 10_000_000  # more dossiers in a month than any office returns: a typing error


def dossiers_refusal(dossiers: int | None) -> str | None:
    """Why ``dossiers`` cannot be the number of dossiers returned in a month, or None."""
    if dossiers is not None and not 0 <= dossiers <= MAX_DOSSIERS:
        return _("the number of dossiers returned must be a whole number from 0 to {most}").format(
            most=f"{MAX_DOSSIERS:,}".replace(",", ".")
        )
    return None


def verification(
    session: Session,
    opening: Opening,
    now: datetime | None = None,
    keys: Mapping[str, BoxPrivateKey] | None = None,
    seal: SealKeys | None = None,
) -> tuple[BoxCount, list[Check]]:
    """The box counted and its checklist: every device's checks, then the office's (the
    changes of its committee and of its settings listed with the box, up to ``now``).
    ``seal``: the box's keys as the caller already read them (``web.ceremony_seal.seal_keys``;
    else read here)."""
    count = count_box(session, opening.office, opening.box, keys)
    until = now or clock.now()
    checks = checklist(count, month_end(opening.box), until)  # (the due day's cut-off)
    if seal is None:
        seal = seal_keys(session, opening, preview=keys is None)
    checks += seal_checks(count, seal) + branch_checks(count, session, opening.office_id)
    office_checks = committee_checks(session, opening, until) + settings_checks(
        session, opening, until
    )
    return count, checks + office_checks


def open_box(
    session: Session,
    opening: Opening,
    user_id: int,
    *,
    warnings_reason: str = "",
    dossiers_returned: int | None = None,
    now: datetime | None = None,
    keys: Mapping[str, BoxPrivateKey] | None = None,
    seal: Seal | None = None,
) -> tuple[BoxCount, list[Check]]:
    """Verify, count, write the minutes and freeze the box, in the caller's transaction.
    ``seal``: how the box was unsealed, for the minutes (``web.ceremony_seal``).

    Refused (nothing changes) when the quorum is not met, when ``dossiers_returned`` is
    not a possible number, or when the checklist has warnings or faults (more ballots than
    dossiers returned among them) and no reason is given.
    """
    if opening.status == Opening.OPENED:
        raise OpeningRefused(_("this box has been opened already"))
    refusal = dossiers_refusal(dossiers_returned)
    if refusal is not None:
        raise OpeningRefused(refusal)
    quorum = quorum_of(session, opening)
    if not quorum.met:
        raise OpeningRefused("; ".join(quorum.missing()))
    now = now or clock.now()
    with language("vi"):  # the minutes are an official document in Vietnamese
        count, checks = verification(session, opening, now, keys)  # (its fault messages too)
        checks += filter(None, [dossiers_check(count.counter_votes, dossiers_returned)])
    if any(check.severity != "ok" for check in checks) and not warnings_reason.strip():
        raise OpeningRefused(
            _("the checklist has warnings or faults: give the reason for opening anyway")
        )
    opening.opened_at, opening.opened_by = now, user_id
    opening.warnings_reason = warnings_reason.strip()
    opening.dossiers_returned = dossiers_returned
    content = minutes_content(session, opening, count, checks)
    if seal is not None:  # how the box was unsealed (web.minutes_seal)
        content = replace(content, seal=seal)
    write_cells(session, opening, count, clerk_infos(session, opening.office_id))
    # One UPDATE sets the status and the minutes: after it the row is frozen.
    opening.minutes = canonical_bytes(content.to_json())
    opening.minutes_hash = record_hash(opening.minutes)
    opening.status = Opening.OPENED
    store_checkpoints(session, opening.id, count.devices)
    for device in count.devices:
        for box, through in device.counted_through.items():
            votes = device.votes if box == opening.box else device.supplement_votes[box]
            session.add(
                CountedRange(
                    opening_id=opening.id,
                    device_pk=device.device.pk,
                    box=box,
                    through_seq=through,
                    votes=votes,
                )
            )
    return count, checks


def minutes_content(
    session: Session, opening: Opening, count: BoxCount, checks: list[Check]
) -> Minutes:
    """The minutes of ``opening`` (``docs/minutes-format.md``): what the database knows of
    the office, its committee and its clerks, with the count."""
    office = opening.office
    if opening.opened_at is None:
        raise ValueError("the minutes are written when the box is opened")
    ceremony = Ceremony(
        office=OfficeHeader(
            code=office.code,
            name=office.name,
            unit=office.unit.name,
            parent_unit=office.unit.parent.name if office.unit.parent else None,
        ),
        box=opening.box,
        started_at=moment(opening.started_at),
        opened_at=moment(opening.opened_at),
        place=office.unit.name,
        early_reason=opening.early_reason or None,
        warnings_reason=opening.warnings_reason or None,
        dossiers_returned=opening.dossiers_returned,
        quorum=QuorumSize(office.quorum, len(active_members(session, office.id))),
        attendees=attendees(session, opening),
        changes=_changes(session, opening, opening.opened_at),
    )
    return build_minutes(ceremony, count, checks, clerk_infos(session, office.id))


def attendees(session: Session, opening: Opening) -> tuple[Attendee, ...]:
    """Everyone present, in order of time: the members who confirmed and the secretary
    who runs the ceremony on her own logged-in screen (present from the start, even when
    the quorum was met without her confirmation)."""
    present = [
        Attendee(c.user.display_name, c.committee_role, moment(c.at)) for c in opening.confirmations
    ]
    runner = session.get(User, opening.opened_by) if opening.opened_by is not None else None
    member = session.scalar(
        select(CommitteeMember).where(
            CommitteeMember.office_id == opening.office_id,
            CommitteeMember.user_id == opening.opened_by,
        )
    )
    confirmed = {c.user_id for c in opening.confirmations}
    if runner is not None and member is not None and runner.id not in confirmed:
        since = opening.started_at if opening.started_by == runner.id else opening.opened_at
        assert since is not None  # (she was there before anyone confirmed on her screen)
        present.insert(0, Attendee(runner.display_name, member.committee_role, moment(since)))
    return tuple(sorted(present, key=lambda attendee: attendee.confirmed_at))  # (stable)


def _changes(session: Session, opening: Opening, until: datetime) -> tuple[ChangeEntry, ...] | None:
    """The changes of the office's settings and of its committee listed with the box, in
    order of time, in Vietnamese; None when there were none."""
    with language("vi"):  # the minutes are an official document in Vietnamese
        found = [
            *(minutes_changes(session, opening, until) or ()),
            *change_entries(session, opening, until),
        ]
    return tuple(sorted(found, key=lambda change: change.at)) or None


def clerk_infos(session: Session, office_id: int) -> dict[str, ClerkInfo]:
    fields = dict(session.execute(select(ProcedureField.id, ProcedureField.name)).all())
    return {
        clerk.code: ClerkInfo(clerk.name, clerk.title, fields.get(clerk.field_id, NO_FIELD))
        for clerk in session.scalars(select(Clerk).where(Clerk.office_id == office_id))
    }
