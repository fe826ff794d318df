"""Read-only look at a ledger for ``kiosk verify`` and ``kiosk status``.

Works while the daemon is running (SQLite WAL readers do not block the writer) and
never writes. Shows what a technician may see: totals, never per-level or per-clerk
counts of a box that has not been opened by its committee.
"""

from __future__ import annotations

import base64
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hom_phieu.clock import local_iso
from hom_phieu.i18n import _
from hom_phieu.ledger.acks import acked_head_problem
from hom_phieu.ledger.device_key import DeviceKey, DeviceKeyError, fingerprint
from hom_phieu.ledger.errors import LedgerStoreError
from hom_phieu.ledger.faults import Fault, Problem
from hom_phieu.ledger.records import record_hash
from hom_phieu.ledger.state import LedgerState
from hom_phieu.ledger.store import LedgerStore
from hom_phieu.ledger.verify import LedgerWalk, Verifier
from kiosk.staff_faults import FaultWatch


@dataclass(frozen=True, slots=True)
class LedgerReport:
    path: Path
    device_id: str
    problem: Problem | str | None
    verifier: Verifier | None
    records: int
    by_kind: dict[str, int]
    acked_seq: int
    acked_hash: str | None = None
    ack_problem: Problem | str | None = None  # the ledger no longer holds what was acked
    faults: FaultWatch | None = None  # what the ledger says staff must know (clock, server)

    @property
    def intact(self) -> bool:
        return self.problem is None

    def status(self) -> dict[str, Any]:
        """The technician's view, as plain data (``kiosk status --json``)."""
        state = self.verifier.state if self.verifier else None
        open_box = state.open_box if state else None
        last = state.last_record if state else None
        return {
            "ledger": str(self.path),
            "device_id": self.device_id,
            "intact": self.intact,
            "problem": None if self.problem is None else str(self.problem),
            "records": self.records,
            "records_by_kind": self.by_kind,
            "head": {"seq": state.head_seq, "hash": state.head_hash} if state else None,
            "open_box": {
                "box": open_box.box,
                "opened_seq": open_box.open_seq,
                "ballots": open_box.votes,
                "refused_presses": open_box.refused,
            }
            if open_box
            else None,
            "closed_boxes": list(state.closed_boxes) if state else [],
            "server_ack": {
                "seq": self.acked_seq,
                "hash": self.acked_hash,
                "held": self.ack_problem is None,
                "problem": None if self.ack_problem is None else str(self.ack_problem),
            }
            if self.acked_hash is not None or self.ack_problem is not None
            else None,
            "unsynced_records": max(
                0, (state.head_seq if state else self.records) - self.acked_seq
            ),
            "faults": self.faults.status(self.acked_seq) if self.faults else {},
            "last_boot": _last_boot(state),
            "last_record": {
                "seq": last.seq,
                "kind": last.kind.value,
                "wall_time": local_iso(last.wall_ms),
                "time_quality": last.tq.value,
            }
            if last
            else None,
        }


def _last_boot(state: LedgerState | None) -> dict[str, Any] | None:
    boot = state.last_boot if state else None
    if boot is None:
        return None
    return {
        "boot": boot.boot,
        "wall_time": local_iso(boot.wall_ms),
        "time_quality": boot.tq.value,
        "software": boot.body.get("software"),
    }


def inspect_ledger(path: Path, key_path: Path | None = None) -> LedgerReport:
    """Verify the ledger at ``path`` without writing to it.

    The public key comes from the ledger itself; when the device key file is readable
    it must be the same key, or the whole ledger is foreign to this device.
    """
    store = LedgerStore(path, readonly=True)
    try:
        return _inspect(store, key_path)
    except sqlite3.DatabaseError as exc:
        return LedgerReport(
            path=path,
            device_id="?",
            problem=_("the ledger file is damaged: {detail}").format(detail=exc),
            verifier=None,
            records=0,
            by_kind={},
            acked_seq=0,
        )
    finally:
        store.close()


def _inspect(store: LedgerStore, key_path: Path | None) -> LedgerReport:
    # One read transaction: the records and the acknowledgement from the same moment,
    # while the daemon goes on appending and syncing.
    store.conn.execute("BEGIN")
    try:
        return _inspect_snapshot(store, key_path)
    finally:
        if store.conn.in_transaction:
            store.conn.execute("ROLLBACK")


def _inspect_snapshot(store: LedgerStore, key_path: Path | None) -> LedgerReport:
    problem: Problem | str | None = store.integrity_problem()
    if problem is not None:
        problem = _("SQLite integrity check failed: {detail}").format(detail=problem)
    meta = store.meta()
    public_raw = base64.b64decode(meta.get("public_key", ""))
    device_id = meta.get("device_id", "?")
    if problem is None and len(public_raw) != 32:
        problem = _("the ledger holds no device public key")
    if problem is None and fingerprint(public_raw) != device_id:
        problem = _("the ledger's device id does not match its public key")
    if problem is None and key_path is not None and key_path.exists():
        problem = _key_mismatch(key_path, public_raw, device_id)
    verifier, faults = None, FaultWatch()
    if problem is None:
        walk = LedgerWalk(store.iter_rows(), public_raw, device_id)
        for record in walk:
            faults.see(record)
        problem, verifier = walk.problem, walk.verifier
    acked, ack_problem = _acked(store, verifier if problem is None else None)
    return LedgerReport(
        path=store.path,
        device_id=device_id,
        problem=problem if problem is not None else ack_problem,
        verifier=verifier,
        records=store.record_count(),
        by_kind=store.count_by_kind(),
        acked_seq=acked[0] if acked else 0,
        acked_hash=acked[1] if acked else None,
        ack_problem=ack_problem,
        faults=faults,
    )


def _acked(
    store: LedgerStore, verifier: Verifier | None
) -> tuple[tuple[int, str] | None, Problem | str | None]:
    """The server's last acknowledged head, and (for an intact chain) whether the ledger
    still holds it: a ledger cut below it is a chain without fault, but records the
    server holds are gone."""
    try:
        acked = store.acked()
    except LedgerStoreError as exc:
        return None, str(exc)
    if verifier is None:
        return acked, None

    def hash_at(seq: int) -> str | None:
        row = store.row_at(seq)
        return record_hash(row.data) if row is not None else None

    return acked, acked_head_problem(acked, verifier.state, hash_at)


def _key_mismatch(key_path: Path, public_raw: bytes, device_id: str) -> Problem | str | None:
    try:
        key = DeviceKey.load_or_create(key_path)
    except DeviceKeyError as exc:
        return str(exc)
    if key.public_raw == public_raw:
        return None
    return Problem(
        0,
        None,
        Fault.FOREIGN,
        _("the ledger was written by device {ledger}, not by this device {key}").format(
            ledger=device_id, key=key.device_id
        ),
    )
