"""The one place an account name and its password are checked: the login page, the
ceremony's confirmations and one's own password change all come here.

In order: the attempt is stored as a failure (``web.login_throttle.begin``); if the failures
before it ask this client to wait, it is withdrawn and the password is not looked at;
otherwise the password is checked against the account's hash, or against a dummy hash when
there is no such account (``web.passwords.verify``), so the answer takes as long whether
the account exists or not; a right password for an active account forgets this client's
failures. The caller commits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session

from hom_phieu.i18n import ngettext
from web import login_throttle, passwords, trusted_browsers
from web.login_throttle import Client, Wait
from web.models import User


@dataclass(frozen=True)
class Verdict:
    """``user``: the account, when the password was right (and the account active);
    ``wait``: set when the client must wait first (the password was not checked)."""

    user: User | None = None
    wait: Wait | None = None


def browser_client(username: str) -> Client:
    """This request's client for ``username``: its own browser if the cookie says so."""
    return login_throttle.client(request.remote_addr or "", trusted_browsers.channel(username))


def check(session: Session, username: str, password: str, who: Client) -> Verdict:
    attempt = login_throttle.begin(session, username, who)
    wait = login_throttle.wait_needed(session, username, who, besides=attempt)
    if wait is not None:
        login_throttle.withdraw(session, attempt)
        return Verdict(wait=wait)
    user = session.scalar(select(User).where(User.username == username))
    right = passwords.verify(user.password_hash if user else None, password)
    if not (right and user is not None and user.active):
        return Verdict()
    login_throttle.succeeded(session, username, who)
    return Verdict(user=user)


def wait_message(wait: Wait) -> str:
    """What a person is told when they must wait (and for how long)."""
    seconds = wait.seconds()
    if seconds < 60:
        return ngettext(
            "Too many failed attempts: try again in {count} second.",
            "Too many failed attempts: try again in {count} seconds.",
            seconds,
        ).format(count=seconds)
    minutes = math.ceil(seconds / 60)
    return ngettext(
        "Too many failed attempts: try again in {count} minute.",
        "Too many failed attempts: try again in {count} minutes.",
        minutes,
    ).format(count=minutes)


def colleague_client(user_id: int) -> Client:
    """A member typing their password on the logged-in screen of ``user_id`` (the ceremony's
    confirmations): that screen is a channel of its own, which a stranger's failures
    elsewhere never slow."""
    channel = login_throttle.channel_key("screen-of", str(user_id))
    return login_throttle.client(request.remote_addr or "", channel)
