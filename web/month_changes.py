"""The changes made to the settings that reach an office during a box's month, read from the
audit log: each is a warning of the box's checklist (the committee opens only with a
reason) and a line of the minutes' "changes during the month" (``Minutes.changes``).

Listed from the start of the box's window (the first instant of its month, or the office's
previous opening if that came earlier: ``web.committee_changes.window_start``, the rule the
committee's changes follow too) until the check:

- every audited action that names the office (``audit(…, office_id=office.id)``) and whose
  kind has a description in :data:`OFFICE_CHANGES` (the rating scale; other settings of the
  office, such as its committee, register theirs there);
- every change of the working calendar (:data:`CALENDAR_CHANGES`, ``audit(…, unit_id=…)``)
  of the office's unit, of a unit above it or of the national defaults (no unit): the
  weekend days, and the holidays that fall in the box's month (they may move its due day).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hom_phieu import formatting
from hom_phieu.i18n import _, language
from web.ceremony_calendar import WEEKDAY_NAMES, in_month
from web.checklist import WARNING, Check
from web.committee_changes import window_start
from web.labels import LEVEL_LABELS, label
from web.minutes_build import moment
from web.minutes_changes import ChangeEntry
from web.models import AuditEntry, Office, Opening, Unit, User
from web.unit_calendar import unit_chain

NOTHING = "—"


class ChangeKind(StrEnum):
    """The audit log's actions for the changes this module describes."""

    SCALE_CHANGED = "scale_changed"
    WEEKEND_CHANGED = "weekend_changed"
    HOLIDAY_ADDED = "holiday_added"
    HOLIDAY_REMOVED = "holiday_removed"


CALENDAR_CHANGES = (
    ChangeKind.WEEKEND_CHANGED,
    ChangeKind.HOLIDAY_ADDED,
    ChangeKind.HOLIDAY_REMOVED,
)


@dataclass(frozen=True, slots=True)
class Described:
    """A change in words, in the current language."""

    subject: str  # what was changed: "The rating scale of …"
    before: str
    after: str


# How an office's change reads: from the office and the audit entry's ``detail``.
OfficeDescriber = Callable[[Office, Mapping[str, Any]], Described]


def scale_words(buttons: object) -> str:
    """``[[name, label, level], …]`` (as the scale's audit entries hold it) in words:
    ``Rất hài lòng (rat_hai_long) → Rất hài lòng; …``."""
    if not isinstance(buttons, list) or not buttons:
        return NOTHING
    words = []
    for row in buttons:
        if isinstance(row, list) and len(row) == 3:
            name, text, level = (str(part) for part in row)
            words.append(f"{text} ({name}) → {label(LEVEL_LABELS, level)}")
        else:
            words.append(str(row))
    return "; ".join(words)


def _scale(office: Office, detail: Mapping[str, Any]) -> Described:
    subject = _("The rating scale of {office}").format(office=office.name)
    return Described(subject, scale_words(detail.get("before")), scale_words(detail.get("after")))


OFFICE_CHANGES: dict[str, OfficeDescriber] = {ChangeKind.SCALE_CHANGED: _scale}


def weekend_words(days: object) -> str:
    """``[5, 6]`` → ``Saturday, Sunday``."""
    if not isinstance(days, list):
        return NOTHING
    names = [_(WEEKDAY_NAMES[d]) for d in sorted(days) if isinstance(d, int) and 0 <= d < 7]
    return ", ".join(names) or _("none")


def _holiday_day(entry: AuditEntry) -> date | None:
    try:  # (entries written before holidays had units name the day in their target)
        return date.fromisoformat(str((entry.detail or {}).get("day") or entry.target))
    except ValueError:
        return None


def holiday_words(entry: AuditEntry) -> str:
    day = _holiday_day(entry)
    name = (entry.detail or {}).get("name") or ""
    return f"{day.strftime('%d/%m/%Y') if day else entry.target} {name}".strip()


def _calendar(unit: Unit | None, entry: AuditEntry) -> Described:
    detail = entry.detail or {}
    if entry.action == ChangeKind.WEEKEND_CHANGED:
        subject = (
            _("The weekend days of {unit}").format(unit=unit.name)
            if unit
            else _("The national weekend days")
        )
        return Described(
            subject, weekend_words(detail.get("before")), weekend_words(detail.get("after"))
        )
    subject = (
        _("The public holidays of {unit}").format(unit=unit.name)
        if unit
        else _("The national public holidays")
    )
    if entry.action == ChangeKind.HOLIDAY_ADDED:
        return Described(subject, NOTHING, holiday_words(entry))
    return Described(subject, holiday_words(entry), NOTHING)


def month_changes(session: Session, opening: Opening, until: datetime) -> tuple[ChangeEntry, ...]:
    """The changes that reached the office of ``opening`` in its box's window, until
    ``until``, in order, in the current language."""
    office, box = opening.office, opening.box
    units = {unit.id: unit for unit in unit_chain(session, office.unit_id)}
    on_office = (AuditEntry.office_id == office.id) & AuditEntry.action.in_(list(OFFICE_CHANGES))
    on_calendar = AuditEntry.action.in_([str(kind) for kind in CALENDAR_CHANGES]) & (
        AuditEntry.unit_id.is_(None) | AuditEntry.unit_id.in_(list(units))
    )
    entries = session.scalars(
        select(AuditEntry)
        .where(
            AuditEntry.at >= window_start(session, opening),  # (UTC: SQLite compares text)
            AuditEntry.at <= formatting.aware(until).astimezone(UTC),
            on_office | on_calendar,
        )
        .order_by(AuditEntry.at, AuditEntry.id)
    ).all()
    users = {entry.user_id for entry in entries if entry.user_id is not None}
    who = {
        user.id: f"{user.display_name} ({user.username})"
        for user in session.scalars(select(User).where(User.id.in_(users)))
    }
    changes = []
    for entry in entries:
        if entry.office_id == office.id and entry.action in OFFICE_CHANGES:
            described = OFFICE_CHANGES[entry.action](office, entry.detail or {})
        else:
            day = _holiday_day(entry)
            if entry.action != ChangeKind.WEEKEND_CHANGED and day and not in_month(day, box):
                continue  # a holiday of another month does not move this box's due day
            described = _calendar(units.get(entry.unit_id or 0), entry)
        changes.append(
            ChangeEntry(
                kind=entry.action,
                at=moment(entry.at),
                by=who.get(entry.user_id or 0, NOTHING),
                subject=described.subject,
                before=described.before,
                after=described.after,
            )
        )
    return tuple(changes)


def change_checks(changes: Sequence[ChangeEntry]) -> list[Check]:
    """Each change as a warning of the checklist (office-wide: no device)."""
    return [
        Check(
            "change",
            WARNING,
            "",
            _("{subject}: changed at {when} by {who}; before: {before}; after: {after}").format(
                subject=change.subject,
                when=formatting.stored_time(change.at),
                who=change.by,
                before=change.before,
                after=change.after,
            ),
        )
        for change in changes
    ]


def settings_checks(session: Session, opening: Opening, until: datetime) -> list[Check]:
    """The checklist's warnings for the changes that reached the office in the window."""
    return change_checks(month_changes(session, opening, until))


def minutes_changes(
    session: Session, opening: Opening, until: datetime
) -> tuple[ChangeEntry, ...] | None:
    """The minutes' list of changes, in Vietnamese; None when there were none (the key is
    then left out, so minutes without changes are written as before changes were listed)."""
    with language("vi"):  # the minutes are an official document in Vietnamese
        return month_changes(session, opening, until) or None
