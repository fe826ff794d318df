"""Wrong enrollment codes per address: a slow-down for scripts guessing codes.

Counted in the database (``enroll_failures``), by the application's clock, so every server
process sharing the database sees the same count and a restart forgets nothing. A code
has 31^12 possibilities and expires in hours: this only keeps a script from trying
thousands a second, so the count and the new row are not one atomic step (two workers
may each let one more attempt through at the limit).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from web import clock
from web.models import EnrollFailure

ENROLL_FAILURES = 10  # wrong codes per address …
ENROLL_WINDOW = timedelta(minutes=15)  # … in this window, then enrollment waits


def address_key(address: str) -> str:
    """The address as a keyed hash: never stored in clear."""
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, address.encode(), hashlib.sha256).hexdigest()


def enroll_blocked(session: Session, address: str) -> bool:
    """Whether ``address`` sent too many wrong codes within the window."""
    failures = session.scalar(
        select(func.count())
        .select_from(EnrollFailure)
        .where(
            EnrollFailure.address == address_key(address),
            EnrollFailure.at >= clock.now() - ENROLL_WINDOW,
        )
    )
    return (failures or 0) >= ENROLL_FAILURES


def enroll_failed(session: Session, address: str) -> None:
    """Count a wrong code from ``address``, committed at once (the refusal that follows
    rolls the request's transaction back); rows past the window are deleted."""
    now = clock.now()
    session.execute(delete(EnrollFailure).where(EnrollFailure.at < now - ENROLL_WINDOW))
    session.add(EnrollFailure(address=address_key(address), at=now))
    session.commit()
