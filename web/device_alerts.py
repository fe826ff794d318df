"""Alerts that name a kiosk whose records are wrong: refused, or dated ahead of the server.

Both come from a push (``web.ingest``) and go to the alerts page (``web.alerts_page``) of
the people who act on the device's office. A device keeps pushing the same records while
it is wrong: ``web.alerts.raise_alert`` keeps one open alert per kind and device (a push
again only updates when it was last seen), so a device cannot flood the page.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hom_phieu import formatting
from hom_phieu.ledger.records import Record, record_hash
from web.alerts import AlertKind, open_key, raise_alert, resolve
from web.clock_ahead import is_ahead, received_ms
from web.models import Alert, Device, Evidence, LedgerRecord
from web.models_forks import Fork

REFUSED_KIND = str(AlertKind.RECORDS_REFUSED)
AHEAD_KIND = str(AlertKind.CLOCK_AHEAD)
EQUIVOCATION_KIND = str(AlertKind.EQUIVOCATION)
FORK_KINDS = (AlertKind.EQUIVOCATION, AlertKind.RECORDS_REFUSED)
ADOPTED_NOTE = "fork recovered: branch adopted"  # (the audit's words)


def alert_refused(session: Session, device: Device, reason: str, now: datetime) -> None:
    """The server refused ``device``'s records for ``reason``: an alert naming it (a
    restored or cloned card, a rewritten tail: it keeps taking votes that will never sync
    until a technician recovers it). Committed here: the push itself is refused."""
    details = {"device": device.device_id or "", "reason": reason[:1000]}
    raise_alert(session, AlertKind.RECORDS_REFUSED, device.office_id, device, details, now)
    session.commit()


def alert_equivocation(session: Session, device: Device, seq: int, now: datetime) -> None:
    """``device`` signed two different records numbered ``seq`` (a clone or a restored
    card). In the caller's transaction."""
    details = {"device": device.device_id or "", "seq": seq}
    raise_alert(session, AlertKind.EQUIVOCATION, device.office_id, device, details, now)


def alert_if_ahead(
    session: Session, device: Device, records: Sequence[Record], received: datetime
) -> None:
    """An alert naming ``device`` when ``records`` (being stored) are dated ahead of their
    arrival (one open alert while its clock stays wrong). In the caller's transaction."""
    arrived = received_ms(received)
    latest = max((r.wall_ms for r in records), default=0)
    if arrived is None or not is_ahead(latest, arrived):
        return
    details = {
        "device": device.device_id or "",
        "dated": formatting.date_time(latest)[:16],
        "now": formatting.date_time(arrived)[:16],
    }
    raise_alert(session, AlertKind.CLOCK_AHEAD, device.office_id, device, details, received)


def unresolved_forks(session: Session, device_pks: Collection[int]) -> dict[int, int]:
    """device pk -> the first seq where its chain forked and is not recovered yet: evidence
    (``web.ingest``) whose fork was not adopted (``web.forks``) and which still differs from
    the record the server holds (a record altered on the server and repaired from the
    device's copy is no fork any more)."""
    if not device_pks:
        return {}
    adopted = select(Fork.evidence_id).where(Fork.status.in_(Fork.DECIDED))  # (or refused)
    rows = session.execute(
        select(Evidence.device_pk, Evidence.seq, Evidence.data, LedgerRecord.hash)
        .outerjoin(LedgerRecord, (LedgerRecord.device_pk == Evidence.device_pk)
                   & (LedgerRecord.seq == Evidence.seq))
        .where(Evidence.device_pk.in_(list(device_pks)), Evidence.id.not_in(adopted))
        .order_by(Evidence.seq)
    )  # fmt: skip
    found: dict[int, int] = {}
    for device_pk, seq, data, held in rows:
        if device_pk not in found and record_hash(bytes(data)) != held:
            found[device_pk] = seq
    return found


def last_adoptions(session: Session, device_pks: Collection[int]) -> dict[int, datetime]:
    """device pk -> when a branch of its forked chain was last adopted."""
    if not device_pks:
        return {}
    rows = session.execute(
        select(Fork.device_pk, func.max(Fork.adopted_at))
        .where(Fork.device_pk.in_(list(device_pks)), Fork.status == Fork.ADOPTED)
        .group_by(Fork.device_pk)
    )
    return {pk: formatting.aware(at) for pk, at in rows if at is not None}


def resolve_fork_alerts(session: Session, device: Device, now: datetime) -> int:
    """The forked side's branch of ``device`` is adopted: its open equivocation and
    records-refused alerts are resolved, by the system (audited with no user). In the
    caller's transaction; returns how many were resolved."""
    keys = [open_key(kind, device, device.office_id) for kind in FORK_KINDS]
    resolved = 0
    for alert in list(session.scalars(select(Alert).where(Alert.open_key.in_(keys)))):
        resolved += resolve(session, alert, None, now, ADOPTED_NOTE)
    return resolved
