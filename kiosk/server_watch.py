"""What the server's answers mean for the kiosk, on its main loop: acks and refusals.

An ack says the server holds the records up to a point, and carries the server's signed
time: it is remembered in the ledger's ``sync_progress``, and the time is recorded as an
anchor when it tells this run something (``hom_phieu.ledger.timing.anchor_wanted``: the
clock is in doubt, or the server disagrees with it) or, without NTP, every few hours.

A refusal (a restored or cloned card, a rewritten tail: the server will never take these
records) is a fault for staff at once: shown on the screen, written once to the ledger as a
``sync_refused`` EVENT (so ``kiosk status`` shows it too), until a push goes through again.
Votes go on being taken and kept meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable

from hom_phieu.clock import Clock
from hom_phieu.i18n import _
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.errors import BallotBoxError
from hom_phieu.ledger.events import EventType
from kiosk.loop_events import Acked, Refused
from kiosk.ports import RecordEvent

ANCHOR_EVERY_MS = 6 * 3600 * 1000  # without NTP: how often the server's time is recorded
FORKED = "equivocation"  # the server holds other records of this key: the chain forked


class ServerWatch:
    """The kiosk's view of the server: acks taken in, and the refusal fault for staff."""

    def __init__(
        self,
        box: BallotBox,
        clock: Clock,
        record_event: RecordEvent,
        out_of_service: Callable[[str], None],
    ) -> None:
        self._box, self._clock = box, clock
        self._record_event, self._out_of_service = record_event, out_of_service
        self._anchored_at_ms: int | None = None  # monotonic ms of this run's last anchor
        self._written: Refused | None = None  # the refusal last written to the ledger
        self.refusal: Refused | None = None  # the server refuses our records (for staff)

    @property
    def fault(self) -> str | None:
        """The refusal in words for staff, or None."""
        if self.refusal is None:
            return None
        if self.forked:
            return _(
                "this kiosk's records conflict with those the server holds from record {seq} "
                "(a copied or restored card): votes are recorded but no receipts are printed; "
                "call the technician"
            ).format(seq=self.refusal.seq)
        return _(
            "the server refuses this kiosk's records ({reason}): votes are kept; call the "
            "technician"
        ).format(reason=self.refusal.message or self.refusal.error)

    @property
    def forked(self) -> bool:
        """The server refuses our chain for good (a copied or restored card, a rewritten
        tail): receipts printed now could never be honoured (``web.forks`` recovers it)."""
        return self.refusal is not None and self.refusal.error == FORKED

    def acked(self, ack: Acked) -> None:
        """The server holds our records up to ``ack.head_seq`` (verified ack)."""
        box = self._box
        try:
            box.store.set_acked(ack.head_seq, ack.head_hash, ack.server_time_ms)
        except BallotBoxError as exc:
            self._out_of_service(str(exc))
            return
        self.accepted()
        # The server's signed time anchors ours when it says something new, and without
        # NTP at most every few hours: each anchor is a record, which is synced, acked…
        now_ms = self._clock.read().mono_ns // 1_000_000
        fresh = self._anchored_at_ms is not None and now_ms - self._anchored_at_ms < ANCHOR_EVERY_MS
        routine = not self._clock.read().synced and not fresh
        if routine or box.anchor_wanted(ack.server_time_ms, ack.mono_ns):
            self._anchored_at_ms = now_ms
            try:
                box.record_time_anchor(ack.server_time_ms, ack.mono_ns, acked_seq=ack.head_seq)
            except BallotBoxError as exc:
                self._out_of_service(str(exc))

    def refused(self, refusal: Refused) -> None:
        """The server refused a push: a fault at once; written once per distinct refusal."""
        refusal = Refused(_plain(refusal.error, 64), _plain(refusal.message, 2000), refusal.seq)
        self.refusal = refusal
        if refusal != self._written:
            self._written = refusal
            detail = {"seq": refusal.seq} if refusal.seq is not None else {}
            self._record_event(EventType.SYNC_REFUSED, error=refusal.error,
                               message=refusal.message, **detail)  # fmt: skip

    def accepted(self) -> None:
        """A push (or a whole round) went through: the refusal is over."""
        self.refusal = None
        self._written = None


def _plain(text: str, limit: int) -> str:
    """The server's words as a record may hold them (an answer's text is not signed: a
    proxy's may hold anything, a lone surrogate no UTF-8 can store)."""
    return text.encode("utf-8", "replace").decode("utf-8")[:limit]
