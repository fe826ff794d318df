"""Comparing a recount with the minutes, figure by figure, for ``hom-phieu box verify``
(:mod:`web.bundle_verify`): total, levels, clerks, channels (then the other breakdowns),
supplements, and each device's counted range and the first fault of its chain. Each
difference is one line, in the current language. Pure.
"""

from __future__ import annotations

from hom_phieu.i18n import _
from hom_phieu.ledger.records import LEVEL_LABELS
from web.box_count import LEVELS, BoxCount, DeviceCheck
from web.bundle_format import BundleDevice
from web.ceremony_calendar import box_label
from web.labels import CHANNEL_LABELS, label
from web.minutes import Count, DeviceEntry, LevelCounts, Minutes
from web.minutes_build import NO_FIELD, ClerkInfo, count_tables
from web.survey_box import SURVEY_LABEL


def _shown(value: object) -> str:
    return "—" if value is None else str(value)


def compare_devices(
    entries: tuple[DeviceEntry, ...], checks: list[DeviceCheck], out: list[str]
) -> None:
    """Each device's counted range and the first fault of its chain."""
    recounted = {check.device.device_id: check for check in checks}
    for entry in entries:
        check = recounted.pop(entry.device_id, None)
        if check is None:
            out.append(
                _("Device {device}: in the minutes, not in the bundle").format(
                    device=entry.device_id
                )
            )
            continue
        problem = check.problem
        if problem is not None and (
            entry.problem is None
            or (entry.problem.seq, entry.problem.fault) != (problem.seq, problem.fault)
        ):
            out.append(
                _("Device {device}, record {seq}: {fault}: {message}").format(
                    device=entry.device_id,
                    seq=_shown(problem.seq),
                    fault=problem.fault.label,
                    message=problem.message,
                )
            )
        elif problem is None and entry.problem is not None:
            out.append(
                _(
                    "Device {device}: the minutes name a fault at record {seq}, the "
                    "recount finds none"
                ).format(device=entry.device_id, seq=_shown(entry.problem.seq))
            )
        for what, minuted, found in (
            (_("records of the box"), entry.records, check.records),
            (_("first record of the box"), entry.first_seq, check.first_seq),
            (_("last record of the box"), entry.last_seq, check.last_seq),
            (_("ballots"), entry.votes, check.votes),
            (_("chain head"), entry.chain_head, check.chain_head),
        ):
            if minuted != found:
                out.append(
                    _("Device {device}, {what}: minutes {minutes}, recount {recount}").format(
                        device=entry.device_id,
                        what=what,
                        minutes=_shown(minuted),
                        recount=_shown(found),
                    )
                )
    for device_id in recounted:
        out.append(_("Device {device}: in the bundle, not in the minutes").format(device=device_id))


def compare_counts(
    minutes: Minutes, count: BoxCount, devices: list[BundleDevice], out: list[str]
) -> None:
    """The main count and each supplement, figure by figure."""
    clerks = _clerks(minutes)
    entries = {entry.device_id: entry for entry in minutes.devices}
    counters: dict[int, str | None] = {}
    # The phone survey is not a counter (web.minutes_build); minutes frozen before said it was.
    minuted_counters = {row.key for row in minutes.count.by_counter}
    for device in devices:
        entry = entries.get(device.device_id)
        shown = (entry.counter, entry.label) if entry else (device.counter, device.label)
        survey = shown == (None, SURVEY_LABEL) and SURVEY_LABEL not in minuted_counters
        counters[device.pk] = None if survey else shown[0] or shown[1]
    _compare_count(minutes.count, count_tables(count.main, clerks, counters), "", out)
    minuted = {supplement.box: supplement.count for supplement in minutes.supplements}
    for box in sorted(set(minuted) | set(count.supplements)):
        where = _("Late ballots of box {box}").format(box=box_label(box))
        tally = count.supplements.get(box)
        found = count_tables(tally, clerks, counters) if tally is not None else None
        _compare_count(minuted.get(box), found, where, out)


def _clerks(minutes: Minutes) -> dict[str, ClerkInfo]:
    """The clerks as the minutes name them (their names at the opening)."""
    clerks: dict[str, ClerkInfo] = {}
    counts = [minutes.count, *(supplement.count for supplement in minutes.supplements)]
    for count in counts:
        for each in (count, count.unverified):
            for row in each.by_clerk if each is not None else ():
                clerks.setdefault(row.key, ClerkInfo(row.name, row.title, NO_FIELD))
    return clerks


def _compare_count(minuted: Count | None, found: Count | None, where: str, out: list[str]) -> None:
    lines: list[str] = []
    votes = (minuted.votes if minuted else 0, found.votes if found else 0)
    if votes[0] != votes[1]:
        lines.append(
            _("Ballots counted: minutes {minutes}, recount {recount}").format(
                minutes=votes[0], recount=votes[1]
            )
        )
    _levels(_("All ballots"), minuted and minuted.by_level, found and found.by_level, lines)
    rows = [minuted.by_clerk if minuted else (), found.by_clerk if found else ()]
    names = {row.key: row.name or row.key for side in rows for row in side}
    by_clerk = [{row.key: row.by_level for row in side} for side in rows]
    for code in sorted(set(by_clerk[0]) | set(by_clerk[1]), key=lambda c: (names[c], c)):
        what = _("Clerk {name}").format(name=names[code])
        _levels(what, by_clerk[0].get(code), by_clerk[1].get(code), lines)
    channels = [
        {row.key: row.by_level for row in (side.by_channel if side else ())}
        for side in (minuted, found)
    ]
    for key in sorted(set(channels[0]) | set(channels[1])):
        what = _("Channel: {channel}").format(channel=label(CHANNEL_LABELS, key))
        _levels(what, channels[0].get(key), channels[1].get(key), lines)
    if not lines and minuted is not None and found is not None:
        lines.extend(_details(minuted, found))
    unverified = (minuted.unverified if minuted else None, found.unverified if found else None)
    if unverified != (None, None):
        _compare_count(*unverified, _("Unverified phone answers"), lines)
    out.extend(
        _("{where}: {difference}").format(where=where, difference=line) if where else line
        for line in lines
    )


def _levels(
    what: str, minuted: LevelCounts | None, found: LevelCounts | None, out: list[str]
) -> None:
    for level in LEVELS:
        numbers = (minuted[level] if minuted else 0, found[level] if found else 0)
        if numbers[0] != numbers[1]:
            out.append(
                _("{what}, {level}: minutes {minutes}, recount {recount}").format(
                    what=what, level=_(LEVEL_LABELS[level]), minutes=numbers[0], recount=numbers[1]
                )
            )


def _details(minuted: Count, found: Count) -> list[str]:
    """The breakdowns beyond clerks and channels, named as a whole when they differ."""
    parts = (
        (_("per clerk and channel"), minuted.by_clerk_channel, found.by_clerk_channel),
        (_("per counter"), minuted.by_counter, found.by_counter),
        (_("per phone criterion"), minuted.by_criterion, found.by_criterion),
        (_("the comments"), _sorted(minuted.comments), _sorted(found.comments)),
    )
    return [
        _("The figures {part} differ between the minutes and the recount").format(part=part)
        for part, one, other in parts
        if (one or ()) != (other or ())
    ]


def _sorted(comments: tuple | None) -> list:
    return sorted((c.clerk, c.text) for c in comments or ())
