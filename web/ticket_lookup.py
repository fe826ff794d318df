"""Finding a ticket's ballot in the server's database: the receipt code printed on a
kiosk's ticket names a button VOTE of the office (see :mod:`web.ballot_channels`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hom_phieu.ledger.records import Channel, decode
from web.ballot_channels import TicketLookup
from web.models import LedgerRecord


def ticket_lookup(session: Session, office_id: int) -> TicketLookup:
    """(clerk, wall_ms) of the office's button VOTE with a receipt code, or None. The rows
    were verified when they were ingested; a phone answer's own receipt is no ticket."""

    def lookup(code: str) -> tuple[str, int] | None:
        rows = session.scalars(
            select(LedgerRecord.data).where(
                LedgerRecord.receipt == code,
                LedgerRecord.office_id == office_id,
                LedgerRecord.kind == "VOTE",
            )
        )
        for data in rows:
            vote = decode(bytes(data))
            if vote.body.get("channel") == Channel.BUTTON:
                return str(vote.body.get("clerk")), vote.wall_ms
        return None

    return lookup
