"""Writing the minutes: a verified count and its checklist become a :class:`Minutes`.

Pure (no database, no Flask): :func:`web.opening.minutes_of_opening` gathers what the
database knows (office, committee, clerks) and calls :func:`build_minutes`; tests call it
on a count of their own. What it writes is ``docs/minutes-format.md``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from hom_phieu.clock import TIMEZONE
from hom_phieu.formatting import aware
from web.ballot_channels import BallotChannel
from web.box_count import BoxCount, DeviceCheck, Tally
from web.ceremony_calendar import next_box
from web.checklist import Check, device_status
from web.minutes import (
    MINUTES_FORMAT,
    Attendee,
    ChainProblem,
    CheckEntry,
    ClerkChannelRow,
    ClerkRow,
    Comment,
    Count,
    CountRow,
    DeviceEntry,
    LevelCounts,
    Minutes,
    NextBox,
    NextBoxDevice,
    OfficeHeader,
    QuorumSize,
    Severity,
    Supplement,
)
from web.minutes_changes import ChangeEntry

NO_FIELD = "—"  # the procedure field of a clerk who has none


@dataclass(frozen=True, slots=True)
class ClerkInfo:
    """A clerk of the office as the minutes name them."""

    name: str
    title: str
    field: str  # the clerk's procedure field, NO_FIELD for none


UNKNOWN_CLERK = ClerkInfo("", "", NO_FIELD)  # a code not (or no longer) in the list


@dataclass(frozen=True, slots=True)
class Ceremony:
    """What the minutes say of the ceremony itself, besides the count."""

    office: OfficeHeader
    box: str
    started_at: datetime
    opened_at: datetime
    place: str
    early_reason: str | None
    warnings_reason: str | None
    dossiers_returned: int | None
    quorum: QuorumSize
    attendees: tuple[Attendee, ...]
    changes: tuple[ChangeEntry, ...] | None = None  # of the settings (web.month_changes)


def moment(value: datetime) -> datetime:
    """A stored time as the minutes hold it: Vietnam time, to the second."""
    return aware(value).astimezone(TIMEZONE).replace(microsecond=0)


def build_minutes(
    ceremony: Ceremony,
    count: BoxCount,
    checks: Sequence[Check],
    clerks: Mapping[str, ClerkInfo],
) -> Minutes:
    """The minutes of ``ceremony`` having counted ``count`` with ``checks``."""
    counters: dict[int, str | None] = {  # the phone survey is a channel, not a counter
        d.device.pk: None if d.device.survey else d.device.counter or d.device.label
        for d in count.devices
    }
    return Minutes(
        format=MINUTES_FORMAT,
        office=ceremony.office,
        box=ceremony.box,
        started_at=ceremony.started_at,
        opened_at=ceremony.opened_at,
        place=ceremony.place,
        early_reason=ceremony.early_reason,
        warnings_reason=ceremony.warnings_reason,
        dossiers_returned=ceremony.dossiers_returned,
        quorum=ceremony.quorum,
        attendees=ceremony.attendees,
        devices=tuple(_device_entry(device, checks) for device in count.devices),
        checks=tuple(
            CheckEntry(check.code, Severity(check.severity), check.device_id, check.message)
            for check in checks
        ),
        count=count_tables(count.main, clerks, counters),
        supplements=tuple(
            Supplement(box, count_tables(tally, clerks, counters))
            for box, tally in sorted(count.supplements.items())
        ),
        next_box=NextBox(
            next_box(ceremony.box),
            tuple(
                NextBoxDevice(
                    d.device.device_id,
                    d.device.label,
                    d.next_open[0],
                    datetime.fromtimestamp(d.next_open[1] / 1000, TIMEZONE).replace(microsecond=0),
                )
                for d in count.devices
                if d.next_open is not None
            ),
        ),
        changes=ceremony.changes,
    )


def _device_entry(device: DeviceCheck, checks: Sequence[Check]) -> DeviceEntry:
    problem = device.problem
    return DeviceEntry(
        device_id=device.device.device_id,
        label=device.device.label,
        counter=device.device.counter,
        status=Severity(device_status(list(checks), device.device.device_id)),
        records=device.records,
        first_seq=device.first_seq,
        last_seq=device.last_seq,
        chain_head=device.chain_head,
        open_seq=device.open_seq,
        close_seq=device.close_seq,
        votes=device.votes,
        refused=dict(sorted(device.refused.items())),
        unsynced_votes=device.unsynced_votes,
        uncounted=device.uncounted,
        problem=None
        if problem is None
        else ChainProblem(problem.seq, problem.fault, problem.message),
        last_seen_at=None
        if device.device.last_seen_at is None
        else moment(device.device.last_seen_at),
        evidence=device.device.evidence,
    )


def count_tables(
    tally: Tally, clerks: Mapping[str, ClerkInfo], counters: Mapping[int, str | None]
) -> Count:
    """A tally with its breakdowns: per clerk (by name, then code), counter (not the phone
    survey: a counter of None; its answers are in the channels), procedure field, channel (in
    the channels' order), phone criterion, and the phone comments."""
    by_counter: dict[str, Counter[str]] = {}
    for device_pk, levels in tally.by_device.items():
        counter = counters.get(device_pk, "?")
        if counter is not None:
            by_counter.setdefault(counter, Counter()).update(levels)
    by_field: dict[str, Counter[str]] = {}
    for code, levels in tally.by_clerk.items():
        by_field.setdefault(clerks.get(code, UNKNOWN_CLERK).field, Counter()).update(levels)
    clerk_order = sorted(
        tally.by_clerk.items(), key=lambda item: (clerks.get(item[0], UNKNOWN_CLERK).name, item[0])
    )
    return Count(
        votes=tally.votes,
        by_level=LevelCounts.of(tally.by_level),
        by_clerk=tuple(
            ClerkRow(
                code,
                clerks.get(code, UNKNOWN_CLERK).name,
                clerks.get(code, UNKNOWN_CLERK).title,
                LevelCounts.of(levels),
                sum(levels.values()),
            )
            for code, levels in clerk_order
        ),
        by_counter=tuple(_row(k, v) for k, v in sorted(by_counter.items())),
        by_field=tuple(_row(k, v) for k, v in sorted(by_field.items())),
        by_channel=tuple(
            _row(channel.value, tally.by_channel[channel.value])
            for channel in BallotChannel
            if channel.value in tally.by_channel
        ),
        by_clerk_channel=tuple(
            ClerkChannelRow(
                code,
                clerks.get(code, UNKNOWN_CLERK).name,
                channel.value,
                LevelCounts.of(levels),
                sum(levels.values()),
            )
            for code, _levels in clerk_order
            for channel in BallotChannel
            if (levels := tally.by_clerk_channel.get((code, channel.value)))
        ),
        by_criterion=tuple(_row(k, v) for k, v in tally.by_criterion.items()),
        comments=tuple(
            Comment(code, clerks.get(code, UNKNOWN_CLERK).name, text)
            for code, text in tally.comments
        ),
        unverified=None
        if tally.unverified is None
        else count_tables(tally.unverified, clerks, counters),
    )


def _row(key: str, levels: Counter[str]) -> CountRow:
    return CountRow(key, key, LevelCounts.of(levels), sum(levels.values()))
