"""Gathering an office's chains from the database and counting a box from them.

Each device's records are streamed in sequence order and walked by
:func:`web.box_count.count_device` from the checkpoint of an earlier opening
(:mod:`web.chain_checkpoints`). A large opening on PostgreSQL walks its devices in worker
processes, a whole chain each (:mod:`web.opening_workers`); otherwise they are walked here,
one after another, their signatures checked ahead on all cores (:mod:`web.parallel`). Both
give the same count: the same walk, merged in the devices' order.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select, union
from sqlalchemy.orm import Session

from hom_phieu.ledger.box_key import BoxPrivateKey
from web.ballot_channels import TicketRule
from web.box_count import BoxCount, DeviceRef
from web.ceremony_calendar import next_box
from web.chain_checkpoints import usable_checkpoints
from web.forks import branch_origins
from web.models import CountedRange, Device, Evidence, LedgerRecord, Office, Opening
from web.opening_rows import DeviceJob, count_job
from web.opening_workers import count_in_workers
from web.parallel import SignatureWorkers
from web.ticket_lookup import ticket_lookup


def count_box(
    session: Session,
    office: Office,
    box: str,
    keys: Mapping[str, BoxPrivateKey] | None = None,
) -> BoxCount:
    """Verify every device that holds records of ``office`` and count ``box`` (and the
    late ballots of boxes opened before). ``keys``: the box keys rebuilt for the opening,
    by fingerprint (None: sealed ballots are numbered, not read).
    Each chain is walked from the checkpoint of an earlier opening (web.chain_checkpoints)."""
    opened = frozenset(
        session.scalars(
            select(Opening.box).where(
                Opening.office_id == office.id, Opening.status == Opening.OPENED
            )
        )
    )
    counted = _already_counted(session, office.id)
    held = dict(
        session.execute(
            select(LedgerRecord.device_pk, func.count())
            .where(LedgerRecord.office_id == office.id, LedgerRecord.box == box)
            .group_by(LedgerRecord.device_pk)
        ).all()
    )
    following = next_box(box)
    starts = usable_checkpoints(session, office.id, opened, following)
    jobs = [
        DeviceJob(
            device,
            starts.get(device.pk),
            counted.get(device.pk, {}),
            held.get(device.pk, 0),
        )
        for device in devices_of(session, office.id)
    ]
    count = count_in_workers(session, office.id, box, keys, opened, jobs)
    if count is not None:
        return count
    count = BoxCount(box, tickets=TicketRule(ticket_lookup(session, office.id)), keys=keys)
    with SignatureWorkers() as workers:  # on all cores, for this opening only
        for job in jobs:
            count_job(count, job, session, office.id, opened, workers)
    return count


def devices_of(session: Session, office_id: int) -> list[DeviceRef]:
    """Enrolled devices of the office and any device that filed records under it."""
    with_records = select(LedgerRecord.device_pk).where(LedgerRecord.office_id == office_id)
    registered = select(Device.id).where(
        Device.office_id == office_id, Device.public_key.is_not(None)
    )
    ids = union(with_records, registered).subquery()
    devices = list(
        session.scalars(select(Device).where(Device.id.in_(select(ids))).order_by(Device.id))
    )
    evidence = dict(
        session.execute(select(Evidence.device_pk, func.count()).group_by(Evidence.device_pk)).all()
    )
    branches = branch_origins(session)  # adopted branches of forked chains (web.forks)
    return [
        DeviceRef(
            pk=d.id,
            device_id=d.device_id or "",
            public_key=branches[d.id].public_key if d.id in branches else d.public_key or b"",
            signer=branches[d.id].device_id if d.id in branches else "",
            base=branches[d.id].base if d.id in branches else None,
            label=d.label or d.device_id or "",
            counter=d.counter.name if d.counter else None,
            last_seen_at=d.last_seen_at,
            evidence=evidence.get(d.id, 0),
            survey=d.kind == "survey",
            counter_id=d.counter_id,
        )
        for d in devices
    ]


def _already_counted(session: Session, office_id: int) -> dict[int, dict[str, int]]:
    rows = session.execute(
        select(CountedRange.device_pk, CountedRange.box, func.max(CountedRange.through_seq))
        .join(Opening, CountedRange.opening_id == Opening.id)
        .where(Opening.office_id == office_id)
        .group_by(CountedRange.device_pk, CountedRange.box)
    )
    found: dict[int, dict[str, int]] = {}
    for device_pk, box, through in rows:
        found.setdefault(device_pk, {})[box] = through
    return found
