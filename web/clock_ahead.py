"""Records dated ahead of the server's own time: flagged, and counted by their arrival.

No record can honestly reach the server before the time it carries. One that does was
written on a clock set ahead: by a bad NTP reading, a technician, or a kiosk that rolled
into a bogus future box before the kiosk learnt to refuse such a jump
(``hom_phieu.ledger.timing``). The server's clock is the one it trusts, so:

* at ingest, records dated more than :data:`AHEAD_ALLOWANCE_MS` after their arrival raise an
  alert naming the device (once a day while it lasts: ``web.device_alerts``);
* in a count, such a record's ballot (or refused press) is filed in the month it *reached
  the server*, in Vietnam time, not in the box its wrong clock chose: a ballot cast in
  November on a kiosk whose box says ``2100-01`` is counted in November (or in its
  supplement, when November was opened before it arrived), never dropped;
* the ceremony's checklist says how many such ballots a device has in the count.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from hom_phieu import formatting
from hom_phieu.clock import box_of
from hom_phieu.i18n import ngettext
from hom_phieu.ledger.records import Kind, Record
from web.ceremony_calendar import box_label

# More than network delays and an anchored clock's error; far less than a box's day.
AHEAD_ALLOWANCE_MS = 10 * 60 * 1000
_REFILED = (Kind.VOTE, Kind.REFUSED)


def received_ms(received_at: datetime | None) -> int | None:
    """A stored arrival time in milliseconds (None: not known)."""
    if received_at is None:
        return None
    return int(formatting.aware(received_at).timestamp() * 1000)


def is_ahead(wall_ms: int, arrived_ms: int | None) -> bool:
    """Whether a record dated ``wall_ms`` reached the server too early for its date."""
    return arrived_ms is not None and wall_ms > arrived_ms + AHEAD_ALLOWANCE_MS


def counted_box(record: Record, arrived_ms: int | None) -> str:
    """The box a record counts in: its own, or for a ballot or a refused press dated ahead
    of its arrival, the month it reached the server (OPEN and CLOSE keep theirs)."""
    if record.kind in _REFILED and is_ahead(record.wall_ms, arrived_ms):
        assert arrived_ms is not None
        return box_of(arrived_ms)
    return record.box


def ahead_warnings(ahead_votes: Mapping[str, int]) -> list[tuple[str, str]]:
    """The checklist's lines (code, words) for a device's ballots dated ahead of their
    arrival and counted here by it (``ahead_votes``: the box their clock chose → how
    many): warnings, one per box."""
    return [
        (
            "clock_ahead",
            ngettext(
                "{count} ballot was dated ahead of the server's time when it arrived (the "
                "device's clock was wrong; its box said {box}): counted by its arrival",
                "{count} ballots were dated ahead of the server's time when they arrived (the "
                "device's clock was wrong; its box said {box}): counted by their arrival",
                count,
            ).format(count=count, box=box_label(box)),
        )
        for box, count in sorted(ahead_votes.items())
    ]
