"""The unit tree's one walk: a unit and every unit below it (scope checks, reports)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from web.models import Unit


def subtree(session: Session, unit_id: int) -> list[int]:
    """The unit and every unit below it, level by level (one query per level)."""
    found, frontier = [unit_id], [unit_id]
    while frontier:
        frontier = list(session.scalars(select(Unit.id).where(Unit.parent_id.in_(frontier))))
        found += frontier
    return found
