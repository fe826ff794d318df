"""A member's own browser: their way through while a stranger hammers their account.

After each successful login the browser gets (or keeps) a signed cookie naming the
accounts that logged in with it, each with a random nonce (OWASP's "device cookies"). A
login for one of those accounts from that browser is then a *trusted channel* of its own
in ``web.login_throttle``: the failures of unknown browsers, for that account or from that
address, do not slow it; only its own failures do. The cookie grants nothing else: it is
no session and lets no one in without the password. Signed with the server's secret (so
it cannot be made up), dated by the server's clock, kept ``LIFETIME``; a stolen one is
throttled like any channel.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from web import clock
from web.login_throttle import channel_key

COOKIE = "hom_phieu_browser"
LIFETIME = timedelta(days=180)
MAX_ACCOUNTS = 5  # a shared office computer: the most recent accounts are kept


@dataclass(frozen=True)
class Entry:
    username: str
    nonce: str
    issued_s: int  # server time, seconds since the epoch


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="hom-phieu trusted browser")


def _entries() -> list[Entry]:
    """This request's cookie, read strictly: anything unsigned, malformed or old is nothing."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return []
    try:
        payload = _serializer().loads(raw)
    except BadSignature:
        return []
    oldest = clock.now().timestamp() - LIFETIME.total_seconds()
    if not isinstance(payload, list):
        return []
    return [
        Entry(*item)
        for item in payload
        if isinstance(item, list)
        and len(item) == 3
        and isinstance(item[0], str)
        and isinstance(item[1], str)
        and type(item[2]) is int
        and item[2] >= oldest
    ][:MAX_ACCOUNTS]


def channel(username: str) -> str | None:
    """The trusted channel of ``username`` in this browser, or None (an unknown browser)."""
    for entry in _entries():
        if entry.username == username:
            return channel_key("browser", f"{entry.username}\0{entry.nonce}")
    return None


def remember(response: Response, username: str) -> None:
    """After ``username`` logged in: this browser is theirs (the nonce is kept, so its
    failure count stays one; the date is renewed)."""
    entries = _entries()
    known = next((entry for entry in entries if entry.username == username), None)
    nonce = known.nonce if known else secrets.token_urlsafe(16)
    kept = [entry for entry in entries if entry.username != username][: MAX_ACCOUNTS - 1]
    payload = [[username, nonce, int(clock.now().timestamp())]]
    payload += [[entry.username, entry.nonce, entry.issued_s] for entry in kept]
    response.set_cookie(
        COOKIE,
        _serializer().dumps(payload),
        max_age=int(LIFETIME.total_seconds()),
        secure=current_app.config["SESSION_COOKIE_SECURE"],
        httponly=True,
        samesite="Lax",
    )
