"""Alerts that name a kiosk whose records are wrong: refused, or dated ahead of the server.

Both come from a push (``web.ingest``) and go to the alerts of the device's office
(the administrators' and technicians' home page). A device keeps pushing the same records
while it is wrong, so each alert is raised once for the same reason, and at most once an
hour (refused) or a day (dated ahead) per device: a device cannot flood the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hom_phieu import formatting
from hom_phieu.i18n import _
from hom_phieu.ledger.records import Record
from web.clock_ahead import is_ahead, received_ms
from web.models import Alert, Device

REFUSED_KIND = "records_refused"
AHEAD_KIND = "clock_ahead"
REFUSED_EVERY = timedelta(hours=1)
AHEAD_EVERY = timedelta(days=1)


def alert_refused(session: Session, device: Device, reason: str, now: datetime) -> None:
    """The server refused ``device``'s records for ``reason``: an alert naming it (a
    restored or cloned card, a rewritten tail: it keeps taking votes that will never sync
    until a technician recovers it). Committed here: the push itself is refused."""
    message = _(
        "the server refuses the records of device {device}: {reason}. Its card may have been "
        "restored, cloned or rewritten; it keeps taking votes that cannot be synced"
    ).format(device=device.device_id, reason=reason)[:4000]
    raised = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(
            Alert.device_pk == device.id,
            Alert.kind == REFUSED_KIND,
            or_(Alert.message == message, Alert.at > now - REFUSED_EVERY),
        )
    )
    if not raised:
        session.add(_alert(REFUSED_KIND, device, message, now))
        session.commit()


def alert_if_ahead(
    session: Session, device: Device, records: Sequence[Record], received: datetime
) -> None:
    """An alert naming ``device`` when ``records`` (being stored) are dated ahead of their
    arrival; at most one a day while its clock stays wrong. In the caller's transaction."""
    arrived = received_ms(received)
    latest = max((r.wall_ms for r in records), default=0)
    if arrived is None or not is_ahead(latest, arrived):
        return
    recent = session.scalar(
        select(func.count())
        .select_from(Alert)
        .where(
            Alert.device_pk == device.id,
            Alert.kind == AHEAD_KIND,
            Alert.at > received - AHEAD_EVERY,
        )
    )
    if recent:
        return
    message = _(
        "device {device} sent records dated {dated}, ahead of the server's time {now}: its "
        "clock is wrong; their ballots are counted in the month they arrived"
    ).format(
        device=device.device_id,
        dated=formatting.date_time(latest)[:16],
        now=formatting.date_time(arrived)[:16],
    )
    session.add(_alert(AHEAD_KIND, device, message, received))


def _alert(kind: str, device: Device, message: str, at: datetime) -> Alert:
    return Alert(kind=kind, office_id=device.office_id, device_pk=device.id, message=message, at=at)
