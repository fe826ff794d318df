"""The box bundle of an opened box, built from the database (``docs/recount.md``).

What an independent recount needs and nothing it does not: the minutes' canonical bytes as
stored, each device the minutes name with its public key and its signed records from its
first up to the last one the opening counted (further when a phone answer's ticket, or
the fault the minutes name, lies beyond), the box keys published at the openings up to this
one, and what the openings before this one had opened and counted. An adopted branch of a
forked chain (``web.forks``) comes with its fork point and base state, and the forked
device's records at least up to the fork point (what ties the branch to its chain); a
record repaired on the server with the damaged bytes it replaced. The format is
:mod:`web.bundle_format`'s; :mod:`web.bundle_verify` reads it.
"""

from __future__ import annotations

import itertools
from typing import IO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hom_phieu.ledger.records import Kind, decode
from web.ballot_channels import ticket_code
from web.box_count import DeviceRef, HeldRow
from web.bundle_format import (
    BundleBranch,
    BundleDevice,
    BundleKey,
    BundleRepair,
    CountedBefore,
    Manifest,
    write_bundle,
)
from web.minutes import Minutes
from web.minutes_build import moment
from web.models import CountedRange, LedgerRecord, Opening
from web.models_forks import RecordRepair
from web.models_seal import BoxKey
from web.opening_count import devices_of
from web.opening_rows import rows_of


def bundle_name(opening: Opening) -> str:
    return f"hom-phieu-{opening.office.code}-{opening.box}.zip"


def write_box_bundle(session: Session, opening: Opening, out: IO[bytes]) -> Manifest:
    """The bundle of ``opening`` (an opened box) into ``out``."""
    if opening.status != Opening.OPENED or opening.minutes is None or opening.opened_at is None:
        raise ValueError("only an opened box has a bundle")
    office = opening.office
    minutes = Minutes.from_bytes(opening.minutes)
    named = {entry.device_id: entry for entry in minutes.devices}
    devices = [device for device in devices_of(session, office.id) if device.device_id in named]
    before = _openings_before(session, opening)
    last = _counted_through(session, [opening.id])
    for device in devices:
        problem = named[device.device_id].problem
        if problem is not None and problem.seq is not None:  # the fault the minutes name
            last[device.pk] = max(last.get(device.pk, 0), problem.seq)
    for device_pk, seq in _tickets_needed(session, office.id, devices, last):
        last[device_pk] = max(last.get(device_pk, 0), seq)
    for device_pk, seq in _fork_points(devices):  # a branch's tie to the chain it forks
        last[device_pk] = max(last.get(device_pk, 0), seq)
    ids = {device.pk: device.device_id for device in devices}
    manifest = Manifest(
        office_id=office.id,
        office_code=office.code,
        office_name=office.name,
        box=opening.box,
        minutes_sha256=opening.minutes_hash or "",
        opened_before=tuple(sorted({o.box for o in before})),
        counted_before=tuple(
            CountedBefore(ids[pk], box, through)
            for (pk, box), through in sorted(_ranges(session, [o.id for o in before]).items())
            if pk in ids
        ),
        devices=tuple(
            BundleDevice(
                d.pk, d.device_id, d.public_key, d.label, d.counter, last.get(d.pk, 0), _branch(d)
            )
            for d in devices
        ),
        keys=_published_keys(session, office.id, opening.box),
        repairs=_repairs(session, devices, last),
    )
    rows = {d.device_id: _rows_through(session, d.pk, last.get(d.pk, 0)) for d in devices}
    write_bundle(out, manifest, opening.minutes, rows)
    return manifest


def _branch(device: DeviceRef) -> BundleBranch | None:
    base = device.base
    if base is None or not device.signer:
        return None
    return BundleBranch(device.signer, base.seq + 1, base.hash, base.state)


def _fork_points(devices: list[DeviceRef]) -> list[tuple[int, int]]:
    """(forked device, the last record before the fork) of each adopted branch: the recount
    verifies the branch's base from the forked device's own records up to it."""
    pks = {device.device_id: device.pk for device in devices}
    return [
        (pks[device.signer], device.base.seq)
        for device in devices
        if device.base is not None and device.signer in pks
    ]


def _repairs(
    session: Session, devices: list[DeviceRef], last: dict[int, int]
) -> tuple[BundleRepair, ...]:
    """The repairs of the records the bundle holds (``web.forks.repair_record``)."""
    ids = {device.pk: device.device_id for device in devices}
    repairs = session.scalars(
        select(RecordRepair)
        .where(RecordRepair.device_pk.in_(list(ids)))
        .order_by(RecordRepair.device_pk, RecordRepair.seq, RecordRepair.id)
    )
    return tuple(
        BundleRepair(
            ids[r.device_pk], r.seq, moment(r.at), bytes(r.damaged_data), bytes(r.damaged_sig)
        )
        for r in repairs
        if r.seq <= last.get(r.device_pk, 0)
    )


def _openings_before(session: Session, opening: Opening) -> list[Opening]:
    """The office's boxes opened before this one (what the opening knew as opened)."""
    assert opening.opened_at is not None
    return [
        other
        for other in session.scalars(
            select(Opening).where(
                Opening.office_id == opening.office_id,
                Opening.status == Opening.OPENED,
                Opening.id != opening.id,
            )
        )
        if other.opened_at is not None
        and (other.opened_at, other.id) < (opening.opened_at, opening.id)
    ]


def _ranges(session: Session, opening_ids: list[int]) -> dict[tuple[int, str], int]:
    """(device, box) → the last seq these openings counted."""
    if not opening_ids:
        return {}
    rows = session.execute(
        select(CountedRange.device_pk, CountedRange.box, func.max(CountedRange.through_seq))
        .where(CountedRange.opening_id.in_(opening_ids))
        .group_by(CountedRange.device_pk, CountedRange.box)
    )
    return {(pk, box): through for pk, box, through in rows}


def _counted_through(session: Session, opening_ids: list[int]) -> dict[int, int]:
    """Device → the last seq these openings counted, whatever the box."""
    last: dict[int, int] = {}
    for (pk, _box), through in _ranges(session, opening_ids).items():
        last[pk] = max(last.get(pk, 0), through)
    return last


def _rows_through(session: Session, device_pk: int, last: int):
    return itertools.takewhile(lambda row: row.seq <= last, rows_of(session, device_pk))


def _tickets_needed(
    session: Session, office_id: int, devices: list[DeviceRef], last: dict[int, int]
) -> list[tuple[int, int]]:
    """(device, seq) of the button ballots whose receipt codes the bundle's phone answers
    name: the recount classifies those answers by them (``web.ballot_channels``)."""
    codes: set[str] = set()
    for device in devices:
        if not device.survey:
            continue  # (phone answers are the survey ledger's)
        for row in _rows_through(session, device.pk, last.get(device.pk, 0)):
            codes.update(_ticket(row))
    if not codes:
        return []
    found = session.execute(
        select(LedgerRecord.device_pk, LedgerRecord.seq).where(
            LedgerRecord.receipt.in_(sorted(codes)),
            LedgerRecord.office_id == office_id,
            LedgerRecord.kind == "VOTE",
        )
    )
    return [(pk, seq) for pk, seq in found]


def _ticket(row: HeldRow) -> list[str]:
    record = decode(row.data)
    code = ticket_code(record.body) if record.kind is Kind.VOTE else None
    return [code] if code is not None else []


def _published_keys(session: Session, office_id: int, box: str) -> tuple[BundleKey, ...]:
    """The office's box keys published at openings, up to this box (its own, and those of
    the earlier boxes whose late ballots it counts)."""
    keys = session.scalars(
        select(BoxKey)
        .where(
            BoxKey.office_id == office_id,
            BoxKey.box <= box,
            BoxKey.published_master.is_not(None),
        )
        .order_by(BoxKey.box, BoxKey.id)
    )
    return tuple(
        BundleKey(key.fingerprint, key.box, bytes(key.public_key), bytes(key.published_master))
        for key in keys
        if key.published_master is not None
    )


__all__ = ["bundle_name", "write_box_bundle"]
