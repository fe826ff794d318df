"""Taking in a batch of a device's signed records: all of it, or none of it.

Pure of Flask: the API hands over a database session, the device row and the decoded
batch; this module applies the ledger's own rules (``hom_phieu.ledger.verify.Verifier``: the same
ones ``hom-phieu kiosk verify`` applies on the device) to each new record against the
records already held, and stores the new ones in one transaction. What it answers:

* records the server already holds byte for byte: duplicates, a no-op (resends are safe);
* a different, validly signed record for a sequence number already held: equivocation,
  the mark of a cloned or rolled-back device; kept as :class:`Evidence`, raised as an
  :class:`Alert`, and nothing else of the batch is stored;
* a batch starting beyond the next expected record: a gap, answered with where to resume;
* anything that breaks the chain or the rules (a forged signature, another device's
  record, a broken link, a reordered batch): refused, naming the first bad record, and
  raised as an alert naming the device (``web.device_alerts``);
* records dated ahead of the server's time: stored, and raised as an alert.

Nothing here logs or returns a record's content: boxes stay sealed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from hom_phieu.i18n import _
from hom_phieu.ledger.faults import Fault
from hom_phieu.ledger.records import (
    Record,
    RecordFormatError,
    decode,
    record_hash,
)
from hom_phieu.ledger.verify import Verifier
from web import clock
from web.device_alerts import alert_equivocation, alert_if_ahead, alert_refused
from web.device_state import StateCache, device_verifier, insert_rows, move_head, row_of
from web.models import Device, Evidence, LedgerRecord
from web.parallel import parallel_signatures

ATTEMPTS = 3  # a push racing another push of the same records is retried, then refused
SEQ_MISMATCH = "seq-mismatch"  # the envelope's seq differs from the record's own


class Refusal(Exception):
    """The batch is refused: an HTTP status, a stable error code, words, and details."""

    def __init__(self, status: int, error: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.extra = status, error, message, extra

    def answer(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, **self.extra}


@dataclass(frozen=True, slots=True)
class Incoming:
    """One record as the device sent it: its claimed seq, its bytes, its signature."""

    seq: int
    data: bytes
    sig: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a successful push did, and what the acknowledgement vouches for."""

    stored: int
    duplicates: int
    head_seq: int  # the server's contiguous head for this device
    ack_seq: int  # the last record of the batch (the head when the batch was empty)
    ack_hash: str


def ingest(
    session: Session, device: Device, batch: Sequence[Incoming], cache: StateCache
) -> Outcome:
    """Check and store ``batch`` for ``device`` in one transaction; raises :class:`Refusal`.

    A concurrent push of the same records (a retry racing the original) loses on the
    (device, seq) uniqueness and is tried again, when its records are duplicates. Records
    the chain's rules refuse (422) raise an alert naming the device.
    """
    for attempt in range(ATTEMPTS):
        try:
            return _ingest_once(session, device, batch, cache)
        except Refusal as refusal:
            if refusal.status == 422:
                session.rollback()
                alert_refused(session, device, refusal.message, clock.now())
            raise
        except (IntegrityError, OperationalError):
            session.rollback()
            session.refresh(device)
            if attempt == ATTEMPTS - 1:
                raise Refusal(
                    503, "busy", _("another push for this device is being stored; send again")
                ) from None
    raise AssertionError("unreachable")


def _ingest_once(
    session: Session, device: Device, batch: Sequence[Incoming], cache: StateCache
) -> Outcome:
    _check_order(batch)
    head_seq, head_hash = device.head_seq, device.head_hash
    held = [item for item in batch if item.seq <= head_seq]
    new = [item for item in batch if item.seq > head_seq]
    duplicates = _check_held(session, device, held)
    if new and new[0].seq != head_seq + 1:
        raise Refusal(
            409,
            "gap",
            _("the server holds records up to {head}: send from record {resume} on").format(
                head=head_seq, resume=head_seq + 1
            ),
            resume_from=head_seq + 1,
        )
    if not new:
        last = held[-1] if held else None
        return Outcome(
            0,
            duplicates,
            head_seq,
            last.seq if last else head_seq,
            record_hash(last.data) if last else head_hash,
        )
    verifier = device_verifier(session, device, cache)
    received = clock.now()
    rows, records = [], []
    signed = _signatures(verifier, new)
    for item, signature_ok in zip(new, signed, strict=True):
        record = _checked(verifier, item, signature_ok)
        verifier.accept(record)
        rows.append(row_of(device, record, item.sig, received))
        records.append(record)
    alert_if_ahead(session, device, records, received)
    insert_rows(session, rows)
    move_head(device, verifier.state)
    device.last_seen_at = received
    session.commit()
    cache.put(device.device_id or "", verifier.state)
    return Outcome(len(new), duplicates, device.head_seq, device.head_seq, device.head_hash)


def _check_order(batch: Sequence[Incoming]) -> None:
    """The batch must be consecutive records in ledger order."""
    if not batch:
        return
    claimed = [item.seq for item in batch]
    first = min(claimed)
    for position, seq in enumerate(claimed):
        expected = first + position
        if seq == expected:
            continue
        if seq < expected:
            fault, message = Fault.INSERTED, _("record {seq} stands where {expected} belongs")
        elif expected in claimed[position + 1 :]:
            fault, message = Fault.REORDERED, _("record {seq} stands before record {expected}")
        else:
            fault, message = Fault.REMOVED, _("record {expected} is missing from the batch")
        raise _refused(seq, fault, message.format(seq=seq, expected=expected))


def _check_held(session: Session, device: Device, held: Sequence[Incoming]) -> int:
    """Count the records already held byte for byte; refuse or expose any that differ."""
    if not held:
        return 0
    stored = dict(
        session.execute(
            select(LedgerRecord.seq, LedgerRecord.data).where(
                LedgerRecord.device_pk == device.id,
                LedgerRecord.seq.between(held[0].seq, held[-1].seq),
            )
        ).all()
    )
    verifier = Verifier(device.public_key or b"", device.device_id or "")
    for item in held:
        kept = stored.get(item.seq)
        if kept is None:  # below the head everything is held: the database is damaged
            raise RuntimeError(f"device {device.device_id}: record {item.seq} missing below head")
        if bytes(kept) == item.data:
            if not verifier.signature_ok(item.data, item.sig):
                raise _refused(item.seq, Fault.BAD_SIGNATURE, _bad_signature())
            continue
        record = _readable(item, verifier, verifier.signature_ok(item.data, item.sig))
        _expose_equivocation(session, device, item, record)
    return len(held)


def _expose_equivocation(
    session: Session, device: Device, item: Incoming, record: Record
) -> NoReturn:
    """Keep the second record for a seq as evidence (once), raise an alert, refuse."""
    seen = session.scalar(
        select(func.count())
        .select_from(Evidence)
        .where(
            Evidence.device_pk == device.id, Evidence.seq == item.seq, Evidence.data == item.data
        )
    )
    reason = _(
        "device {device} signed two different records numbered {seq}: the device was cloned "
        "or restored from an old copy"
    ).format(device=device.device_id, seq=item.seq)
    if not seen:
        session.add(
            Evidence(device_pk=device.id, seq=item.seq, data=item.data, sig=item.sig, reason=reason)
        )
        alert_equivocation(session, device, item.seq, clock.now())
        session.commit()
    raise Refusal(409, "equivocation", reason, seq=record.seq)


def _signatures(verifier: Verifier, items: Sequence[Incoming]) -> list[bool]:
    """Every signature of the batch, checked on all cores; the chain rules then run in
    order."""
    return parallel_signatures(lambda item: verifier.signature_ok(item.data, item.sig), items)


def _readable(item: Incoming, verifier: Verifier, signature_ok: bool) -> Record:
    """Decode, check the seq, the device and the signature (not yet the chain)."""
    try:
        record = decode(item.data)
    except RecordFormatError as exc:
        raise _refused(
            item.seq,
            Fault.UNREADABLE,
            _("the bytes are not a record ({reason})").format(reason=exc),
        ) from None
    if record.seq != item.seq:
        raise _refused(
            item.seq,
            SEQ_MISMATCH,
            _("the batch says record {seq} but the record says {own}").format(
                seq=item.seq, own=record.seq
            ),
        )
    if record.device != verifier.device_id:
        raise _refused(
            item.seq,
            Fault.FOREIGN,
            _("the record belongs to device {other}, not to this device {device}").format(
                other=record.device, device=verifier.device_id
            ),
        )
    if not signature_ok:
        raise _refused(item.seq, Fault.BAD_SIGNATURE, _bad_signature())
    return record


def _checked(verifier: Verifier, item: Incoming, signature_ok: bool) -> Record:
    """A new record, checked against everything before it by the ledger's own rules."""
    record = _readable(item, verifier, signature_ok)
    if record.prev != verifier.state.head_hash:
        raise _refused(
            item.seq,
            Fault.REPLACED,
            _("it does not link to record {previous} as the server holds it").format(
                previous=record.seq - 1
            ),
        )
    broken = verifier.check_rule(record)
    if broken is not None:
        raise _refused(item.seq, broken[0], broken[1])
    return record


def _bad_signature() -> str:
    return _("the signature does not verify with the device key")


def _refused(seq: int, fault: str, message: str) -> Refusal:
    return Refusal(
        422,
        "record-refused",
        _("record {seq}: {message}").format(seq=seq, message=message),
        seq=seq,
        fault=str(fault),
    )
