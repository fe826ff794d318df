"""The read tokens of the results API: how they are made, stored and checked.

A token is a random secret (``hpr_`` and 43 URL-safe characters) shown once to the
administrator who issues it; the server keeps only its SHA-256 (``ReadToken.token_hash``),
so a copy of the database reads nothing. A request's token is hashed and looked up by
that hash (a unique index): the secret itself is never compared byte by byte, and the hash
found is compared again in constant time. ``last_used_at`` is written at most once a
minute per token, not on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hom_phieu.formatting import aware
from web import clock
from web.models_results import ReadToken
from web.unit_tree import subtree

PREFIX = "hpr_"
TOKEN = re.compile(r"[A-Za-z0-9_-]{16,200}")  # what a token may look like before lookup
TOUCH_EVERY = timedelta(minutes=1)


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


class TokenRefused(Exception):
    """No token, a malformed or unknown one, or a revoked one."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "missing", "malformed", "unknown", "revoked"


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads: a token's id and the units it may read (its unit and all below)."""

    token_id: int
    unit_id: int
    units: frozenset[int]


def bearer(header: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header."""
    if not header:
        raise TokenRefused("missing")
    scheme, _space, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not TOKEN.fullmatch(token):
        raise TokenRefused("malformed")
    return token


def authenticate(session: Session, header: str | None) -> Reader:
    """The reader a request's header names; stamps the token's last use (at most once a
    minute, committed at once, before the answer is read)."""
    digest = token_hash(bearer(header))
    row = session.scalar(select(ReadToken).where(ReadToken.token_hash == digest))
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise TokenRefused("unknown")
    if row.revoked_at is not None:
        raise TokenRefused("revoked")
    now = clock.now()
    if row.last_used_at is None or now - aware(row.last_used_at) >= TOUCH_EVERY:
        row.last_used_at = now
        session.commit()
    return Reader(row.id, row.unit_id, frozenset(subtree(session, row.unit_id)))
