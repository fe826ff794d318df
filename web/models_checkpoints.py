"""Where each device's chain stood, verified, after an opening: the next opening of the
office walks the chain from there (O(month), not O(history)).

A :class:`ChainCheckpoint` is taken at a record such that every record of the office up to
it lies in a box already opened or counted by that opening (``web.chain_checkpoints``).
Append-only.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from web.models import Base


class ChainCheckpoint(Base):
    __tablename__ = "chain_checkpoints"
    __table_args__ = (UniqueConstraint("opening_id", "device_pk"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    opening_id: Mapped[int] = mapped_column(ForeignKey("openings.id"))
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)  # the last record verified up to it
    hash: Mapped[str] = mapped_column(String(64))  # that record's hash
    state: Mapped[str] = mapped_column(Text)  # the verifier's state after it (LedgerState JSON)
