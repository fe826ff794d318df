"""Enrollment codes made for many counters at once (``web.enroll_batch``).

An :class:`EnrollmentBatch` says who made codes for which of an office's counters, when,
for how many days, and when they were last replaced; :class:`EnrollmentBatchDevice` names
the pending devices it made (one batch per device). The codes themselves are
:class:`web.models.Enrollment` rows: only their hashes are kept.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column, relationship

from web import clock
from web.models import Base, Device, Office, User


class EnrollmentBatch(Base):
    __tablename__ = "enrollment_batches"
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    valid_days: Mapped[int] = mapped_column(Integer)  # how long each code it issues lasts
    expires_at: Mapped[datetime] = mapped_column()  # of the codes issued last
    reissued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reissued_at: Mapped[datetime | None] = mapped_column()  # the last "new codes"
    office: Mapped[Office] = relationship()
    creator: Mapped[User | None] = relationship(foreign_keys=[created_by])
    members: Mapped[list[EnrollmentBatchDevice]] = relationship(
        back_populates="batch", order_by="EnrollmentBatchDevice.device_pk"
    )


class EnrollmentBatchDevice(Base):
    __tablename__ = "enrollment_batch_devices"
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("enrollment_batches.id"), index=True)
    batch: Mapped[EnrollmentBatch] = relationship(back_populates="members")
    device: Mapped[Device] = relationship()
