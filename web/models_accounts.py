"""The accounts' server-side state: who is logged in where, and recent failed logins.

Both tables hold no secret in clear: a session is stored under the SHA-256 of the token its
cookie carries, an address and a trusted channel under keyed hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from web import clock
from web.models import Base


class UserSession(Base):
    """One login: valid until logged out, revoked by a password change or reset (every
    session of the account), or idle too long (``web.user_sessions``)."""

    __tablename__ = "user_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_seen_at: Mapped[datetime] = mapped_column(default=clock.now)
    revoked_at: Mapped[datetime | None] = mapped_column()


class LoginFailure(Base):
    """A failed (or still being checked) password for an account name, kept only for the
    login throttle (``web.login_throttle``); rows older than its window are deleted.

    ``channel`` is None for an unknown browser; otherwise the keyed hash of a channel the
    account trusts (its own browser's cookie, a colleague's logged-in ceremony screen).
    """

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
