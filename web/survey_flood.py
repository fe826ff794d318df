"""A flood of refused phone answers is summed, as the kiosk sums refused presses.

Each refused answer is evidence for the committee, so it is recorded, but a script can
send a hundred a second: past ``REFUSED_PER_MINUTE`` refusals in an office's minute, the
next ones are only added up per clerk, and one REFUSED record per clerk (reason
``storm``, ``answers``: how many) is written when the minute is over, before the box's
next record of any kind (an answer, a refusal, or the CLOSE before a count). Counted,
never dropped, and the box is not flooded.

The window lives in the database (``survey_flood_windows``), in the transaction of the
answer's write, so every server process shares it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from hom_phieu.formatting import aware
from hom_phieu.ledger.events import RefusalReason
from hom_phieu.ledger.records import Kind
from hom_phieu.ledger.writer import Spec
from web.models_survey import SurveyFloodWindow

REFUSED_PER_MINUTE = 20  # refusals recorded one by one in an office's minute; then summed
WINDOW = timedelta(minutes=1)
PHONE = "phone"  # the "button" of a phone answer's REFUSED record


def refusal_body(reason: RefusalReason, clerk: str) -> dict[str, str | int]:
    return {"button": PHONE, "reason": str(reason), "clerk": clerk}


def due_sums(
    session: Session, office_id: int, now: datetime, *, closing: bool = False
) -> list[Spec]:
    """The summing records of a minute that is over (of any pending one when ``closing``)."""
    window = session.get(SurveyFloodWindow, office_id)
    if window is None or not (closing or _over(window, now)):
        return []
    specs = _sums(window)
    _alert_flood(session, office_id, window.summed, now)
    window.summed, window.logged, window.started_at = {}, 0, now
    return specs


def _alert_flood(session: Session, office_id: int, summed: dict[str, int], now: datetime) -> None:
    """An alert per clerk whose refused answers were summed (``web.alerts``: one open alert
    per clerk, a new minute's flood only updates it)."""
    from web.alerts import AlertKind, raise_alert
    from web.models import Office

    office = session.get(Office, office_id)
    for clerk, answers in sorted(summed.items()):
        details = {"office": office.name if office else "", "clerk": clerk, "answers": answers}
        raise_alert(session, AlertKind.PHONE_REFUSALS, office_id, None, details, now,
                    subject=clerk)  # fmt: skip


def admit(session: Session, office_id: int, reason: RefusalReason, clerk: str,
          now: datetime) -> list[Spec]:  # fmt: skip
    """What to write for one more refusal: the sums of a minute that is over, then this
    refusal's own record, or nothing (it is added to the minute's sum)."""
    specs = due_sums(session, office_id, now)
    window = session.get(SurveyFloodWindow, office_id)  # (from the session: no query)
    if window is None:
        window = SurveyFloodWindow(office_id=office_id, started_at=now, logged=0, summed={})
        session.add(window)
    if window.logged < REFUSED_PER_MINUTE:
        window.logged += 1
        return [*specs, (Kind.REFUSED, refusal_body(reason, clerk))]
    summed = dict(window.summed)  # (a new dict: the JSON column sees the change)
    summed[clerk] = summed.get(clerk, 0) + 1
    window.summed = summed
    return specs


def _over(window: SurveyFloodWindow, now: datetime) -> bool:
    return now - aware(window.started_at) >= WINDOW


def _sums(window: SurveyFloodWindow) -> list[Spec]:
    window_s = int(WINDOW.total_seconds())
    specs: list[Spec] = []
    for clerk, answers in sorted(window.summed.items()):
        body = {**refusal_body(RefusalReason.STORM, clerk), "answers": answers}
        specs.append((Kind.REFUSED, {**body, "window_s": window_s}))
    return specs
