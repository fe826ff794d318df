"""Each office's working calendar: the weekend days and public holidays that decide when
its box falls due (``web.ceremony_calendar.last_working_day``).

Settings belong to a unit and reach only the offices under it. The national defaults, which
only an administrator over the whole tree sets, are the ``weekend_days`` setting (Saturday
and Sunday unless changed) and the holidays without a unit. A unit may set its own weekend
days (``units.weekend``): for an office, the nearest unit up the tree that has set them
wins. A unit's holidays add to those of the units above it and to the national ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from web.ceremony_calendar import DEFAULT_WEEKEND, last_working_day
from web.models import Holiday, Setting, Unit

WEEKEND_SETTING = "weekend_days"


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """The calendar that applies at a unit (or nationally)."""

    weekend: frozenset[int]  # days of the week off, Monday 0
    weekend_unit: Unit | None  # the unit whose weekend setting applies; None: national
    holidays: frozenset[date]  # the national ones and those of the unit and above it

    def due_day(self, box: str) -> date:
        """The month's last working day: from then on the box may be opened."""
        return last_working_day(box, self.weekend, self.holidays)


def unit_chain(session: Session, unit_id: int | None) -> list[Unit]:
    """The unit and every unit above it, nearest first ([] for None)."""
    chain: list[Unit] = []
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    while unit is not None and unit not in chain:
        chain.append(unit)
        unit = unit.parent
    return chain


def national_weekend(session: Session) -> frozenset[int]:
    setting = session.get(Setting, WEEKEND_SETTING)
    return frozenset(setting.value["days"]) if setting is not None else DEFAULT_WEEKEND


def calendar_of(session: Session, unit_id: int | None) -> WorkingCalendar:
    """The calendar of the offices of unit ``unit_id`` (None: the national defaults)."""
    chain = unit_chain(session, unit_id)
    own = next((unit for unit in chain if unit.weekend is not None), None)
    weekend = frozenset(own.weekend) if own is not None else national_weekend(session)
    ids = [unit.id for unit in chain]
    holidays = session.scalars(
        select(Holiday.day).where(Holiday.unit_id.is_(None) | Holiday.unit_id.in_(ids))
    )
    return WorkingCalendar(weekend, own, frozenset(holidays))
