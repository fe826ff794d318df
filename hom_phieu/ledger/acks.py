"""Whether a verified ledger still holds what the server acknowledged.

The kiosk keeps the head (seq, hash) of the server's last signed acknowledgement beside
its records (``LedgerStore.acked``). A ledger cut below it is a chain without fault, so
only this comparison tells; ``kiosk verify``, ``kiosk status`` and the ballot box at start
all make it.
"""

from __future__ import annotations

from collections.abc import Callable

from hom_phieu.i18n import _
from hom_phieu.ledger.faults import Fault, Problem
from hom_phieu.ledger.state import LedgerState


def acked_head_problem(
    acked: tuple[int, str] | None, state: LedgerState, hash_at: Callable[[int], str | None]
) -> Problem | None:
    """Whether a verified ledger still holds what the server acknowledged.

    ``acked``: the head (seq, hash) of the server's last signed acknowledgement, as the
    kiosk stored it; ``state``: the verified ledger's; ``hash_at``: the hash of the
    ledger's record at a seq. A ledger cut below that head verifies as a chain, so only
    this tells: it ends before the acknowledged record, or (cut, then written on) holds
    another record under its number. (Whoever cuts the file can also erase the
    acknowledgement, which lives in it: the server, holding the records, still sees it.)
    """
    if acked is None or acked[0] <= 0:
        return None
    acked_seq, acked_hash = acked
    head = state.head_seq
    if acked_seq > head:
        message = (
            _(
                "the ledger ends at record {head}, but the server acknowledged records up "
                "to {acked}: record {first} was removed"
            )
            if acked_seq == head + 1
            else _(
                "the ledger ends at record {head}, but the server acknowledged records up "
                "to {acked}: records {first}–{acked} were removed"
            )
        )
        return Problem(
            head + 1,
            head + 1,
            Fault.TRUNCATED,
            message.format(head=head, acked=acked_seq, first=head + 1),
        )
    own = state.head_hash if acked_seq == head else hash_at(acked_seq)
    if own != acked_hash:
        return Problem(
            acked_seq,
            acked_seq,
            Fault.TRUNCATED,
            _(
                "the server acknowledged record {seq} with hash {acked}…, but this ledger's "
                "record {seq} has hash {own}…: the ledger was cut below what the server "
                "holds and written on"
            ).format(seq=acked_seq, acked=str(acked_hash)[:16], own=(own or "?")[:16]),
        )
    return None
