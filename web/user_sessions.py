"""Server-side sessions: a login is a row the server can end.

The browser's signed session cookie carries a random token; the server keeps only its
SHA-256 in ``user_sessions`` with the account, when it began, when it was last used and
when it was revoked. Every request looks the token up (one primary-key lookup joined to
its account), so a copied cookie stops working the moment its session ends:

- logging out revokes that session;
- a password change or an administrator's reset, and deactivating the account, revoke
  every session of the account;
- a session unused for ``IDLE`` ends by itself.

``last_seen_at`` is written at most every ``TOUCH_EVERY``, not on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from web import clock
from web.models import User
from web.models_accounts import UserSession

IDLE = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=5)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def start(session: Session, user_id: int) -> str:
    """A new session of ``user_id`` (in the caller's transaction); its token for the cookie.
    The account's ended sessions are deleted on the way."""
    now = clock.now()
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user_id,
            or_(UserSession.revoked_at.is_not(None), UserSession.last_seen_at < now - IDLE),
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(UserSession(id=_digest(token), user_id=user_id, created_at=now, last_seen_at=now))
    return token


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite: naive, in UTC


def load(session: Session, token: str) -> User | None:
    """The active account whose live session ``token`` is, or None."""
    found = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.id == _digest(token))
    ).first()
    if found is None:
        return None
    row, user = found
    now = clock.now()
    last_seen = _aware(row.last_seen_at)
    if row.revoked_at is not None or not user.active or last_seen < now - IDLE:
        return None
    if now - last_seen >= TOUCH_EVERY:
        row.last_seen_at = now
        session.commit()
    return user


def revoke(session: Session, token: str) -> None:
    """End one session (logging out)."""
    session.execute(
        update(UserSession)
        .where(UserSession.id == _digest(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )


def revoke_all(session: Session, user_id: int) -> None:
    """End every session of ``user_id`` (a new password, a deactivated account)."""
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )
