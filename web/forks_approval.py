"""The second person of a fork's recovery (``web.forks``): the records a technician uploaded
as the forked side's branch are held apart (``HeldRecord``) until an administrator, never
an account that confirmed the fork or uploaded its branch, approves their adoption after
seeing the evidence (:func:`branch_evidence`: the fork point, who asked, both chains from
it), or refuses it. Approved, the held records are stored under the branch's row and an
opening counts them (``web.forks.branch_origins``); refused, they stay apart for good,
kept. The database refuses the same (migration 0019). Every step is audited with the office
(``web.forks_minutes``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from hom_phieu.i18n import _, language
from hom_phieu.ledger.records import Kind, decode
from hom_phieu.ledger.state import LedgerState
from hom_phieu.protocol.fields import unstorable
from web import clock
from web.device_alerts import resolve_fork_alerts
from web.device_state import insert_rows, move_head, row_of
from web.forks import ForkError, record_step
from web.forks_minutes import BRANCH_APPROVED, BRANCH_REFUSED
from web.models import AuditEntry, LedgerRecord, User
from web.models_forks import Fork, HeldRecord

MAX_REASON = 500
# The audit entries of an account's password being set: by an administrator (added,
# reset) or by its owner (changed).
PASSWORD_SET = ("user_added", "password_reset", "password_changed")


@dataclass(frozen=True, slots=True)
class ChainPart:
    """Records of one side from the fork point on: how many, how many ballots (by box; no
    count by level), and when the first and the last were written."""

    records: int = 0
    ballots: int = 0
    by_box: tuple[tuple[str, int], ...] = ()
    first_ms: int | None = None
    last_ms: int | None = None


@dataclass(frozen=True, slots=True)
class BranchEvidence:
    """What an administrator sees before deciding on a fork's branch."""

    fork: Fork
    held: ChainPart  # the forked side's records, uploaded and held apart
    server: ChainPart  # the records the server holds from the fork point on
    confirmed_by: str
    asked_by: str  # every account that uploaded the branch's records
    approved_by: str
    refused_by: str
    askers: frozenset[int]  # (their ids: none of them may approve)


def _part(session: Session, table, where: ColumnElement[bool]) -> ChainPart:
    records, first, last = session.execute(
        select(func.count(), func.min(table.wall_ms), func.max(table.wall_ms)).where(where)
    ).one()
    boxes = session.execute(
        select(table.box, func.count())
        .where(where, table.kind == Kind.VOTE.value)
        .group_by(table.box)
        .order_by(table.box)
    ).all()
    by_box = tuple((box, n) for box, n in boxes)
    return ChainPart(records, sum(n for _box, n in by_box), by_box, first, last)


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    users = session.scalars(select(User).where(User.id.in_([i for i in ids if i is not None])))
    return {user.id: f"{user.display_name} ({user.username})" for user in users}


def askers(session: Session, fork: Fork) -> frozenset[int]:
    """The accounts that confirmed the fork or uploaded its branch's records."""
    held = session.scalars(
        select(HeldRecord.held_by).where(HeldRecord.fork_id == fork.id).distinct()
    )
    found = {fork.confirmed_by, fork.adopted_by, *held}
    return frozenset(user for user in found if user is not None)


def branch_evidence(session: Session, fork: Fork) -> BranchEvidence:
    held = _part(session, HeldRecord, HeldRecord.fork_id == fork.id)
    server = _part(
        session,
        LedgerRecord,
        (LedgerRecord.device_pk == fork.device_pk) & (LedgerRecord.seq >= fork.fork_seq),
    )
    asking = askers(session, fork)
    uploaders = set(
        session.scalars(select(HeldRecord.held_by).where(HeldRecord.fork_id == fork.id))
    )
    names = _names(session, {fork.confirmed_by, fork.approved_by, fork.refused_by, *asking})
    asked = sorted(names.get(user, "—") for user in uploaders | {fork.adopted_by} if user)
    return BranchEvidence(
        fork, held, server, names.get(fork.confirmed_by or 0, "—"), ", ".join(asked) or "—",
        names.get(fork.approved_by or 0, ""), names.get(fork.refused_by or 0, ""), asking,
    )  # fmt: skip


def one_person(session: Session, approver: int, asking: frozenset[int]) -> bool:
    """Whether ``approver`` and an account of ``asking`` may be one person: linked by a
    password one set for the other (an account added or its password reset by another,
    its owner not having set one of his own since), however many accounts apart. An
    administrator who added a technician knows its password: the two are one person."""
    ids = dict(session.execute(select(User.username, User.id)).all())
    setter: dict[int, int | None] = {}
    for by, target in session.execute(
        select(AuditEntry.user_id, AuditEntry.target)
        .where(AuditEntry.action.in_(PASSWORD_SET), AuditEntry.target.like("user %"))
        .order_by(AuditEntry.id)
    ):
        owner = ids.get(target.removeprefix("user "))
        if owner is not None:
            setter[owner] = by  # (the last one counts)
    links: dict[int, set[int]] = defaultdict(set)
    for owner, by in setter.items():
        if by is not None and by != owner:
            links[owner].add(by)
            links[by].add(owner)
    found, todo = {approver}, [approver]
    while todo:
        for other in links[todo.pop()] - found:
            found.add(other)
            todo.append(other)
    return not found.isdisjoint(asking)


def _waiting(fork: Fork, seen: int | None) -> None:
    if fork.status != Fork.ASKED:
        raise ForkError(_("no adoption of this branch waits for a decision"))
    if seen != fork.adopted:
        raise ForkError(_("the branch changed since you looked at it: look at its evidence again"))


def _decided(session: Session, fork: Fork, seen: int, **values: object) -> None:
    """Decide ``fork`` only if it still waits with the ``seen`` records held: a conditional
    update (on PostgreSQL it waits for an upload under way, then finds it changed), so
    that records uploaded after the decider's look are never decided unseen."""
    done = session.execute(
        update(Fork)
        .where(Fork.id == fork.id, Fork.status == Fork.ASKED, Fork.adopted == seen)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise ForkError(_("the branch changed since you looked at it: look at its evidence again"))
    session.refresh(fork)


def approve_branch(session: Session, fork: Fork, user_id: int, seen: int | None) -> int:
    """The second person approves the adoption of ``fork``'s branch (``seen``: how many
    records the approver saw held): its held records are stored under the branch's row,
    to be counted. In the caller's transaction; returns how many records; raises
    :class:`ForkError`."""
    _waiting(fork, seen)
    assert seen is not None
    evidence = branch_evidence(session, fork)
    if user_id in evidence.askers:
        raise ForkError(
            _(
                "you confirmed this fork or uploaded its branch: another administrator must "
                "approve its adoption"
            )
        )
    if one_person(session, user_id, evidence.askers):
        raise ForkError(
            _(
                "your account and one that confirmed this fork or uploaded its branch were set "
                "up one by the other (an account added or its password reset, not changed by "
                "its owner since): another administrator must approve its adoption"
            )
        )
    now, branch = clock.now(), fork.branch
    _decided(session, fork, seen, status=Fork.ADOPTED, approved_by=user_id, approved_at=now)
    held = session.scalars(
        select(HeldRecord)
        .where(HeldRecord.fork_id == fork.id, HeldRecord.seq < fork.fork_seq + seen)
        .order_by(HeldRecord.seq)
    ).all()
    session.flush()  # (the rows go in by the connection: what the session holds first)
    insert_rows(session, [row_of(branch, decode(bytes(r.data)), bytes(r.sig), now) for r in held])
    move_head(branch, LedgerState.from_json(fork.held_state or fork.base_state))
    approver = _names(session, {user_id}).get(user_id, "—")
    with language("vi"):  # (the label is the minutes' name for the branch)
        label = _(
            "records of {device} from record {seq} on: adoption asked for by {asked}, "
            "approved by {approver}"
        ).format(device=fork.device.device_id, seq=fork.fork_seq, asked=evidence.asked_by,
                 approver=approver)  # fmt: skip
    branch.label = label[:200]
    resolve_fork_alerts(session, fork.device, now)  # (by the system: the fork is recovered)
    record_step(session, user_id, BRANCH_APPROVED, fork.device, seq=fork.fork_seq,
                through=branch.head_seq, records=len(held), branch=branch.device_id,
                asked=evidence.asked_by)  # fmt: skip
    session.flush()
    return len(held)


def refuse_branch(
    session: Session, fork: Fork, user_id: int, seen: int | None, reason: str
) -> None:
    """An administrator refuses the adoption of ``fork``'s branch, for ``reason``: its held
    records stay apart for good (kept). In the caller's transaction; raises
    :class:`ForkError`."""
    _waiting(fork, seen)
    assert seen is not None
    reason = " ".join(reason.split())
    if not reason or len(reason) > MAX_REASON:
        raise ForkError(
            _("give the reason for refusing (at most {most} characters)").format(most=MAX_REASON)
        )
    character = unstorable(reason)
    if character is not None:
        raise ForkError(
            _("this text contains a character that cannot be stored ({character})").format(
                character=character
            )
        )
    evidence = branch_evidence(session, fork)
    now = clock.now()
    _decided(session, fork, seen, status=Fork.REFUSED, refused_by=user_id, refused_at=now,
             reason=reason)  # fmt: skip
    record_step(session, user_id, BRANCH_REFUSED, fork.device, seq=fork.fork_seq,
                through=fork.fork_seq + fork.adopted - 1, records=fork.adopted,
                branch=fork.branch.device_id, asked=evidence.asked_by,
                reason=reason)  # fmt: skip
    session.flush()
