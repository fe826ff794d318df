"""The verification checklist shown before counting and written into the minutes.

Pure: reads a :class:`web.box_count.BoxCount` and says, device by device, what holds
and what does not. Severity ``fault``: the chain is damaged (records after the damage
are not counted); ``warning``: the committee may open anyway, giving a reason that the
minutes record; ``ok``: nothing to do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from hom_phieu import formatting
from hom_phieu.i18n import _, ngettext
from hom_phieu.ledger.events import BURST_REASONS, RefusalReason
from web.box_count import BoxCount, DeviceCheck, Tally
from web.ceremony_calendar import box_label
from web.clock_ahead import ahead_warnings
from web.labels import REFUSAL_LABELS

OK, WARNING, FAULT = "ok", "warning", "fault"
# On the due day, before the month is over, the opening is the box's cut-off: a device that
# has not synced for longer than this before it may still hold ballots of the box (they go
# to the next opening's supplement), which the committee should know before it signs.
SYNC_RECENT = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Check:
    code: str
    severity: str
    device_id: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def checklist(count: BoxCount, month_end: datetime, now: datetime | None = None) -> list[Check]:
    """Every check of every device, in device order, then the office-wide ones.

    ``now``: the time of the opening. Before ``month_end`` (the due day, the month's last
    working day, or earlier with a reason) the opening is the box's cut-off: no device has
    closed the month yet, ballots recorded after the last sync go to the next opening's
    supplement, and only a device silent for longer than SYNC_RECENT is a warning."""
    cut_off = now if now is not None and now < month_end else None
    checks: list[Check] = []
    for device in count.devices:
        checks += _device_checks(device, count.box, month_end, cut_off)
    return checks + answer_bursts(count.answer_times)


def dossiers_check(ballots: int, dossiers: int | None) -> Check | None:
    """A warning when more ballots were counted than dossiers returned (a participation
    rate above 100 %, which needs the committee's reason); None otherwise."""
    if dossiers is None or ballots <= dossiers:
        return None
    if dossiers == 0:
        message = _("{ballots} ballots counted but no dossier returned this month: check the "
                    "number of dossiers").format(ballots=ballots)  # fmt: skip
    else:
        message = _(
            "{ballots} ballots counted but only {dossiers} dossiers returned this month "
            "(participation {rate}): check the number of dossiers"
        ).format(ballots=ballots, dossiers=dossiers, rate=formatting.percent(ballots, dossiers))
    return Check("dossiers", WARNING, "", message)


def device_status(checks: list[Check], device_id: str) -> str:
    """The worst severity among a device's checks."""
    severities = {check.severity for check in checks if check.device_id == device_id}
    return FAULT if FAULT in severities else WARNING if WARNING in severities else OK


def needs_reason(checks: list[Check]) -> bool:
    return any(check.severity != OK for check in checks)


def _device_checks(
    check: DeviceCheck, box: str, month_end: datetime, cut_off: datetime | None
) -> list[Check]:
    device_id = check.device.device_id
    found: list[Check] = []

    def add(code: str, severity: str, message: str) -> None:
        found.append(Check(code, severity, device_id, message))

    if check.problem is not None:
        add(
            "chain",
            FAULT,
            _(
                "chain broken at {problem}; {count} records of the box after it are held but "
                "not counted"
            ).format(problem=check.problem, count=check.uncounted),
        )
    elif check.records:
        add(
            "chain",
            OK,
            _(
                "chain intact and every signature valid: {records} records of the box, "
                "numbers {first}–{last} without a gap"
            ).format(records=check.records, first=check.first_seq, last=check.last_seq),
        )
    survey = check.device.survey  # no phone answer in a month is no warning
    if not check.records and check.problem is None and not survey:
        add(
            "records",
            WARNING,
            _("no records of box {box} from this device").format(box=box_label(box)),
        )
    elif check.records and check.open_seq is None:
        add(
            "open",
            FAULT if check.problem else WARNING,
            _("the box's OPEN (zero report) of this device is missing"),
        )
    if check.records and check.close_seq is None and cut_off is not None:
        add(
            "close",
            OK,
            _(
                "the month is not over: this opening is the cut-off of box {box}; {votes} "
                "ballots counted up to record {last}, ballots recorded after it go to the "
                "next opening's supplement"
            ).format(box=box_label(box), votes=check.votes, last=check.last_seq),
        )
    elif check.records and check.close_seq is None:
        add(
            "close",
            WARNING,
            _(
                "no CLOSE yet: the device has not sealed box {box}; {votes} ballots counted up "
                "to record {last}, later ones go to the next opening's supplement"
            ).format(box=box_label(box), votes=check.votes, last=check.last_seq),
        )
    elif check.close_seq is not None:
        add(
            "close",
            OK,
            _("the CLOSE (record {seq}) seals {votes} ballots, equal to the records").format(
                seq=check.close_seq, votes=check.votes
            ),
        )
    last_seen = check.device.last_seen_at
    # (the phone survey's ledger lives on the server and is filed just before counting)
    since = month_end if cut_off is None else cut_off - SYNC_RECENT
    if not survey and (last_seen is None or formatting.aware(last_seen) < since):
        when = formatting.stored_time(last_seen) if last_seen else _("never")
        add("sync", WARNING, _silent(when, cut_off is not None))
    if check.refused:
        refused = sum(check.refused.values())
        bursts = sum(n for reason, n in check.refused.items() if reason in BURST_REASONS)
        detail = "; ".join(  # in words, never a stored code (minutes are signed as printed)
            ngettext("{reason}: {count} time", "{reason}: {count} times", n).format(
                reason=_(REFUSAL_LABELS[reason]) if reason in REFUSAL_LABELS else _("other reason"),
                count=n,
            )
            for reason, n in sorted(check.refused.items())
        )
        words = (
            ngettext(
                "{count} refused phone answer, not counted ({detail})",
                "{count} refused phone answers, not counted ({detail})",
                refused,
            )
            if survey
            else ngettext(
                "{count} refused press, not counted ({detail})",
                "{count} refused presses, not counted ({detail})",
                refused,
            )
        )
        flagged = bursts or (survey and check.refused.get(RefusalReason.RATE_LIMIT))
        add("refused", WARNING if flagged else OK, words.format(count=refused, detail=detail))
    if check.unsynced_votes:
        add(
            "clock",
            WARNING,
            ngettext(
                "{count} ballot cast while the device's clock was not synchronised",
                "{count} ballots cast while the device's clock was not synchronised",
                check.unsynced_votes,
            ).format(count=check.unsynced_votes),
        )
    if check.device.evidence:
        add(
            "equivocation",
            WARNING,
            _(
                "{count} conflicting records refused from this device (a cloned or rolled-back "
                "device): see the alerts"
            ).format(count=check.device.evidence),
        )
    for earlier, votes in sorted(check.unopened_votes.items()):
        add(
            "unopened",
            WARNING,
            _("{votes} ballots filed in box {box}, which has not been opened").format(
                votes=votes, box=box_label(earlier)
            ),
        )
    for code, message in ahead_warnings(check.ahead_votes):  # a device's clock set ahead
        add(code, WARNING, message)
    return found


def _silent(when: str, due_day: bool) -> str:
    """Why a device not heard from lately matters: ballots it still holds are not counted."""
    if not due_day:
        return _(
            "not synced since the month ended (last seen {when}): ballots it still holds "
            "will be counted in a supplement"
        ).format(when=when)
    hours = SYNC_RECENT // timedelta(hours=1)
    return ngettext(
        "not synced in the {hours} hour before the opening (last seen {when}): ballots it "
        "still holds will be counted in the next opening's supplement",
        "not synced in the {hours} hours before the opening (last seen {when}): ballots it "
        "still holds will be counted in the next opening's supplement",
        hours,
    ).format(hours=hours, when=when)


# --- office-wide: bursts of accepted phone answers about one clerk ---------------------------
# Refused answers are named by the survey device's lines above; this names what got in. A
# burst is more than BURST_ANSWERS answers about one clerk within BURST_WINDOW_MS (official
# or only unverified opinions): a counter serves one citizen at a time, so that many answers
# about one clerk so fast deserve the committee's look before it signs.
BURST_ANSWERS = 5  # more than this many answers about one clerk …
BURST_WINDOW_MS = 10 * 60_000  # … within ten minutes is a burst


def answer_bursts(answer_times: Mapping[str, Sequence[int]]) -> list[Check]:
    """One warning per clerk whose phone answers came in a burst: the busiest window."""
    found: list[Check] = []
    for clerk in sorted(answer_times):
        busiest = _busiest_window(sorted(answer_times[clerk]))
        if busiest is None:
            continue
        answers, first_ms, last_ms = busiest
        message = _(
            "{count} phone answers about clerk {clerk} within {minutes} minutes ({first} – "
            "{last}), faster than a counter serves citizens: check them before signing"
        ).format(
            count=answers,
            clerk=clerk,
            minutes=BURST_WINDOW_MS // 60_000,
            first=formatting.date_time(first_ms),
            last=formatting.date_time(last_ms),
        )
        found.append(Check("answer_burst", WARNING, "", message))
    return found


def _busiest_window(times: Sequence[int]) -> tuple[int, int, int] | None:
    """(answers, first, last) of the fullest window over the limit, or None."""
    best: tuple[int, int, int] | None = None
    start = 0
    for end, at in enumerate(times):
        while at - times[start] > BURST_WINDOW_MS:
            start += 1
        answers = end - start + 1
        if answers > BURST_ANSWERS and (best is None or answers > best[0]):
            best = (answers, times[start], at)
    return best


# --- the seal: which keys the ballots were sealed to -----------------------------------------


@dataclass(frozen=True, slots=True)
class SealKeys:
    """The keys a box's ballots may rightly be sealed to, and (before the opening) what the
    records name."""

    box: str | None  # the box key's fingerprint (None: the office had no key that month)
    escrow: str | None = None  # the province escrow key's fingerprint
    earlier: frozenset[str] = frozenset()  # keys of boxes opened before (their late ballots)
    # device id -> fingerprint each of its VOTEs of the box names ("" in clear) -> ballots;
    # given before the opening (the preview), when no ballot is read
    named: Mapping[str, Counter[str]] | None = None
    rightful: frozenset[str] = field(init=False, default=frozenset())

    def __post_init__(self) -> None:
        keys = {self.box, self.escrow, *self.earlier} - {None}
        object.__setattr__(self, "rightful", frozenset(str(key) for key in keys))


def _tallied(tally: Tally) -> int:
    return tally.votes + (tally.unverified.votes if tally.unverified is not None else 0)


def seal_checks(count: BoxCount, keys: SealKeys) -> list[Check]:
    """FAULT for ballots sealed to a key that is not this box's (a substituted key) or
    altered, naming device, number and fingerprint; WARNING for ballots sealed to the
    province escrow key (a kiosk without a box key) and, in a box that has a key, for
    ballots in clear (older software); OK when every ballot is sealed to the box key."""
    found: list[Check] = []
    devices = {check.device.pk: check.device.device_id for check in count.devices}
    opening = count.keys is not None
    tallied = _tallied(count.main) + sum(_tallied(t) for t in count.supplements.values())
    escrow_ballots: Counter[str] = Counter()  # device id ("" all) -> ballots
    if opening:
        unreadable: Counter[tuple[str, str]] = Counter(
            (devices.get(u.device_pk, "?"), u.key) for u in count.unreadable
        )
        for (device_id, key), ballots in sorted(unreadable.items()):
            found.append(_wrong_key(device_id, key, ballots, keys, opened=True))
        if keys.escrow is not None and count.keys_used[keys.escrow]:
            escrow_ballots[""] = count.keys_used[keys.escrow]
        clear = tallied - sum(count.keys_used.values())
    else:
        for device_id, named in sorted((keys.named or {}).items()):
            for key, ballots in sorted(named.items()):
                if key and key not in keys.rightful:
                    found.append(_wrong_key(device_id, key, ballots, keys, opened=False))
                elif key and key == keys.escrow:
                    escrow_ballots[device_id] += ballots
        clear = tallied
    for device_id, ballots in sorted(escrow_ballots.items()):
        found.append(
            Check(
                "seal_escrow",
                WARNING,
                device_id,
                ngettext(
                    "{count} ballot sealed to the province escrow key {key}: the kiosk had no "
                    "box key for the month",
                    "{count} ballots sealed to the province escrow key {key}: the kiosk had no "
                    "box key for the month",
                    ballots,
                ).format(count=ballots, key=keys.escrow),
            )
        )
    if keys.box is None:
        if found:
            return found
        found.append(Check("seal", OK, "", _(
            "the office had no box key for this month: its ballots are in clear (format 1) and "
            "the box opens without shares")))  # fmt: skip
        return found
    if clear > 0:
        found.append(
            Check(
                "seal_clear",
                WARNING,
                "",
                ngettext(
                    "{count} ballot in clear, not sealed (format 1: a kiosk with older software)",
                    "{count} ballots in clear, not sealed (format 1: a kiosk with older software)",
                    clear,
                ).format(count=clear),
            )
        )
    if not found:
        found.append(Check("seal", OK, "", _(
            "every ballot sealed to the box key {key}").format(key=keys.box)))  # fmt: skip
    return found


def _wrong_key(device_id: str, key: str, ballots: int, keys: SealKeys, opened: bool) -> Check:
    if key and key == keys.escrow:
        message = ngettext(
            "{count} ballot sealed to the province escrow key {key} could not be opened, and is "
            "not counted: the escrow holders must type their shares",
            "{count} ballots sealed to the province escrow key {key} could not be opened, and "
            "are not counted: the escrow holders must type their shares",
            ballots,
        )
    elif key in keys.rightful:
        message = ngettext(
            "{count} ballot sealed to key {key} does not open with it (altered), and is not "
            "counted",
            "{count} ballots sealed to key {key} do not open with it (altered), and are not "
            "counted",
            ballots,
        )
    elif opened:
        message = ngettext(
            "{count} ballot sealed to key {key}, which is not this box's key {box} (a "
            "substituted key), could not be opened and is not counted",
            "{count} ballots sealed to key {key}, which is not this box's key {box} (a "
            "substituted key), could not be opened and are not counted",
            ballots,
        )
    else:
        message = ngettext(
            "{count} ballot sealed to key {key}, which is not this box's key {box} (a "
            "substituted key): it will not be counted",
            "{count} ballots sealed to key {key}, which is not this box's key {box} (a "
            "substituted key): they will not be counted",
            ballots,
        )
    return Check("seal_key", FAULT, device_id, message.format(count=ballots, key=key,
                                                              box=keys.box or "—"))  # fmt: skip
