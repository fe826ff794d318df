"""The keys that seal the boxes: their public halves and who holds a share of each.

A :class:`BoxKey` is one office's key for one month (``purpose = "box"``), or a province's
escrow key (``purpose = "escrow"``, ``unit_id`` set, no month). The server keeps only the
public key, its fingerprint, how it was shared, and, for a box key under a province with
an escrow key, the box's master secret sealed to that escrow key (``escrow_wrap``), which
only the province's escrow holders together can open. The master secret itself exists
only on the share cards until the box is opened; then it is published here
(``published_master``), as the recount bundle needs it.

A :class:`KeyShare` says who was handed which share: the holder, the share's index, and a
digest to recognise it again (a card read back, a share given at the opening). Never the
share.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from web import clock
from web.models import Base, User


class BoxKey(Base):
    __tablename__ = "box_keys"
    __table_args__ = (UniqueConstraint("fingerprint"),)
    BOX, ESCROW = "box", "escrow"
    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(10))
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)  # escrow
    box: Mapped[str | None] = mapped_column(String(7))  # YYYY-MM; None for an escrow key
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    fingerprint: Mapped[str] = mapped_column(String(24))
    threshold: Mapped[int] = mapped_column(Integer)
    holders: Mapped[int] = mapped_column(Integer)
    escrow_key_id: Mapped[int | None] = mapped_column(ForeignKey("box_keys.id"))
    escrow_wrap: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # A box key replaced before its month began (a new committee): no longer handed out.
    retired_at: Mapped[datetime | None] = mapped_column()
    retired_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_master: Mapped[bytes | None] = mapped_column(LargeBinary)  # after the opening
    shares: Mapped[list[KeyShare]] = relationship(
        back_populates="box_key", order_by="KeyShare.member_index"
    )


class KeyShare(Base):
    __tablename__ = "key_shares"
    __table_args__ = (UniqueConstraint("box_key_id", "member_index"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    box_key_id: Mapped[int] = mapped_column(ForeignKey("box_keys.id"), index=True)
    member_index: Mapped[int] = mapped_column(Integer)  # SLIP-39's, 0-based
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    holder_name: Mapped[str] = mapped_column(String(200))  # as the card names the holder
    holder_role: Mapped[str] = mapped_column(String(30))  # committee role, or "escrow"
    digest: Mapped[str] = mapped_column(String(64))  # hom_phieu.ledger.key_shares.digest
    read_back_at: Mapped[datetime | None] = mapped_column()  # the holder typed it back
    box_key: Mapped[BoxKey] = relationship(back_populates="shares")
    user: Mapped[User | None] = relationship()
