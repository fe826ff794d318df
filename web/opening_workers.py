"""A large opening's devices counted in worker processes, a whole chain each.

Opening a big office's month walks a million records: each one's signature, and besides it
the decoding, the grammar and chain rules, the seal opened, the counting. Walked in the
server's process with the signatures checked by workers (:class:`web.parallel.SignatureWorkers`),
three busy processes share two cores and the walk, alone on its process, sets the pace (on
the bench, its CPU per record nearly doubled beside the workers). Here each worker walks
whole chains, signatures included, on its own connection: every core does all of a record's
work, and no process waits for another.

Only on PostgreSQL: each worker reads the opening transaction's own snapshot
(``pg_export_snapshot``), so the workers see exactly the rows the opening sees, provided that
transaction has written nothing yet (an opening writes after its count; a caller that has
written gets its devices walked in its own process). The parts come back in the devices'
order and are merged, so the count is the one a single walk gives. The one thing a part
cannot know of the others, a receipt ticket let through in two devices' chains (each ticket
counts once), sends the count back to a single walk, which decides as it always has.
"""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from hom_phieu.i18n import current_language, language
from hom_phieu.ledger.box_key import BoxPrivateKey
from web.ballot_channels import TicketRule, no_tickets
from web.box_count import BoxCount
from web.opening_rows import DeviceJob, count_job
from web.parallel import WORKERS
from web.ticket_lookup import ticket_lookup

PARALLEL_FROM = 100_000  # records of the box: fewer are walked in the server's process (a
# worker costs about a second to start and import the server's code)
_SNAPSHOT = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")  # PostgreSQL's snapshot names


@dataclass(frozen=True, slots=True)
class _Shared:
    """What every device's count in a worker shares."""

    url: str  # the server's database (the worker is the server's own child process)
    snapshot: str  # the opening transaction's, exported
    office_id: int
    box: str
    opened: frozenset[str]
    keys: tuple[tuple[str, bytes], ...] | None  # fingerprint, private key (None: no opening)
    language: str  # of the messages the walk writes (an opening's: Vietnamese)


def count_in_workers(
    session: Session,
    office_id: int,
    box: str,
    keys: Mapping[str, BoxPrivateKey] | None,
    opened: frozenset[str],
    jobs: Sequence[DeviceJob],
) -> BoxCount | None:
    """The count of ``jobs``, each device walked whole in a worker process; None when
    they are better (or can only be) walked in this process."""
    if WORKERS == 1 or len(jobs) < 2 or sum(job.held_in_box for job in jobs) < PARALLEL_FROM:
        return None
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return None
    written, snapshot = connection.execute(
        text("SELECT txid_current_if_assigned() IS NOT NULL, pg_export_snapshot()")
    ).one()
    if written:
        return None
    shared = _Shared(
        connection.engine.url.render_as_string(hide_password=False),
        snapshot,
        office_id,
        box,
        opened,
        None if keys is None else tuple((fp, key.private_raw()) for fp, key in keys.items()),
        current_language(),
    )
    longest_first = sorted(range(len(jobs)), key=lambda at: -jobs[at].held_in_box)
    spawn = multiprocessing.get_context("spawn")  # (the server's threads may hold locks)
    try:
        with ProcessPoolExecutor(min(WORKERS, len(jobs)), mp_context=spawn) as pool:
            futures = {at: pool.submit(_count_part, shared, jobs[at]) for at in longest_first}
            parts = [futures[at].result() for at in range(len(jobs))]
    except (BrokenProcessPool, OSError, OperationalError):
        return None  # a worker killed, or no connection to be had: walked here instead
    return merged(box, keys, parts)


def merged(
    box: str,
    keys: Mapping[str, BoxPrivateKey] | None,
    parts: Sequence[tuple[BoxCount, frozenset[str]]],
) -> BoxCount | None:
    """The devices' parts, in their order, as one count; None when two parts let the same
    receipt ticket through (a single walk must decide which of them it counts for)."""
    count = BoxCount(box, keys=keys)
    let_through: set[str] = set()
    for part, tickets in parts:
        if let_through & tickets:
            return None
        let_through |= tickets
        count.merge(part)
    return count


def _count_part(shared: _Shared, job: DeviceJob) -> tuple[BoxCount, frozenset[str]]:
    """In a worker: one device's chain counted, read in the opening's snapshot. The part
    goes back without its keys; with it, the receipt tickets its phone answers used."""
    if not _SNAPSHOT.fullmatch(shared.snapshot):
        raise ValueError(f"not a PostgreSQL snapshot name: {shared.snapshot!r}")
    keys = None
    if shared.keys is not None:
        keys = {fp: BoxPrivateKey.from_private_raw(raw) for fp, raw in shared.keys}
    with _engine(shared.url).connect() as plain:
        connection = plain.execution_options(isolation_level="REPEATABLE READ")
        connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{shared.snapshot}'")
        with Session(bind=connection) as session, language(shared.language):
            count = BoxCount(
                shared.box,
                tickets=TicketRule(ticket_lookup(session, shared.office_id)),
                keys=keys,
            )
            count_job(count, job, session, shared.office_id, shared.opened, None)
        connection.rollback()
    tickets = count.tickets.used
    count.forget_keys()
    count.tickets = TicketRule(no_tickets)  # (its lookup reads this worker's session)
    return count, tickets


@cache
def _engine(url: str) -> Engine:
    return create_engine(url, poolclass=NullPool)
