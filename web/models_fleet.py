"""Device heartbeats kept as history (``web.fleet_history``): what a device reported and
when, for its device page.

Bounded: a heartbeat is kept when the device's condition changed (out of service, printer,
screen, clock, refusals: ``web.fleet_health.CONDITION_FIELDS``), when it comes back after a
silence longer than the offline threshold, and otherwise at most one an hour; rows older
than ``KEEP_DAYS`` are deleted. The latest report is on the device row (``devices.health``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import JSON

from web import clock
from web.models import Base


class DeviceHeartbeat(Base):
    __tablename__ = "device_heartbeats"
    __table_args__ = (Index("ix_device_heartbeats_device_at", "device_pk", "received_at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    received_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    previous_at: Mapped[datetime | None] = mapped_column()  # the report before it (kept or not)
    changed: Mapped[bool] = mapped_column(default=False)  # its condition differs from before
    report: Mapped[dict] = mapped_column(JSON, default=dict)  # as kept in devices.health
