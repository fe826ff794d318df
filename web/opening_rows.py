"""One device's chain read from the database and walked into a count.

The rows come in sequence order through the session's connection (plain rows, not the ORM:
an opening reads a million); :func:`count_job` is the same walk whether the opening runs it
in the server's process or in a worker (:mod:`web.opening_workers`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, select
from sqlalchemy.orm import Session

from web.box_count import BoxCount, Checkpoint, DeviceRef, HeldRow, count_device
from web.ceremony_calendar import next_box
from web.clock_ahead import received_ms
from web.models import LedgerRecord
from web.parallel import SignatureWorkers


@dataclass(frozen=True, slots=True)
class DeviceJob:
    """What the count of one device's chain needs besides its rows."""

    device: DeviceRef
    start: Checkpoint | None  # of an earlier opening (None: from the genesis)
    already_counted: dict[str, int]  # box -> last seq earlier openings counted
    held_in_box: int  # rows of the office filed under the box


def count_job(
    count: BoxCount,
    job: DeviceJob,
    session: Session,
    office_id: int,
    opened: frozenset[str],
    workers: SignatureWorkers | None,
) -> None:
    """Walk one device's chain from the database into ``count`` (here or in a worker)."""
    after = job.start.seq if job.start else 0
    count_device(
        count,
        job.device,
        rows_of(session, job.device.pk, after_seq=after),
        office_id=office_id,
        next_box=next_box(count.box),
        opened_boxes=opened,
        already_counted=job.already_counted,
        held_in_box=job.held_in_box,
        start=job.start,
        workers=workers,
    )


def rows_of(session: Session, device_pk: int, after_seq: int = 0) -> Iterator[HeldRow]:
    """A device's records after ``after_seq`` in sequence order, streamed from the
    database (through the session's connection, not the ORM: plain rows, for a million)."""
    query = (
        select(
            LedgerRecord.seq,
            LedgerRecord.data,
            LedgerRecord.sig,
            LedgerRecord.box,
            LedgerRecord.office_id,
            LedgerRecord.received_at,
            LedgerRecord.kind,
        )
        .where(LedgerRecord.device_pk == device_pk, LedgerRecord.seq > after_seq)
        .order_by(LedgerRecord.seq)
    )
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        rows: Iterable[Any] = _binary_rows(connection, query, f"rows_of_{device_pk}")
    else:
        rows = connection.execute(query.execution_options(yield_per=2000))
    for seq, data, sig, box, office_id, received_at, kind in rows:
        arrived = received_ms(received_at)
        yield HeldRow(seq, bytes(data), bytes(sig), box, office_id, arrived, kind)


def _binary_rows(connection: Connection, query: Select[Any], name: str) -> Iterator[Any]:
    """``query``'s rows from PostgreSQL in its binary format, through a server-side cursor:
    in text, each record's bytes come as hex that the server writes and the client reads
    back (twice the bytes, and half the CPU of a million-record opening's fetch)."""
    compiled = query.compile(dialect=connection.dialect)
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor(name=name, binary=True) as cursor:
        cursor.itersize = 2000
        cursor.execute(str(compiled), compiled.params)
        yield from cursor
