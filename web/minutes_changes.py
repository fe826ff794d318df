"""The part of the minutes that lists the changes made to the office's settings during the
box's month (the scale, the working calendar, …), from the audit log, and its table's words
for the renderings (the printable page, the PDF, the XLSX).

Pure, like the rest of the minutes' model (:mod:`web.minutes`); gathered by
:mod:`web.month_changes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from hom_phieu.clock import TIMEZONE
from hom_phieu.i18n import N_
from web.minutes_json import Json, Reader, doc, iso

CHANGES_TITLE = N_("Changes to the settings during the month")
CHANGES_INTRO = N_(
    "Changes made to the settings that reach the office from the start of the month to the "
    "opening, from the audit log (each one is also a warning of the checklist above):"
)
CHANGE_COLUMNS = (N_("When"), N_("By"), N_("What"), N_("Before"), N_("After"))


@dataclass(frozen=True, slots=True)
class ChangeEntry:
    """A change of a setting that reaches the office, made between the first day of the
    box's month (or the office's previous opening, if earlier) and the opening."""

    kind: str = field(
        metadata=doc(
            "what changed, as the audit log names it: scale_changed, weekend_changed, "
            "holiday_added, holiday_removed, …"
        )
    )
    at: datetime = field(metadata=doc("when it was changed"))
    by: str = field(metadata=doc("who changed it: full name (account), or — for none"))
    subject: str = field(
        metadata=doc("what was changed, in words (Vietnamese): whose scale, calendar, …")
    )
    before: str = field(metadata=doc("the setting before, in words (— for nothing)"))
    after: str = field(metadata=doc("the setting after, in words (— for nothing)"))

    def to_json(self) -> Json:
        return {
            "kind": self.kind,
            "at": iso(self.at),
            "by": self.by,
            "subject": self.subject,
            "before": self.before,
            "after": self.after,
        }

    @classmethod
    def from_json(cls, data: object, where: str = "change") -> ChangeEntry:
        r = Reader(data, where)
        made = cls(
            r.text("kind"),
            r.time("at"),
            r.text("by"),
            r.text("subject"),
            r.text("before"),
            r.text("after"),
        )
        r.done()
        return made


def change_cells(change: ChangeEntry) -> list[str]:
    """A change as a row under :data:`CHANGE_COLUMNS` (the time in Vietnam time)."""
    when = change.at.astimezone(TIMEZONE).strftime("%d/%m/%Y %H:%M")
    return [when, change.by, change.subject, change.before, change.after]
