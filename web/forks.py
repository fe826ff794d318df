"""A forked chain recovered without losing a vote, and a record altered on the server repaired.

A device's chain forks when two ledgers hold records signed by the same key for the same
seq: a copied card, a card restored from a backup, a rewritten tail. The server refuses
the second side's records (``web.ingest``: ``Evidence``, an ``equivocation`` alert) and the
kiosk stops printing receipts it cannot honour (``kiosk.server_watch``). Recovery, on the
device's fork page (``web.forks_page``):

1. :func:`confirm_fork` (a technician, from the evidence: the fork point and both records'
   times): the server verifies the common prefix up to the record before the fork point
   and keeps that state; it makes a pending device (a new identity, a one-time code) for
   the forked side, and the device row its branch will be held under (``device_id``
   ``<old id>/<fork seq>``, never able to send anything itself).
2. The forked kiosk re-enrolls with the code and a new key (``hom-phieu kiosk provision``
   after its old key and ledger are put aside); its old ledger file is uploaded.
3. :func:`adopt_branch`: the records from the fork point on, signed by the old key, are
   verified from the kept state (signatures, links from the prefix, the ledger's rules)
   and held apart (``HeldRecord``): not counted, since whoever copied the card could have
   written them with its key.
4. An administrator, never an account that confirmed the fork or uploaded its branch,
   approves the adoption after seeing the evidence (``web.forks_approval``): the held
   records are stored under the branch's row, and an opening walks that row from the kept
   state (``DeviceRef.base``) with the old key (``DeviceRef.signer``): both sides' ballots
   are counted, in their box or its supplement. Or refuses it: kept apart for good.

:func:`repairable` and :func:`repair_record`: a record the server holds that no longer
verifies (a damaged database) is replaced by the device's own copy, once it verifies and
links both ways, after an administrator confirms; the damaged bytes are kept.

Every step is audited with the office (``web.forks_minutes`` lists them in the minutes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from hom_phieu.i18n import _
from hom_phieu.ledger.records import Kind, Record, RecordFormatError, decode, receipt_code
from hom_phieu.ledger.records import record_hash as hash_of
from hom_phieu.ledger.state import LedgerState
from hom_phieu.ledger.verify import Row, Verifier, verify_rows
from web import clock
from web.box_count import BoxCount, Checkpoint
from web.checklist import WARNING, Check
from web.forks_minutes import BRANCH_HELD, FORK_CONFIRMED, RECORD_REPAIRED
from web.models import AuditEntry, Device, Evidence, LedgerRecord, User
from web.models_forks import Fork, HeldRecord, RecordRepair

GENESIS = "0" * 64


class ForkError(Exception):
    """The step cannot be taken; the message says why, for the technician."""


@dataclass(frozen=True, slots=True)
class ForkSeen:
    """One piece of evidence as the fork page shows it: where the chains part and when
    each side wrote its record there."""

    evidence: Evidence
    held_ms: int | None  # the record the server holds at that seq (None: unreadable)
    other_ms: int | None  # the other side's record
    fork: Fork | None


@dataclass(frozen=True, slots=True)
class BranchOrigin:
    """What an opening needs to walk an adopted branch: its signer and where it begins."""

    device_id: str
    public_key: bytes
    base: Checkpoint


def _wall_ms(data: bytes) -> int | None:
    try:
        return decode(bytes(data)).wall_ms
    except RecordFormatError:
        return None


def forks_seen(session: Session, device: Device) -> list[ForkSeen]:
    """The evidence against ``device``, each with the fork confirmed from it (if any)."""
    evidence = session.scalars(
        select(Evidence).where(Evidence.device_pk == device.id).order_by(Evidence.seq)
    ).all()
    forks = {
        f.evidence_id: f for f in session.scalars(select(Fork).where(Fork.device_pk == device.id))
    }
    held = dict(
        session.execute(
            select(LedgerRecord.seq, LedgerRecord.data).where(
                LedgerRecord.device_pk == device.id,
                LedgerRecord.seq.in_([e.seq for e in evidence]),
            )
        ).all()
    )
    return [
        ForkSeen(
            e, _wall_ms(held[e.seq]) if e.seq in held else None, _wall_ms(e.data), forks.get(e.id)
        )
        for e in evidence
    ]


def record_step(
    session: Session, user_id: int | None, action: str, device: Device, **detail: object
) -> None:
    """The audit entry of a step, with the office (the minutes list it)."""
    session.add(AuditEntry(user_id=user_id, action=action, target=f"device {device.id}",
                           detail={"device_id": device.device_id, **detail},
                           office_id=device.office_id))  # fmt: skip


def _prefix_state(session: Session, device: Device, before: int) -> LedgerState:
    """The verifier's state after record ``before - 1`` of ``device``, its held records
    verified from the genesis (signatures, links, rules)."""
    if before == 1:
        return Verifier(device.public_key or b"", device.device_id or "").state
    rows = [
        Row(seq, bytes(data), bytes(sig))
        for seq, data, sig in session.execute(
            select(LedgerRecord.seq, LedgerRecord.data, LedgerRecord.sig)
            .where(LedgerRecord.device_pk == device.id, LedgerRecord.seq < before)
            .order_by(LedgerRecord.seq)
        )
    ]
    problem, verifier = verify_rows(rows, device.public_key or b"", device.device_id or "")
    if problem is not None or verifier.state.head_seq != before - 1:
        raise ForkError(
            _(
                "the records the server holds before record {seq} do not verify: repair them first"
            ).format(seq=before)
        )
    return verifier.state


def confirm_fork(
    session: Session, device: Device, evidence_id: int, user_id: int | None, new_code
) -> tuple[Fork, str]:
    """Confirm the fork that evidence ``evidence_id`` shows (in the caller's transaction).
    ``new_code(device)``: makes the pending device's one-time code (``web.pages.new_enrollment``).
    Returns the fork and the code for the forked side's re-enrollment."""
    evidence = session.get(Evidence, evidence_id)
    if evidence is None or evidence.device_pk != device.id:
        raise ForkError(_("no such evidence against this device"))
    if session.scalar(select(Fork.id).where(Fork.evidence_id == evidence.id)) is not None:
        raise ForkError(_("this fork was confirmed already"))
    state = _prefix_state(session, device, evidence.seq)
    now = clock.now()
    name = device.label or device.device_id or ""
    new_device = Device(office_id=device.office_id, counter_id=device.counter_id,
                        label=_("{device}: the forked side").format(device=name))  # fmt: skip
    branch = Device(office_id=device.office_id, counter_id=device.counter_id, status="revoked",
                    revoked_at=now, device_id=f"{device.device_id}/{evidence.seq}",
                    label=_("records of {device} from record {seq} on, adopted").format(
                        device=name, seq=evidence.seq))  # fmt: skip
    session.add_all([new_device, branch])
    session.flush()
    fork = Fork(device_pk=device.id, fork_seq=evidence.seq, evidence_id=evidence.id,
                base_hash=state.head_hash if evidence.seq > 1 else GENESIS,
                base_state=state.to_json(), status=Fork.CONFIRMED, new_device_pk=new_device.id,
                branch_pk=branch.id, confirmed_by=user_id, confirmed_at=now)  # fmt: skip
    session.add(fork)
    code = new_code(new_device)
    record_step(
        session, user_id, FORK_CONFIRMED, device, seq=evidence.seq, new_device=new_device.id
    )
    session.flush()
    return fork, code


def _checked(verifier: Verifier, row: Row, seq: int) -> Record:
    """A branch record, checked against the branch so far (or the prefix)."""
    try:
        record = decode(row.data)
    except RecordFormatError as exc:
        raise ForkError(
            _("record {seq}: the bytes are not a record ({reason})").format(seq=seq, reason=exc)
        ) from None
    if row.seq != seq or record.seq != seq:
        raise ForkError(_("record {seq} is missing from the ledger file").format(seq=seq))
    if record.device != verifier.device_id:
        raise ForkError(_("record {seq} belongs to another device").format(seq=seq))
    if not verifier.signature_ok(row.data, row.sig):
        raise ForkError(
            _("record {seq}: the signature does not verify with the device key").format(seq=seq)
        )
    if record.prev != verifier.state.head_hash:
        raise ForkError(_("record {seq} does not link to the record before it").format(seq=seq))
    broken = verifier.check_rule(record)
    if broken is not None:
        raise ForkError(_("record {seq}: {message}").format(seq=seq, message=broken[1]))
    return record


def adopt_branch(session: Session, fork: Fork, rows: Iterable[Row], user_id: int | None) -> int:
    """Verify the forked side's records from the fork point on (its old ledger's rows) and
    hold the new ones apart (``HeldRecord``), for an administrator to approve or refuse
    (``web.forks_approval``), in the caller's transaction. Returns how many were added; a
    second upload, while no decision is taken, adds only what is new. Raises
    :class:`ForkError`."""
    if fork.status not in (Fork.CONFIRMED, Fork.ASKED):
        raise ForkError(_("the adoption of this branch was decided already: nothing can be added"))
    origin = fork.device
    wanted = sorted((row for row in rows if row.seq >= fork.fork_seq), key=lambda row: row.seq)
    evidence = session.get(Evidence, fork.evidence_id)
    if not wanted or evidence is None or wanted[0].data != bytes(evidence.data):
        raise ForkError(
            _(
                "this ledger is not the forked side's: its record {seq} is not the one refused"
            ).format(seq=fork.fork_seq)
        )
    verifier = Verifier(origin.public_key or b"", origin.device_id or "")
    verifier.state = LedgerState.from_json(fork.held_state or fork.base_state)
    held = verifier.state.head_seq if fork.held_state else 0
    if held:
        kept = session.scalar(
            select(HeldRecord.hash).where(HeldRecord.fork_id == fork.id, HeldRecord.seq == held)
        )
        if not any(row.seq == held and hash_of(row.data) == kept for row in wanted):
            raise ForkError(_("this ledger does not hold the branch uploaded already"))
    now, stored = clock.now(), []
    for row in wanted:
        if row.seq <= held:
            continue
        record = _checked(verifier, row, verifier.state.head_seq + 1)
        verifier.accept(record)
        stored.append(HeldRecord(fork_id=fork.id, seq=record.seq, kind=record.kind.value,
                                 box=record.box, wall_ms=record.wall_ms, data=row.data,
                                 sig=row.sig, hash=record.hash, held_by=user_id,
                                 held_at=now))  # fmt: skip
    session.add_all(stored)
    fork.held_state = verifier.state.to_json()
    fork.status, fork.adopted_by, fork.adopted_at = Fork.ASKED, user_id, now
    fork.adopted = verifier.state.head_seq - fork.fork_seq + 1
    record_step(session, user_id, BRANCH_HELD, origin, seq=fork.fork_seq,
                through=verifier.state.head_seq, records=len(stored),
                branch=fork.branch.device_id)  # fmt: skip
    session.flush()
    return len(stored)


def branch_origins(session: Session) -> dict[int, BranchOrigin]:
    """branch device pk → what its walk needs (``web.opening.devices_of``). None before
    migration 0018 (an earlier migration recounts opened boxes with today's code)."""
    if not inspect(session.connection()).has_table(Fork.__tablename__):
        return {}
    found = {}
    for fork in session.scalars(select(Fork).where(Fork.status == Fork.ADOPTED)):
        base = Checkpoint(fork.fork_seq - 1, fork.base_hash, fork.base_state)
        origin = fork.device
        found[fork.branch_pk] = BranchOrigin(origin.device_id or "", origin.public_key or b"", base)
    return found


# --- a record altered on the server -----------------------------------------------------------


def _held(session: Session, device: Device, seq: int) -> LedgerRecord | None:
    return session.scalar(
        select(LedgerRecord).where(LedgerRecord.device_pk == device.id, LedgerRecord.seq == seq)
    )


def repairable(session: Session, device: Device, copies: Iterable[Row]) -> list[Row]:
    """The device's own copies (from its ledger file, or the evidence it re-sent) of held
    records that no longer verify, each copy correctly signed and linking to the held
    records on both sides."""
    verifier = Verifier(device.public_key or b"", device.device_id or "")
    found = []
    for copy in copies:
        held = _held(session, device, copy.seq)
        if held is None or bytes(held.data) == copy.data:
            continue
        stored = Row(held.seq, bytes(held.data), bytes(held.sig))
        sound = verifier.is_own(stored) and hash_of(stored.data) == held.hash
        if sound or not verifier.is_own(copy):
            continue  # the held record is sound (a fork, not damage), or the copy is not
        if _links(session, device, decode(copy.data)):
            found.append(copy)
    return found


def _links(session: Session, device: Device, record: Record) -> bool:
    before = _held(session, device, record.seq - 1) if record.seq > 1 else None
    after = _held(session, device, record.seq + 1)
    if record.seq > 1 and (before is None or hash_of(bytes(before.data)) != record.prev):
        return False
    if after is not None:
        return decode(bytes(after.data)).prev == record.hash
    return record.seq != device.head_seq or record.hash == device.head_hash


def repair_record(session: Session, device: Device, copy: Row, user_id: int | None) -> None:
    """Replace the held record ``copy.seq`` by the device's copy (checked again by
    :func:`repairable`), keeping the damaged bytes (in the caller's transaction)."""
    if not repairable(session, device, [copy]):
        raise ForkError(_("record {seq} cannot be repaired from this copy").format(seq=copy.seq))
    held = _held(session, device, copy.seq)
    assert held is not None
    record = decode(copy.data)
    session.add(RecordRepair(device_pk=device.id, seq=copy.seq, damaged_data=bytes(held.data),
                             damaged_sig=bytes(held.sig), hash=record.hash,
                             confirmed_by=user_id, at=clock.now()))  # fmt: skip
    session.flush()  # (the repair's row first: the database lets only a repair rewrite)
    held.data, held.sig, held.hash = copy.data, copy.sig, record.hash
    held.kind, held.box, held.wall_ms = record.kind.value, record.box, record.wall_ms
    held.receipt = receipt_code(record.hash) if record.kind is Kind.VOTE else None
    record_step(session, user_id, RECORD_REPAIRED, device, seq=copy.seq)
    session.flush()


def evidence_rows(session: Session, device: Device) -> Sequence[Row]:
    """What the device re-sent and the server kept as evidence, as rows."""
    return [
        Row(e.seq, bytes(e.data), bytes(e.sig))
        for e in session.scalars(select(Evidence).where(Evidence.device_pk == device.id))
    ]


def branch_checks(
    count: BoxCount, session: Session | None = None, office_id: int | None = None
) -> list[Check]:
    """A warning for each adopted branch that brings ballots to this opening: whoever could
    copy a card could have written the branch, so even approved by a second person (its
    label names who asked and who approved) its ballots count only if the committee, at the
    opening, gives its reason to accept them (a warning needs one; it is in the minutes).
    With ``session`` and ``office_id``: also a warning for each branch of the office whose
    adoption waits for approval, its ballots held apart and not counted."""
    checks = []
    for check in count.devices:
        brought = check.votes + sum(check.supplement_votes.values())
        if check.device.signer and brought:
            checks.append(
                Check(
                    "adopted_branch",
                    WARNING,
                    check.device.device_id,
                    _(
                        "{count} ballots come from branch {branch} ({label}), adopted after "
                        "device {device}'s card was copied or restored: count them only if "
                        "the committee accepts them (the evidence on the device's fork page)"
                    ).format(
                        count=brought,
                        branch=check.device.device_id,
                        label=check.device.label,
                        device=check.device.signer,
                    ),
                )
            )
    if session is not None and office_id is not None:
        checks += held_checks(session, office_id, count.box)
    return checks


def held_checks(session: Session, office_id: int, box: str) -> list[Check]:
    """A warning for each branch of ``office_id`` whose adoption waits for an
    administrator's approval: its ballots of ``box`` and earlier boxes are held apart."""
    rows = session.execute(
        select(Fork, func.count(HeldRecord.id))
        .join(Device, Device.id == Fork.branch_pk)
        .join(HeldRecord, HeldRecord.fork_id == Fork.id)
        .where(Device.office_id == office_id, Fork.status == Fork.ASKED,
               HeldRecord.kind == Kind.VOTE.value, HeldRecord.box <= box)
        .group_by(Fork.id)
        .order_by(Fork.id)
    ).all()  # fmt: skip
    asked = dict(
        session.execute(select(User.id, User.display_name).where(
            User.id.in_([fork.adopted_by for fork, _n in rows]))).all()
    )  # fmt: skip
    return [
        Check(
            "held_branch",
            WARNING,
            fork.branch.device_id or "",
            _(
                "{count} ballots of branch {branch} (device {device}'s chain forked at record "
                "{seq}), whose adoption {asked} asked for, are held apart and not counted: an "
                "administrator who did not ask must approve or refuse the adoption on the "
                "device's fork page; approved after this opening, they are counted in the "
                "supplement of the next one"
            ).format(
                count=ballots,
                branch=fork.branch.device_id,
                device=fork.device.device_id,
                seq=fork.fork_seq,
                asked=asked.get(fork.adopted_by or 0, "—"),
            ),
        )
        for fork, ballots in rows
    ]
