"""Forked chains recovered (``web.forks``): a device whose chain split in two (a copied card,
a card restored from a backup, a rewritten tail), and records altered on the server repaired.

A :class:`Fork` is confirmed by a technician from the evidence the server kept
(``web.models.Evidence``): the seq where the two chains part (``fork_seq``), the verified
state of the common prefix just before it (``base_hash``, ``base_state``), the pending device
the forked side re-enrolls as with a new key (``new_device_pk``), and the device row that
holds its branch (``branch_pk``): the records from ``fork_seq`` on, signed by the old key,
verified from the base (their signatures, their links, the ledger's rules) when a technician
uploads them, then held apart (:class:`HeldRecord`, ``status`` asked) until an administrator,
another account, approves their adoption (``adopted``: copied under ``branch_pk`` and
counted) or refuses it (``refused``: kept apart for good). The database refuses a decided
fork's change and an approval by an account that confirmed the fork or uploaded its branch
(migration 0019).
A :class:`RecordRepair` keeps the bytes a damaged database held for a record, replaced by the
device's own correctly signed copy once an administrator confirmed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from web import clock
from web.models import Base, Device


class Fork(Base):
    __tablename__ = "forks"
    CONFIRMED = "confirmed"  # the new identity waits for the forked side's branch
    ASKED = "asked"  # its branch verified and held apart: an administrator's approval awaited
    ADOPTED = "adopted"  # approved: its branch is held under ``branch_pk`` and counted
    REFUSED = "refused"  # its branch's records stay apart for good, never counted
    DECIDED = (ADOPTED, REFUSED)  # final: the database refuses any change (migration 0019)
    id: Mapped[int] = mapped_column(primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)  # the origin
    fork_seq: Mapped[int] = mapped_column(BigInteger)  # the first record the chains differ on
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"))
    base_hash: Mapped[str] = mapped_column(String(64))  # of record fork_seq - 1 ("0"*64: none)
    base_state: Mapped[str] = mapped_column(Text)  # the verifier's state after it (JSON)
    status: Mapped[str] = mapped_column(String(10), default=CONFIRMED)
    new_device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"))  # re-enrolled side
    branch_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"), unique=True)
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime] = mapped_column(default=clock.now)
    adopted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    adopted_at: Mapped[datetime | None] = mapped_column()
    adopted: Mapped[int] = mapped_column(Integer, default=0)  # records of the branch held
    held_state: Mapped[str | None] = mapped_column(Text)  # the verifier's state after them
    # The second person (an administrator, never one who confirmed or uploaded): approved
    # (the branch counted) or refused (kept apart for good), with the reason given.
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column()
    refused_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    refused_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    device: Mapped[Device] = relationship(foreign_keys=[device_pk])
    new_device: Mapped[Device] = relationship(foreign_keys=[new_device_pk])
    branch: Mapped[Device] = relationship(foreign_keys=[branch_pk])


class HeldRecord(Base):
    """A record of a fork's branch, verified from the fork's base and held apart until the
    adoption is approved (then copied into ``ledger_records``); never changed or deleted."""

    __tablename__ = "fork_held_records"
    __table_args__ = (UniqueConstraint("fork_id", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    fork_id: Mapped[int] = mapped_column(ForeignKey("forks.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(10))
    box: Mapped[str] = mapped_column(String(7))
    wall_ms: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sig: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[str] = mapped_column(String(64))
    held_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # who uploaded it
    held_at: Mapped[datetime] = mapped_column(default=clock.now)


class RecordRepair(Base):
    __tablename__ = "record_repairs"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    damaged_data: Mapped[bytes] = mapped_column(LargeBinary)  # what the database held
    damaged_sig: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[str] = mapped_column(String(64))  # of the device's record, now held
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=clock.now)
