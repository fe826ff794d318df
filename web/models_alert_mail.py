"""Alert e-mail (``web.alert_mail``): one row per alert and recipient.

A row is made when an alert first needs mailing to a user (``pending``); the sweep's
delivery sends it (``sent``, with the ``message_id`` of the mail that carried it: one
mail, or a digest of several), retries it with backoff while the SMTP server fails
(``attempts``, ``next_attempt_at``, ``error``), or drops it (``skipped``: the alert was
resolved before it could be sent, or the address was refused). Unique per alert and
user: an alert raised again (same row, ``seen_count`` + 1) is never mailed twice; one
re-opened after its resolution is a new alert, hence a new mail.

The recipients' address and their choice are on ``users`` (``email``, ``alert_mail``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from web import clock
from web.models import Base

PENDING = "pending"
SENT = "sent"
SKIPPED = "skipped"


class AlertMail(Base):
    __tablename__ = "alert_mails"
    __table_args__ = (
        UniqueConstraint("alert_id", "user_id", name="uq_alert_mails_alert_user"),
        Index("ix_alert_mails_user_status", "user_id", "status"),
        Index("ix_alert_mails_user_sent", "user_id", "sent_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column()
    message_id: Mapped[str | None] = mapped_column(String(200))  # the mail that carried it
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    error: Mapped[str] = mapped_column(Text, default="")
