"""Failed logins slow the guesser down, never the member.

Every failed password is a row of ``login_failures`` (the account name as typed, the
address and the channel as keyed hashes, the time from the server's clock). Before a
password is checked, the failures already stored decide whether this client must wait;
nothing sleeps in a request: a client that must wait gets 429 with the time left.

Who is counted together (each rule: a few failures free, then a wait of 1 s, 2 s, 4 s …
from the latest failure, never more than ``MAX_DELAY``):

- ``ACCOUNT_ADDRESS``: one account from one address (an unknown browser). 3 free.
- ``ACCOUNT``: one account from every unknown browser together (a guesser with many
  addresses). 10 free.
- ``ADDRESS``: every account from one address (a guesser trying many names). 20 free;
  it slows that address only, never another.
- ``CHANNEL``: one account through a channel the account trusts, alone. 3 free.

A *trusted channel* is the member's own way through (OWASP's "device cookies"): the
browser in which the account logged in before (``web.trusted_browsers``), or the logged-in
screen of a colleague on which a committee member confirms an opening. Its failures are
counted apart and it is subject to no other rule, so a stranger who hammers ``chu-tich``
from anywhere, or every account from the office's own address, slows only unknown browsers:
the chairman still logs in from his own browser, and still confirms on the ceremony screen.
A guesser gets at most about one try per ``MAX_DELAY`` for an account from all unknown
browsers together, and the same through any one channel.

A success forgets the failures of its own key (that account from that address, or through
that channel) only: the per-account and per-address counts of everyone else stay, and
rows older than ``WINDOW`` are deleted.

An attempt is stored as a failure *before* its password is checked (and forgotten if it
was right), so concurrent requests see each other: a burst of parallel guesses does not get
past the count in the time one password hash takes. Two attempts whose rows commit in the
same instant may both be refused (the safe side).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.orm import Session

from web import clock
from web.models_accounts import LoginFailure

WINDOW = timedelta(hours=24)  # failures older than this are forgotten
FIRST_DELAY = timedelta(seconds=1)
MAX_DELAY = timedelta(minutes=15)


class Scope(StrEnum):
    ACCOUNT_ADDRESS = "account_address"
    ACCOUNT = "account"
    ADDRESS = "address"
    CHANNEL = "channel"


FREE_FAILURES = {Scope.ACCOUNT_ADDRESS: 3, Scope.ACCOUNT: 10, Scope.ADDRESS: 20, Scope.CHANNEL: 3}


@dataclass(frozen=True)
class Client:
    """Who is trying: the request's address and, when the account trusts it, the channel
    (a key from :func:`channel_key`)."""

    address: str
    channel: str | None = None


@dataclass(frozen=True)
class Wait:
    """A client that must wait before its next try, and why."""

    scope: Scope
    until: datetime

    def seconds(self) -> int:
        """Whole seconds left (at least 1)."""
        return max(1, math.ceil((self.until - clock.now()).total_seconds()))


def delay_after(failures: int, free: int) -> timedelta:
    """The wait after ``failures`` counted failures: none for the first ``free``, then
    doubling from ``FIRST_DELAY`` up to ``MAX_DELAY``."""
    if failures < free:
        return timedelta(0)
    doublings = min(failures - free, 30)  # 2**30 s is far past the cap already
    return min(MAX_DELAY, FIRST_DELAY * (1 << doublings))


def address_group(address: str) -> str:
    """The unit an address is counted by: an IPv6 host owns its whole /64, so rotating
    addresses inside it is no way around the count."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _keyed(kind: str, value: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()


def client(address: str, channel: str | None = None) -> Client:
    """The client of a request from ``address`` (through ``channel``, if trusted)."""
    return Client(address=_keyed("address", address_group(address)), channel=channel)


def channel_key(kind: str, value: str) -> str:
    """A trusted channel's key, never the value in clear (``kind`` keeps kinds apart)."""
    return _keyed(f"channel:{kind}", value)


def _rules(username: str, who: Client) -> dict[Scope, ColumnElement[bool]]:
    if who.channel is not None:
        return {
            Scope.CHANNEL: and_(
                LoginFailure.username == username, LoginFailure.channel == who.channel
            )
        }
    unknown = LoginFailure.channel.is_(None)
    return {
        Scope.ACCOUNT_ADDRESS: and_(
            unknown, LoginFailure.username == username, LoginFailure.address == who.address
        ),
        Scope.ACCOUNT: and_(unknown, LoginFailure.username == username),
        Scope.ADDRESS: and_(unknown, LoginFailure.address == who.address),
    }


def wait_needed(session: Session, username: str, who: Client, *, besides: int) -> Wait | None:
    """Whether ``who`` must wait before trying ``username``: the longest wait any rule
    asks, counting every stored failure but the attempt ``besides`` (one query)."""
    rules = _rules(username, who)
    columns: list[ColumnElement[Any]] = []
    for condition in rules.values():
        columns += [
            func.count().filter(condition),
            func.max(LoginFailure.at).filter(condition),
        ]
    (row,) = session.execute(
        select(*columns).where(
            LoginFailure.at >= clock.now() - WINDOW,
            LoginFailure.id != besides,
            (LoginFailure.username == username) | (LoginFailure.address == who.address),
        )
    ).all()
    longest: Wait | None = None
    for index, scope in enumerate(rules):
        failures, latest = row[2 * index], row[2 * index + 1]
        delay = delay_after(failures or 0, FREE_FAILURES[scope])
        if not delay or latest is None:
            continue
        until = _aware(latest) + delay
        if until > clock.now() and (longest is None or until > longest.until):
            longest = Wait(scope, until)
    return longest


def _aware(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes (stored in UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def begin(session: Session, username: str, who: Client) -> int:
    """Store this attempt as a failure before its password is checked, committed at once
    so that concurrent attempts count it; old rows are deleted. Returns its id."""
    now = clock.now()
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - WINDOW))
    failure = LoginFailure(username=username, address=who.address, channel=who.channel, at=now)
    session.add(failure)
    session.commit()
    return failure.id


def withdraw(session: Session, attempt: int) -> None:
    """An attempt refused before its password was checked is no failure."""
    session.execute(delete(LoginFailure).where(LoginFailure.id == attempt))


def succeeded(session: Session, username: str, who: Client) -> None:
    """The right password: forget this key's failures (this one included), no one else's."""
    key = next(iter(_rules(username, who).values()))  # CHANNEL, or ACCOUNT_ADDRESS
    session.execute(delete(LoginFailure).where(key))
