"""The two numbers that keep reports fair, set by an administrator (``settings`` table).

* ``ranking_minimum``: ballots a clerk or an office needs in the period before the
  emulation table (thi đua) ranks them; below it they are listed apart, unranked.
* ``public_minimum``: the smallest cell the public pages show; a figure of fewer ballots
  is hidden, so that a citizen of a small commune cannot be singled out.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from web.models import Setting

RANKING_MINIMUM = "report_ranking_minimum"
PUBLIC_MINIMUM = "report_public_minimum"
DEFAULTS = {RANKING_MINIMUM: 30, PUBLIC_MINIMUM: 10}
LIMITS = (1, 100_000)  # what an administrator may set either to


def ranking_minimum(session: Session) -> int:
    return _read(session, RANKING_MINIMUM)


def public_minimum(session: Session) -> int:
    return _read(session, PUBLIC_MINIMUM)


def set_minimum(session: Session, key: str, value: int) -> None:
    """Store a setting (in the caller's transaction; the caller audits it)."""
    if key not in DEFAULTS:
        raise KeyError(key)
    if not LIMITS[0] <= value <= LIMITS[1]:
        raise ValueError(f"{key}: {value} is outside {LIMITS[0]}..{LIMITS[1]}")
    setting = session.get(Setting, key) or Setting(key=key)
    setting.value = {"value": value}
    session.add(setting)


def _read(session: Session, key: str) -> int:
    setting = session.get(Setting, key)
    value = (
        setting.value.get("value")
        if setting is not None and isinstance(setting.value, dict)
        else None
    )
    if type(value) is int and LIMITS[0] <= value <= LIMITS[1]:
        return value
    return DEFAULTS[key]
