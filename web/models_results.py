"""What the reports read: the opened results, frozen at each opening as aggregate rows, and
the read tokens province systems use for them.

A :class:`ResultCell` is one opening's ballots of one month for one clerk at one counter,
of one procedure field and one channel, per level. The opening writes its cells in the
same transaction as its minutes (``web.result_cells``) and the database refuses any change
to them afterwards, so every report (``web.report_query``) sums exactly what the
committees signed. Sealed boxes have no cells: nothing here can be read before an opening.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from web import clock
from web.models import Base


class ResultCell(Base):
    """Ballots counted by an opening for ``box`` (the box itself, or an earlier box's late
    ballots: its supplement), for one clerk × counter × field × channel, per level."""

    __tablename__ = "result_cells"
    __table_args__ = (
        Index("ix_result_cells_unit_box", "unit_id", "box"),
        Index("ix_result_cells_office_box", "office_id", "box"),
        Index("ix_result_cells_clerk_box", "clerk_id", "box"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    opening_id: Mapped[int] = mapped_column(ForeignKey("openings.id"), index=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))  # the office's, at the opening
    box: Mapped[str] = mapped_column(String(7))  # the month the ballots belong to, YYYY-MM
    supplement: Mapped[bool] = mapped_column(default=False)  # late ballots of an earlier box
    clerk_code: Mapped[str] = mapped_column(String(40))
    clerk_id: Mapped[int | None] = mapped_column(ForeignKey("clerks.id"))  # None: not listed
    clerk_name: Mapped[str] = mapped_column(String(200))  # as the minutes name the clerk
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"))
    counter_name: Mapped[str] = mapped_column(String(200))  # as the minutes name the counter
    field_name: Mapped[str] = mapped_column(String(200))  # the clerk's field ("—": none)
    channel: Mapped[str] = mapped_column(String(20))  # web.ballot_channels.BallotChannel
    very_satisfied: Mapped[int] = mapped_column(Integer)
    satisfied: Mapped[int] = mapped_column(Integer)
    not_satisfied: Mapped[int] = mapped_column(Integer)
    votes: Mapped[int] = mapped_column(Integer)


class ReadToken(Base):
    """A token a province system reads the opened results of one unit (and below) with.
    Only its hash is kept; an administrator issues and revokes it."""

    __tablename__ = "read_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_used_at: Mapped[datetime | None] = mapped_column()
