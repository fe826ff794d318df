"""The one way a ledger's wall time may go back: a clock correction.

A kiosk whose clock was set far ahead (before the rule that no longer follows such a jump,
or by a reading both its witnesses could not yet refute) has written records dated in the
future, maybe in a box of a month that has not come (``2100-01``). Its wall time may never
run backwards and its boxes only forwards, so it could never leave that box. When the
server's signed time, confirmed by the machine's own clock, says the ledger's time is far
ahead (``hom_phieu.ledger.timing.Correction``), the ballot box seals the box (CLOSE, at the
ledger's last time) and opens again the month of the server's time with an OPEN that says
so. The rule below is the verifier's: such an OPEN may go back in time and may reopen a
month that was closed. Nothing is lost: the records dated ahead stay in the chain, sealed,
and the server counts their ballots in the month they reached it (``web.clock_ahead``).
"""

from __future__ import annotations

from hom_phieu.clock import EARLIEST_PLAUSIBLE_MS, box_of, local_iso
from hom_phieu.i18n import _
from hom_phieu.ledger.records import Kind, Record, TimeQuality
from hom_phieu.ledger.state import LedgerState

FROM = "corrected_from_ms"  # the ledger's last wall time, abandoned
SERVER = "server_wall_ms"  # the server-signed time the correction rests on


def is_correction(record: Record) -> bool:
    """An OPEN that corrects the ledger's time (it carries either field of one)."""
    return record.kind is Kind.OPEN and (FROM in record.body or SERVER in record.body)


def correction_problem(record: Record, state: LedgerState) -> str | None:
    """Why the correcting OPEN ``record`` may not follow the ledger so far, or None."""
    body = record.body
    if FROM not in body or SERVER not in body:
        return _("a clock correction must name both {first} and {second}").format(
            first=FROM, second=SERVER
        )
    last = state.last_record
    if last is None or last.kind is not Kind.CLOSE:
        return _("a clock correction must follow the CLOSE of the box it leaves")
    if record.tq is not TimeQuality.ANCHORED:
        return _("a clock correction rests on the server's signed time (quality anchored)")
    if body[FROM] != state.last_wall_ms:
        return _("a clock correction must name the wall time it leaves ({last})").format(
            last=local_iso(state.last_wall_ms)
        )
    if not EARLIEST_PLAUSIBLE_MS <= body[SERVER] <= record.wall_ms < state.last_wall_ms:
        return _(
            "a clock correction goes back to the server's time: {wall} must lie between "
            "{server} and {last}"
        ).format(
            wall=local_iso(record.wall_ms),
            server=local_iso(body[SERVER]),
            last=local_iso(state.last_wall_ms),
        )
    if record.box != box_of(record.wall_ms):
        return _("a clock correction opens the month of its own time, {box}").format(
            box=box_of(record.wall_ms)
        )
    return None
