"""What the server holds of each device's chain: its verifier state at the held head, and
the rows its records are stored as.

The device row keeps the head (seq and hash) in the database, so every server process
agrees on it, and beside it the verifier state at that head (``devices.verifier_state``,
:meth:`LedgerState.to_json`), written with the head by :func:`move_head` in the same
transaction, the only place a head moves. A process finds that state in its own cache
(keyed by the head it describes), else reads it from the row; it replays the device's
records only when the row's state is missing (a head written before migration 0005), does
not parse or names another head, and then stores the replayed one. The records are stored
by :func:`insert_rows` in the caller's transaction, for kiosks' pushes (``web.ingest``)
and for the server's own phone-survey records (``web.survey_box``) alike.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from hom_phieu.ledger.grammar import record_problem
from hom_phieu.ledger.records import Kind, Record, decode, receipt_code
from hom_phieu.ledger.state import LedgerState, StateFormatError
from hom_phieu.ledger.verify import Verifier
from web.models import Device, LedgerRecord

log = logging.getLogger(__name__)


class StateCache:
    """Verifier states of recently seen devices, so a push need not even decode the state
    stored beside the head.

    Keyed by the head it describes: a hash chain's head fixes everything before it, so
    a state found under (device, seq, hash) is right whichever server process made it.
    """

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._states: OrderedDict[tuple[str, int, str], LedgerState] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, device_id: str, head_seq: int, head_hash: str) -> LedgerState | None:
        with self._lock:
            state = self._states.get((device_id, head_seq, head_hash))
            if state is None:
                return None
            self._states.move_to_end((device_id, head_seq, head_hash))
        return copy.deepcopy(state)

    def put(self, device_id: str, state: LedgerState) -> None:
        with self._lock:
            self._states[(device_id, state.head_seq, state.head_hash)] = state
            while len(self._states) > self._size:
                self._states.popitem(last=False)


ROW_COLUMNS = ("device_pk", "seq", "kind", "office_id", "box", "wall_ms", "data", "sig", "hash",
               "receipt", "received_at")  # fmt: skip


def insert_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write a batch in the caller's transaction, as fast as the database allows: ORM objects
    cost more than the signature checks, so plain rows; on PostgreSQL, COPY."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        columns = ", ".join(ROW_COLUMNS)
        with driver.cursor().copy(f"COPY ledger_records ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[name] for name in ROW_COLUMNS])
        return
    session.execute(insert(LedgerRecord), rows)


def row_of(device: Device, record: Record, sig: bytes, received: datetime) -> dict[str, Any]:
    """The ``ledger_records`` row of a verified ``record`` of ``device``."""
    return {
        "device_pk": device.id,
        "seq": record.seq,
        "kind": record.kind.value,
        "office_id": device.office_id,
        "box": record.box,
        "wall_ms": record.wall_ms,
        "data": record.data,
        "sig": sig,
        "hash": record.hash,
        "receipt": receipt_code(record.hash) if record.kind is Kind.VOTE else None,
        "received_at": received,
    }


def device_verifier(session: Session, device: Device, cache: StateCache) -> Verifier:
    """A verifier at the head the database holds for ``device``: the state cached, else the
    one stored beside the head, else replayed from the records held (and then stored in
    the caller's transaction, so the next process need not replay it)."""
    verifier = Verifier(device.public_key or b"", device.device_id or "")
    if device.head_seq == 0:
        return verifier  # nothing held yet: the fresh state
    state = cache.get(verifier.device_id, device.head_seq, device.head_hash)
    if state is None:
        state = _stored(device)
    if state is None:
        state = _replayed(session, device)
        device.verifier_state = state.to_json()
    verifier.state = state
    return verifier


def move_head(device: Device, state: LedgerState) -> None:
    """Move ``device``'s head to the verifier ``state``'s, storing the state with it (in the
    caller's transaction: the head and its state are never committed apart)."""
    device.head_seq, device.head_hash = state.head_seq, state.head_hash
    device.verifier_state = state.to_json()


def _stored(device: Device) -> LedgerState | None:
    """The state stored beside the head, when it parses and describes exactly that head
    (anything else is logged, never trusted: the caller replays)."""
    text = device.verifier_state
    if text is None:
        return None  # a head written before the state was kept: replayed once
    try:
        state = LedgerState.from_json(text)
    except StateFormatError as exc:
        log.warning("device %s: stored verifier state unreadable (%s); replaying its records",
                    device.device_id, exc)  # fmt: skip
        return None
    if (state.head_seq, state.head_hash) != (device.head_seq, device.head_hash):
        log.warning("device %s: stored verifier state is not at its head %s; replaying its "
                    "records", device.device_id, device.head_seq)  # fmt: skip
        return None
    return state


def _replayed(session: Session, device: Device) -> LedgerState:
    """The verifier state at the device's head, from the records held.

    They were verified on the way in, so only their effect is replayed (no signatures,
    but the record grammar: a row edited by hand in the database must not crash it), and
    only from the last CLOSE on: before it, nothing the rules look at survives except
    the boot counter, which every record carries.
    """
    verifier = Verifier(device.public_key or b"", device.device_id or "")
    if device.head_seq == 0:
        return verifier.state
    last_close = session.scalar(
        select(func.max(LedgerRecord.seq)).where(
            LedgerRecord.device_pk == device.id, LedgerRecord.kind == Kind.CLOSE.value
        )
    )
    rows = session.execute(
        select(LedgerRecord.data)
        .where(
            LedgerRecord.device_pk == device.id,
            LedgerRecord.seq >= (last_close or 1),
            LedgerRecord.seq <= device.head_seq,
        )
        .order_by(LedgerRecord.seq)
    ).scalars()
    for data in rows:
        record = decode(bytes(data))
        malformed = record_problem(record)  # (cheap, and no crash on a hand-edited row)
        if malformed is not None:
            raise RuntimeError(f"device {device.device_id}: held record {record.seq}: {malformed}")
        if verifier.state.head_seq == 0:
            verifier.state.boot = record.boot
        verifier.accept(record)
    if (verifier.state.head_seq, verifier.state.head_hash) != (device.head_seq, device.head_hash):
        raise RuntimeError(f"device {device.device_id}: held records do not reach its head")
    return verifier.state
