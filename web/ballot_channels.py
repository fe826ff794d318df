"""Which ballots make a clerk's official result: the one rule, used by every count.

A ballot reaches the box by one of three ways:

* ``button``: a press at the counter (a kiosk's VOTE), one per service by the kiosk's rules;
* ``phone_ticket``: a phone answer sent from the QR code of the printed ticket, i.e. backed
  by a button ballot of the same office for the same clerk, within ``TICKET_DAYS`` of it,
  and the only answer backed by that ballot;
* ``phone_screen``: any other phone answer (the QR code on the screen, open to whoever
  photographs it; or a ticket that does not check out at the opening).

Only the first two are **official**: they are what the minutes, the reports and the
emulation awards count. Anybody can send screen answers again and again from fresh
browsers and addresses, so they are kept, counted and shown, but apart, as unverified
opinions, never mixed into the official per-clerk table.

The ticket is checked again at the opening, from the records (not from the server's
bookkeeping): the phone record names the ticket's receipt code, which must belong to a
verified VOTE of the office, for the same clerk, cast at most ``TICKET_DAYS`` before the
answer; a code counted once is not counted again. An answer recorded before phone
records named their ticket cannot be checked, and is unverified.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol

from hom_phieu.ledger.events import RefusalReason
from hom_phieu.ledger.records import Channel

TICKET_DAYS = 7  # a ticket's QR takes its answer within this many days of the vote
TICKET_MS = TICKET_DAYS * 86_400_000
CLOCK_SLACK_MS = 86_400_000  # a kiosk's clock may run ahead of the server's: a day's slack


class BallotChannel(StrEnum):
    """How a counted ballot reached the box (see the module's docstring)."""

    BUTTON = "button"
    PHONE_TICKET = "phone_ticket"
    PHONE_SCREEN = "phone_screen"


OFFICIAL = frozenset({BallotChannel.BUTTON, BallotChannel.PHONE_TICKET})


class TicketLookup(Protocol):
    """Where the opening finds a ticket's ballot: (clerk, wall_ms) of the office's verified
    button VOTE with this receipt code, or None."""

    def __call__(self, code: str) -> tuple[str, int] | None: ...


class TicketRule:
    """Classifies ballots for one count, remembering the tickets already used by it."""

    def __init__(self, lookup: TicketLookup) -> None:
        self._lookup = lookup
        self._used: set[str] = set()

    @property
    def used(self) -> frozenset[str]:
        """The ticket codes this count has let through (each counts once)."""
        return frozenset(self._used)

    def channel(self, body: Mapping[str, Any], wall_ms: int) -> BallotChannel:
        """The channel of a VOTE's ``body`` cast at ``wall_ms``."""
        if body.get("channel") != Channel.PHONE:
            return BallotChannel.BUTTON
        code = ticket_code(body)
        if code is None or code in self._used:
            return BallotChannel.PHONE_SCREEN
        if ticket_problem(self._lookup(code), str(body.get("clerk")), wall_ms) is not None:
            return BallotChannel.PHONE_SCREEN
        self._used.add(code)
        return BallotChannel.PHONE_TICKET


def ticket_code(body: Mapping[str, Any]) -> str | None:
    """The ticket code a phone answer came with (None: not a phone answer from a ticket)."""
    code = body.get("ticket")
    if body.get("channel") != Channel.PHONE or body.get("source") != "ticket":
        return None
    return code if isinstance(code, str) else None


def ticket_problem(
    found: tuple[str, int] | None, clerk: str, answered_ms: int
) -> RefusalReason | None:
    """Why a ticket whose ballot is ``found`` (see :class:`TicketLookup`) cannot back an
    answer about ``clerk`` at ``answered_ms``; None when it can. (Whether it was used
    already is the caller's to know: the server's claim, the count's own memory.)"""
    if found is None:
        return RefusalReason.TICKET_UNKNOWN
    voted_clerk, voted_ms = found
    if voted_clerk != clerk:
        return RefusalReason.WRONG_CLERK
    if not -CLOCK_SLACK_MS <= answered_ms - voted_ms <= TICKET_MS:
        return RefusalReason.TICKET_EXPIRED
    return None


def no_tickets(code: str) -> tuple[str, int] | None:
    """A lookup that knows no ticket (every phone answer is unverified)."""
    return None
