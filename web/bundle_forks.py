"""What ``hom-phieu box verify`` (:mod:`web.bundle_verify`) checks of a forked chain's adopted
branch and of a record repaired on the server (``web.forks``), from the bundle alone.

An adopted branch (``BundleDevice.branch``) holds the forked side's records from the fork
point on, signed by the forked device's key. Its walk starts from the state of the forked
device's own chain just before the fork point: that state is recomputed here from the
forked device's records in the bundle (never taken from the manifest), and the manifest's
base is compared with it. The branch is walked with the forked device's key and id, so a
record not signed by that key is named by the walk.

A repaired record (``Manifest.repairs``): the records file holds the device's copy, the
manifest the damaged bytes the server held before. A box opened before the repair was
counted from the damaged bytes: the recount reads them as the opening did, and checks that
the copy is the device's own signed record. Pure: no database, no Flask.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime

from hom_phieu.i18n import _
from hom_phieu.ledger.state import LedgerState
from hom_phieu.ledger.verify import LedgerWalk, Verifier
from web.box_count import Checkpoint, DeviceRef, HeldRow
from web.bundle_format import Bundle, BundleDevice, BundleRepair
from web.parallel import AheadVerifier, SignatureWorkers


def device_ref(
    bundle: Bundle, device: BundleDevice, workers: SignatureWorkers, faults: list[str]
) -> DeviceRef:
    """What the count walks ``device`` with: its own key and id, or for an adopted branch
    the forked device's, from the base its chain gives at the fork point."""
    plain = DeviceRef(device.pk, device.device_id, device.public_key, device.label,
                      device.counter, None)  # fmt: skip
    branch = device.branch
    if branch is None:
        return plain
    stated = Checkpoint(branch.fork_seq - 1, branch.base_hash, branch.base_state)
    named = {"device": device.device_id, "of": branch.of, "seq": branch.fork_seq}
    forked = [d for d in bundle.manifest.devices if d.device_id == branch.of and d.branch is None]
    if not forked:
        faults.append(
            _(
                "Device {device}: an adopted branch of device {of} from record {seq}, whose "
                "records the bundle does not hold"
            ).format(**named)
        )
        return replace(plain, signer=branch.of, base=stated)
    origin = forked[0]
    if device.public_key != origin.public_key:
        faults.append(
            _(
                "Device {device}: the branch's key is not the key of device {of}, whose chain "
                "it continues: its records are walked with {of}'s key"
            ).format(**named)
        )
    base = _base(bundle, origin, branch.fork_seq, workers)
    if base is None:
        faults.append(
            _(
                "Device {device}: the records of device {of} in the bundle do not verify up "
                "to record {before}, where the branch forks from it"
            ).format(before=branch.fork_seq - 1, **named)
        )
        base = stated
    elif base.hash != stated.hash:
        faults.append(
            _(
                "Device {device}: the branch starts after a record of hash {stated}; the "
                "chain of device {of} has {actual} before record {seq}"
            ).format(stated=stated.hash, actual=base.hash, **named)
        )
    elif base.state != stated.state:
        faults.append(
            _(
                "Device {device}: the branch's base state is not the state of device "
                "{of}'s chain before record {seq}"
            ).format(**named)
        )
    same = _same_first_record(bundle, origin, device, branch.fork_seq)
    if same:
        faults.append(
            _(
                "Device {device}: its record {seq} is the very record of device {of}: "
                "not a fork, the same ballots twice"
            ).format(**named)
        )
    return replace(plain, public_key=origin.public_key, signer=origin.device_id, base=base)


def _base(
    bundle: Bundle, origin: BundleDevice, fork_seq: int, workers: SignatureWorkers
) -> Checkpoint | None:
    """The verifier's state of ``origin``'s chain after record ``fork_seq - 1``, walked
    from its genesis over the bundle's records (None: they do not get there)."""
    if fork_seq == 1:
        state = LedgerState()
        return Checkpoint(0, state.head_hash, state.to_json())
    verifier = AheadVerifier(origin.public_key, origin.device_id, workers)
    prefix = itertools.takewhile(lambda row: row.seq < fork_seq, bundle.rows(origin))
    walk = LedgerWalk(verifier.checking_ahead(prefix), origin.public_key, origin.device_id,
                      complete=False, verifier=verifier)  # fmt: skip
    for _record in walk:
        pass
    state = verifier.state
    if walk.problem is not None or state.head_seq != fork_seq - 1:
        return None
    return Checkpoint(state.head_seq, state.head_hash, state.to_json())


def _same_first_record(
    bundle: Bundle, origin: BundleDevice, branch: BundleDevice, fork_seq: int
) -> bool:
    """Whether the branch's first record is byte for byte the forked device's own."""
    held = next((row for row in bundle.rows(origin) if row.seq >= fork_seq), None)
    first = next(iter(bundle.rows(branch)), None)
    return (
        held is not None and first is not None and held.seq == first.seq
        and held.data == first.data
    )  # fmt: skip


# --- repaired records ---------------------------------------------------------------------


def repaired_rows(
    rows: Iterable[HeldRow],
    device: DeviceRef,
    repairs: Iterable[BundleRepair],
    opened_at: datetime,
    faults: list[str],
    notes: list[str],
) -> Iterator[HeldRow]:
    """``device``'s rows as the opening read them: a record repaired after the opening as
    the damaged bytes it counted from, one repaired before as the device's copy."""
    mine = {r.seq: r for r in repairs if r.device_id == device.device_id}
    if not mine:
        yield from rows
        return
    verifier = Verifier(device.public_key, device.signer or device.device_id)
    for row in rows:
        repair = mine.get(row.seq)
        if repair is None:
            yield row
            continue
        named = {"device": device.device_id, "seq": row.seq, "at": repair.repaired_at}
        if not verifier.is_own(row):
            faults.append(
                _(
                    "Device {device}, record {seq}: the copy that replaced the damaged record "
                    "is not the device's signed record"
                ).format(**named)
            )
        if repair.repaired_at > opened_at:
            notes.append(
                _(
                    "Device {device}, record {seq}: altered on the server when the box was "
                    "opened, repaired on {at} from the device's copy; recounted as the "
                    "opening read it (a later opening counts the copy)"
                ).format(**named)
            )
            yield HeldRow(row.seq, repair.damaged_data, repair.damaged_sig, row.box,
                          row.office_id, row.received_ms, row.kind)  # fmt: skip
        else:
            notes.append(
                _(
                    "Device {device}, record {seq}: altered on the server, repaired on {at} "
                    "before the opening from the device's copy (the damaged bytes are in the "
                    "bundle)"
                ).format(**named)
            )
            yield row
