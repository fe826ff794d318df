"""Every heartbeat (``POST /api/v1/health``) on the device row, and the telling ones kept as
history (``web.models_fleet.DeviceHeartbeat``: condition changes, returns after a silence,
else one an hour; ``KEEP_DAYS`` at most)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hom_phieu import formatting
from web.fleet_health import Thresholds, annotated, condition_changed
from web.models import Device
from web.models_fleet import DeviceHeartbeat

KEEP_DAYS = 90
EVERY = timedelta(hours=1)  # at most one unchanged heartbeat kept per device in this time


def keep(session: Session, device: Device, report: dict[str, Any], now: datetime) -> bool:
    """Put ``report`` (the model's JSON) on ``device`` with the server's notes, and keep it
    as history when it tells something. In the caller's transaction; True: kept."""
    previous = device.health or {}
    previous_at = device.last_seen_at
    health = annotated(previous, report, now)
    device.health = health  # (a new dict: the JSON column notices the change)
    device.last_seen_at = now
    changed = condition_changed(previous, report)
    offline = timedelta(minutes=Thresholds.of(session).offline_minutes)
    silent = previous_at is None or now - formatting.aware(previous_at) > offline
    last_kept = session.scalar(
        select(func.max(DeviceHeartbeat.received_at)).where(DeviceHeartbeat.device_pk == device.id)
    )
    due = last_kept is None or now - formatting.aware(last_kept) >= EVERY
    if not (changed or silent or due):
        return False
    session.add(DeviceHeartbeat(device_pk=device.id, received_at=now, previous_at=previous_at,
                                changed=changed, report=health))  # fmt: skip
    if due:
        session.execute(
            delete(DeviceHeartbeat).where(
                DeviceHeartbeat.device_pk == device.id,
                DeviceHeartbeat.received_at < now - timedelta(days=KEEP_DAYS),
            )
        )
    return True


@dataclass(frozen=True, slots=True)
class Beat:
    """A kept heartbeat as the device page shows it."""

    at: datetime
    silent_since: datetime | None  # it came back after a silence since then (else None)
    changed: bool
    report: dict[str, Any]


def history(
    session: Session, device: Device, thresholds: Thresholds, limit: int = 50
) -> list[Beat]:
    """The device's kept heartbeats, the newest first."""
    offline = timedelta(minutes=thresholds.offline_minutes)
    rows = session.scalars(
        select(DeviceHeartbeat)
        .where(DeviceHeartbeat.device_pk == device.id)
        .order_by(DeviceHeartbeat.received_at.desc(), DeviceHeartbeat.id.desc())
        .limit(limit)
    )
    beats = []
    for row in rows:
        at = formatting.aware(row.received_at)
        before = None if row.previous_at is None else formatting.aware(row.previous_at)
        silent = before if before is not None and at - before > offline else None
        beats.append(Beat(at, silent, row.changed, row.report or {}))
    return beats
