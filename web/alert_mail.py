"""Alerts sent by e-mail: who gets what, at most N mails an hour each, retried while the
SMTP server fails. Run by the sweep (``hom-phieu web alerts sweep``, every minute), never
in a request: raising an alert never waits for a mail server.

Who: active accounts with an e-mail address that did not opt out (``users.alert_mail``),
whose role acts on the alert's kind (``web.alerts.roles_for``; administrators on all) and
whose unit is the alert's office's unit or above it (an account without a unit: all).

What: an open alert nobody acknowledged yet is queued once per recipient
(``web.models_alert_mail.AlertMail``, unique per alert and user: an alert raised again is
not mailed again; one re-opened after its resolution is a new alert, so a new mail).

When: each recipient gets at most ``per_hour`` mails in any hour; when more alerts are
waiting than mails left, the last mail of the hour is a digest of all the rest, and once
the hour is used up they wait for it to end (nothing is dropped). An alert resolved before
its mail could go is not mailed (``skipped``). A failing SMTP server stops the run: the
mails due are retried later with backoff (1, 2, 4 … 60 minutes), the error kept in words.
Time only from the caller (``web.clock``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hom_phieu import formatting
from web import alert_mail_settings
from web.alert_mail_compose import Connection, compose, explain, permanent
from web.alert_mail_settings import SmtpSettings
from web.alerts import SPECS, roles_for
from web.models import Alert, Office, Role, Unit, User
from web.models_alert_mail import PENDING, SENT, SKIPPED, AlertMail

HOUR = timedelta(hours=1)
BACKOFF_CAP = timedelta(minutes=60)
SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


@dataclass
class Delivered:
    queued: int = 0  # new (alert, recipient) rows
    mails: int = 0  # mails sent (a digest counts once)
    alerts: int = 0  # alert rows carried by them
    waiting: int = 0  # rows held back by the hourly limit
    skipped: int = 0
    error: str | None = None  # the SMTP failure that stopped the run, in words


def run(session: Session, now: datetime, *,
        connect: Callable[[SmtpSettings], Connection] = Connection) -> Delivered:  # fmt: skip
    """Queue the alerts to mail and send what is due. Commits after each mail (a mail sent
    is never sent again, whatever happens next). Nothing if mail is not configured."""
    settings = alert_mail_settings.load(session)
    done = Delivered()
    if not settings.configured:
        return done
    done.queued = queue(session, now)
    session.commit()
    deliver(session, settings, now, done, connect(settings))
    return done


def eligible(user: User) -> bool:
    return bool(user.active and user.email and user.alert_mail)


def recipients(session: Session, alert: Alert, users: Sequence[User] | None = None,
               chains: dict[int, set[int]] | None = None) -> list[User]:  # fmt: skip
    """Who gets ``alert`` by mail (see the module's words)."""
    if users is None:
        users = list(session.scalars(select(User).where(User.email.is_not(None))))
    roles = roles_for(alert.kind)
    above = _units_above(session, alert.office_id, chains if chains is not None else {})
    return [
        user for user in users
        if eligible(user) and (user.role == Role.ADMIN or user.role in roles)
        and (user.unit_id is None or user.unit_id in above)
    ]  # fmt: skip


def queue(session: Session, now: datetime) -> int:
    """One pending row per open, unacknowledged alert and recipient not queued yet."""
    alerts = list(session.scalars(
        select(Alert).where(Alert.resolved_at.is_(None), Alert.acknowledged_at.is_(None),
                            Alert.kind.in_([str(kind) for kind in SPECS]))))  # fmt: skip
    if not alerts:
        return 0
    users = list(session.scalars(
        select(User).where(User.email.is_not(None), User.alert_mail.is_(True),
                           User.active.is_(True))))  # fmt: skip
    if not users:
        return 0
    have = set(map(tuple, session.execute(
        select(AlertMail.alert_id, AlertMail.user_id)
        .where(AlertMail.alert_id.in_([a.id for a in alerts])))))  # fmt: skip
    chains: dict[int, set[int]] = {}
    added = 0
    for alert in alerts:
        for user in recipients(session, alert, users, chains):
            if (alert.id, user.id) not in have:
                session.add(AlertMail(alert_id=alert.id, user_id=user.id, status=PENDING,
                                      created_at=now))  # fmt: skip
                added += 1
    session.flush()
    return added


def deliver(session: Session, settings: SmtpSettings, now: datetime, done: Delivered,
            connection: Connection) -> None:  # fmt: skip
    due = list(session.scalars(
        select(AlertMail).where(AlertMail.status == PENDING, or_(
            AlertMail.next_attempt_at.is_(None), AlertMail.next_attempt_at <= now))
        .order_by(AlertMail.user_id, AlertMail.id)))  # fmt: skip
    by_user: dict[int, list[AlertMail]] = defaultdict(list)
    for row in due:
        by_user[row.user_id].append(row)
    try:
        for user_id, rows in by_user.items():
            if not _deliver_to(session, settings, now, done, connection, user_id, rows):
                _back_off(session, [r for rows in by_user.values() for r in rows
                                    if r.status == PENDING], now, done.error or "")  # fmt: skip
                return
    finally:
        connection.close()


def _deliver_to(session: Session, settings: SmtpSettings, now: datetime, done: Delivered,
                connection: Connection, user_id: int, rows: list[AlertMail]) -> bool:  # fmt: skip
    """Send ``rows`` to the user within its hourly limit; False if the SMTP server failed."""
    user = session.get(User, user_id)
    alerts = {row.id: session.get(Alert, row.alert_id) for row in rows}
    live: list[AlertMail] = []
    for row in rows:
        alert = alerts[row.id]
        if user is None or not eligible(user) or alert is None or alert.resolved_at is not None:
            row.status, done.skipped = SKIPPED, done.skipped + 1
        else:
            live.append(row)
    session.commit()
    if not live or user is None:
        return True
    sent = list(session.execute(
        select(AlertMail.message_id, func.min(AlertMail.sent_at))
        .where(AlertMail.user_id == user_id, AlertMail.status == SENT,
               AlertMail.sent_at > now - HOUR)
        .group_by(AlertMail.message_id)).all())  # fmt: skip
    budget = settings.per_hour - len(sent)
    if budget <= 0:  # the hour is used up: wait for its first mail to be an hour old
        free_at = min(formatting.aware(at) for _id, at in sent) + HOUR
        for row in live:
            row.next_attempt_at = free_at
        done.waiting += len(live)
        session.commit()
        return True
    live.sort(key=lambda r: (SEVERITY_ORDER.get(alerts[r.id].severity, 3), r.id))
    batches = ([[row] for row in live] if len(live) <= budget
               else [[row] for row in live[: budget - 1]] + [live[budget - 1 :]])  # fmt: skip
    for batch in batches:
        message = compose(session, settings, user, [alerts[row.id] for row in batch])
        try:
            connection.send(message)
        except Exception as error:  # (every SMTP or network failure is named, none escapes)
            done.error = explain(error, settings)
            if not permanent(error):
                return False
            for row in batch:
                row.status, row.error = SKIPPED, done.error[:2000]
            done.skipped += len(batch)
            session.commit()
            continue
        for row in batch:
            row.status, row.sent_at, row.message_id = SENT, now, str(message["Message-ID"])
            row.error = ""
        done.mails, done.alerts = done.mails + 1, done.alerts + len(batch)
        session.commit()
    return True


def _back_off(session: Session, rows: Sequence[AlertMail], now: datetime, error: str) -> None:
    for row in rows:
        row.attempts = (row.attempts or 0) + 1
        row.next_attempt_at = now + min(timedelta(minutes=2 ** (row.attempts - 1)), BACKOFF_CAP)
        row.error = error[:2000]
    session.commit()


def _units_above(session: Session, office_id: int | None, chains: dict[int, set[int]]) -> set[int]:
    """The office's unit and every unit above it (cached per office)."""
    if office_id is None:
        return set()
    if office_id not in chains:
        office = session.get(Office, office_id)
        found: set[int] = set()
        unit = session.get(Unit, office.unit_id) if office is not None else None
        while unit is not None and unit.id not in found:
            found.add(unit.id)
            unit = session.get(Unit, unit.parent_id) if unit.parent_id is not None else None
        chains[office_id] = found
    return chains[office_id]


def waiting(session: Session) -> tuple[int, str]:
    """Mails waiting (pending), and the latest error of one of them ("" none)."""
    count = session.scalar(select(func.count()).where(AlertMail.status == PENDING)) or 0
    error = session.scalar(
        select(AlertMail.error).where(AlertMail.status == PENDING, AlertMail.error != "")
        .order_by(AlertMail.next_attempt_at.desc()).limit(1))  # fmt: skip
    return count, error or ""


__all__ = ["Delivered", "deliver", "eligible", "queue", "recipients", "run"]
