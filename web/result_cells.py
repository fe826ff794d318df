"""The cells the reports read, written by the opening in the same transaction as its minutes.

Each opening writes, for the box it opens and for each earlier box whose late ballots it
counts (a supplement), one :class:`web.models_results.ResultCell` per clerk × counter ×
procedure field × channel, with the ballots of each level. The cells add up to the minutes'
count exactly (``tests/test_reports.py`` checks it); the unverified phone answers are cells
of the ``phone_screen`` channel, apart as in the minutes.

Openings made before the cells existed get theirs from :func:`backfill` (migration 0010):
each is counted again from the records it counted (its counted ranges), and the recount is
written only if it gives exactly the minutes' figures per clerk and channel; otherwise the
cells come from the minutes themselves, without the counter (``—``), so that no report
ever shows a figure the committee did not sign.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from hom_phieu.ledger.records import Level
from web.ballot_channels import BallotChannel, TicketRule
from web.box_count import BoxCount, count_device
from web.ceremony_calendar import next_box
from web.minutes import Count, Minutes
from web.minutes_build import NO_FIELD, UNKNOWN_CLERK, ClerkInfo
from web.models import Clerk, CountedRange, Opening
from web.models_results import ResultCell
from web.ticket_lookup import ticket_lookup

MIXED = "mixed"  # minutes written before the channels were split: official then
UNKNOWN_COUNTER = "—"
LEVELS = tuple(level.value for level in Level)


@dataclass(frozen=True, slots=True)
class CellClerk:
    """A clerk as the cells name them: the minutes' name and field, and the clerk's id."""

    id: int | None
    info: ClerkInfo


def write_cells(
    session: Session, opening: Opening, count: BoxCount, clerks: Mapping[str, ClerkInfo]
) -> None:
    """Add the cells of ``opening`` having counted ``count`` (in the caller's transaction)."""
    ids = dict(
        session.execute(
            select(Clerk.code, Clerk.id).where(Clerk.office_id == opening.office_id)
        ).all()
    )
    named = {code: CellClerk(ids.get(code), info) for code, info in clerks.items()}
    for code in ids.keys() - named.keys():
        named[code] = CellClerk(ids[code], UNKNOWN_CLERK)
    session.add_all(_cells(opening, count, named))


def _cells(
    opening: Opening, count: BoxCount, clerks: Mapping[str, CellClerk]
) -> Iterator[ResultCell]:
    counters = {
        d.device.pk: (d.device.counter_id, d.device.counter or d.device.label)
        for d in count.devices
    }
    tallies = [(opening.box, False, count.main)] + [
        (box, True, tally) for box, tally in sorted(count.supplements.items())
    ]
    for box, supplement, tally in tallies:
        for part in (tally, tally.unverified):
            if part is None:
                continue
            for (code, device_pk, channel), levels in sorted(part.by_cell.items()):
                counter_id, counter_name = counters.get(device_pk, (None, UNKNOWN_COUNTER))
                clerk = clerks.get(code, CellClerk(None, UNKNOWN_CLERK))
                yield _cell(opening, box, supplement, code, clerk, channel, levels,
                            counter_id=counter_id, counter_name=counter_name)  # fmt: skip


def _cell(
    opening: Opening,
    box: str,
    supplement: bool,
    code: str,
    clerk: CellClerk,
    channel: str,
    levels: Mapping[str, int],
    *,
    counter_id: int | None,
    counter_name: str,
) -> ResultCell:
    return ResultCell(
        opening_id=opening.id,
        office_id=opening.office_id,
        unit_id=opening.office.unit_id,
        box=box,
        supplement=supplement,
        clerk_code=code,
        clerk_id=clerk.id,
        clerk_name=clerk.info.name,
        counter_id=counter_id,
        counter_name=counter_name,
        field_name=clerk.info.field,
        channel=channel,
        very_satisfied=levels.get("very_satisfied", 0),
        satisfied=levels.get("satisfied", 0),
        not_satisfied=levels.get("not_satisfied", 0),
        votes=sum(levels.get(level, 0) for level in LEVELS),
    )


# --- openings made before the cells ------------------------------------------------------


def backfill(session: Session) -> int:
    """Write the cells of every opened box that has none; how many openings got cells."""
    from web.opening import clerk_infos  # (web.opening writes cells: imported when used)

    have = set(session.scalars(select(ResultCell.opening_id).distinct()))
    done = 0
    openings = session.scalars(
        select(Opening)
        .where(Opening.status == Opening.OPENED)
        .order_by(Opening.opened_at, Opening.id)
    )
    for opening in list(openings):
        if opening.id in have:
            continue
        minutes = Minutes.from_bytes(opening.minutes or b"")
        clerks = clerk_infos(session, opening.office_id)
        count = _recount(session, opening)
        if count_figures(count) == signed_figures(minutes):
            write_cells(session, opening, count, clerks)
        else:
            session.add_all(_cells_from_minutes(session, opening, minutes))
        done += 1
    return done


def _recount(session: Session, opening: Opening) -> BoxCount:
    """``opening``'s count again, from the records it counted (its counted ranges)."""
    from web.opening_count import devices_of
    from web.opening_rows import rows_of

    earlier = select(Opening.id).where(
        Opening.office_id == opening.office_id,
        Opening.status == Opening.OPENED,
        or_(
            Opening.opened_at < opening.opened_at,
            and_(Opening.opened_at == opening.opened_at, Opening.id < opening.id),
        ),
    )
    opened = frozenset(session.scalars(select(Opening.box).where(Opening.id.in_(earlier))))
    counted: dict[int, dict[str, int]] = {}
    for device_pk, box, through in session.execute(
        select(CountedRange.device_pk, CountedRange.box, func.max(CountedRange.through_seq))
        .where(CountedRange.opening_id.in_(earlier))
        .group_by(CountedRange.device_pk, CountedRange.box)
    ):
        counted.setdefault(device_pk, {})[box] = through
    last = dict(
        session.execute(
            select(CountedRange.device_pk, func.max(CountedRange.through_seq))
            .where(CountedRange.opening_id == opening.id)
            .group_by(CountedRange.device_pk)
        ).all()
    )
    count = BoxCount(opening.box, tickets=TicketRule(ticket_lookup(session, opening.office_id)))
    for device in devices_of(session, opening.office_id):
        if device.pk not in last:
            continue
        rows = (row for row in rows_of(session, device.pk) if row.seq <= last[device.pk])
        count_device(count, device, rows, office_id=opening.office_id,
                     next_box=next_box(opening.box), opened_boxes=opened,
                     already_counted=counted.get(device.pk, {}), held_in_box=0)  # fmt: skip
    return count


Figures = dict[tuple[str, bool, str, str], tuple[int, ...]]  # (box, unverified, clerk, channel)


def count_figures(count: BoxCount) -> Figures:
    found: Figures = {}
    tallies = [(count.box, count.main), *sorted(count.supplements.items())]
    for box, tally in tallies:
        for unverified, part in ((False, tally), (True, tally.unverified)):
            if part is None:
                continue
            for (code, channel), levels in part.by_clerk_channel.items():
                found[box, unverified, code, channel] = tuple(levels[x] for x in LEVELS)
    return found


def signed_figures(minutes: Minutes) -> Figures:
    found: Figures = {}
    counts = [(minutes.box, minutes.count)] + [(s.box, s.count) for s in minutes.supplements]
    for box, count in counts:
        for unverified, part in ((False, count), (True, count.unverified)):
            if part is None:
                continue
            for code, channel, levels in _clerk_channels(part):
                found[box, unverified, code, channel] = tuple(levels[x] for x in LEVELS)
    return found


def stored_figures(session: Session, opening_id: int) -> Figures:
    """The cells an opening wrote, in the form of :func:`signed_figures` (the two must be
    equal: the cells are the minutes' figures, cut finer)."""
    found: dict[tuple[str, bool, str, str], list[int]] = {}
    for cell in session.scalars(select(ResultCell).where(ResultCell.opening_id == opening_id)):
        unverified = cell.channel == BallotChannel.PHONE_SCREEN.value
        key = (cell.box, unverified, cell.clerk_code, cell.channel)
        summed = found.setdefault(key, [0, 0, 0])
        for i, value in enumerate((cell.very_satisfied, cell.satisfied, cell.not_satisfied)):
            summed[i] += value
    return {key: tuple(values) for key, values in found.items()}


def _clerk_channels(count: Count) -> Iterator[tuple[str, str, Counter[str]]]:
    """Each clerk's ballots per channel as the minutes give them (before the channels were
    split: per clerk, in the one channel the box had, or ``mixed``)."""
    if count.by_clerk_channel is not None:
        for row in count.by_clerk_channel:
            yield row.key, row.channel, Counter(row.by_level.to_json())
        return
    channels = {row.key for row in count.by_channel}
    channel = BallotChannel.BUTTON.value if channels <= {BallotChannel.BUTTON.value} else MIXED
    for row in count.by_clerk:
        yield row.key, channel, Counter(row.by_level.to_json())


def _cells_from_minutes(
    session: Session, opening: Opening, minutes: Minutes
) -> Iterator[ResultCell]:
    ids = dict(
        session.execute(
            select(Clerk.code, Clerk.id).where(Clerk.office_id == opening.office_id)
        ).all()
    )
    names = {row.key: row.name for row in minutes.count.by_clerk}
    counts = [(minutes.box, False, minutes.count)] + [
        (s.box, True, s.count) for s in minutes.supplements
    ]
    for box, supplement, count in counts:
        for part in (count, count.unverified):
            if part is None:
                continue
            for code, channel, levels in _clerk_channels(part):
                clerk = CellClerk(ids.get(code), ClerkInfo(names.get(code, ""), "", NO_FIELD))
                yield _cell(opening, box, supplement, code, clerk, channel, levels,
                            counter_id=None, counter_name=UNKNOWN_COUNTER)  # fmt: skip
