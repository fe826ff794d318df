"""Opening from where the last opening left each chain: O(month), not O(history).

Each opening stores, per device, a :class:`web.box_count.Checkpoint` (``ChainCheckpoint``
rows): a record up to which the chain was verified and every record of the office lies in
a box that opening counted or that was opened before it (``web.box_count.count_device``
takes it at the last such record: an opening of October on 3 November already holds
November's records, and after a clock correction a later record may lie in an earlier
box). The next opening of the office restores the verifier's state there and walks only
the records after it, with the same result as a walk of the whole chain.

A checkpoint is used only if no record of the office at or before it lies in a box not
opened yet (nor is the OPEN of the box after the one being opened, which the minutes
name): a query checks it, so that whatever the records say, nothing a count needs is
skipped. Records before it are not read again: a record altered there after it was
verified is not caught by the openings that follow (the counted boxes' minutes and
the recount bundles hold their figures).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from hom_phieu.ledger.state import LedgerState, StateFormatError
from web.box_count import Checkpoint, DeviceCheck
from web.ceremony_calendar import next_box
from web.models import LedgerRecord, Opening
from web.models_checkpoints import ChainCheckpoint

MONTHS_LISTED = 1200  # beyond a century of boxes, ask the database for the unopened rows


def usable_checkpoints(
    session: Session, office_id: int, opened: frozenset[str], following: str
) -> dict[int, Checkpoint]:
    """device pk → the latest checkpoint of an opening of the office that may be used to
    open a box now (``opened``: the office's opened boxes; ``following``: the box after
    the one being opened)."""
    stored = session.execute(
        select(ChainCheckpoint.id, ChainCheckpoint.device_pk, ChainCheckpoint.seq)
        .join(Opening, ChainCheckpoint.opening_id == Opening.id)
        .where(Opening.office_id == office_id, Opening.status == Opening.OPENED)
    ).all()
    if not stored:
        return {}
    first_unsettled = _first_unsettled(session, office_id, opened, following)
    best: dict[int, tuple[int, int]] = {}  # device pk -> (seq, checkpoint id)
    for checkpoint_id, device_pk, seq in stored:
        limit = first_unsettled.get(device_pk)
        if (limit is None or seq < limit) and seq > best.get(device_pk, (0, 0))[0]:
            best[device_pk] = (seq, checkpoint_id)
    chosen = session.scalars(
        select(ChainCheckpoint).where(ChainCheckpoint.id.in_([i for _, i in best.values()]))
    )
    found: dict[int, Checkpoint] = {}
    for row in chosen:
        held = session.scalar(
            select(LedgerRecord.hash).where(
                LedgerRecord.device_pk == row.device_pk, LedgerRecord.seq == row.seq
            )
        )
        if held == row.hash and _holds_together(row):
            found[row.device_pk] = Checkpoint(row.seq, row.hash, row.state)
    return found


def store_checkpoints(session: Session, opening_id: int, checks: Iterable[DeviceCheck]) -> None:
    """Keep where each device's walk may start at the next opening (in the caller's
    transaction), when it moved past the checkpoint this opening started from."""
    for check in checks:
        point = check.checkpoint
        if point is not None and point.seq > check.resumed_from:
            session.add(
                ChainCheckpoint(
                    opening_id=opening_id,
                    device_pk=check.device.pk,
                    seq=point.seq,
                    hash=point.hash,
                    state=point.state,
                )
            )


def _holds_together(row: ChainCheckpoint) -> bool:
    try:
        state = LedgerState.from_json(row.state)
    except StateFormatError:
        return False
    return (state.head_seq, state.head_hash) == (row.seq, row.hash)


def _first_unsettled(
    session: Session, office_id: int, opened: frozenset[str], following: str
) -> dict[int, int]:
    """device pk → the first seq of a record of the office in a box not opened, or of the
    OPEN of ``following``."""
    low, high = session.execute(
        select(func.min(LedgerRecord.box), func.max(LedgerRecord.box)).where(
            LedgerRecord.office_id == office_id, LedgerRecord.box > ""
        )
    ).one()
    months = _months(low, high) if low is not None else []
    if months is None:
        in_unopened = LedgerRecord.box.not_in(sorted(opened | {""}))
    else:
        in_unopened = LedgerRecord.box.in_([month for month in months if month not in opened])
    next_open = and_(LedgerRecord.box == following, LedgerRecord.kind == "OPEN")
    rows = session.execute(
        select(LedgerRecord.device_pk, func.min(LedgerRecord.seq))
        .where(LedgerRecord.office_id == office_id, or_(in_unopened, next_open))
        .group_by(LedgerRecord.device_pk)
    )
    return {device_pk: seq for device_pk, seq in rows}


def _months(low: str, high: str) -> list[str] | None:
    """Every box from ``low`` to ``high``; None when they are too many, or not boxes."""
    months = [low]
    try:
        while months[-1] < high:
            if len(months) > MONTHS_LISTED:
                return None
            months.append(next_box(months[-1]))
    except ValueError:
        return None
    return months
