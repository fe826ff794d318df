"""Alerts that name a fault and the person who can fix it, and reveal no results.

Every alert is an :class:`AlertKind` with parameters (a device id, a box, a reason, a
clerk's name, how many records...), stored as such: its words (:func:`alert_words`) are
rendered at display time in the reader's language, never frozen in the raiser's. A kind
declares the parameters it may carry, so no alert can carry a count by level.

One open alert per kind and subject (device, or office and box/clerk): raising it again
updates ``last_seen_at`` and ``seen_count`` instead of piling up (the ``open_key``
column is unique while the alert is open, NULL once resolved). An alert is acknowledged
(who, when) and resolved (who, when, a note); state-derived kinds are also resolved by
the sweep (``web.alerts_sweep``) when their condition is gone. Every step is audited.

For the e-mail (``web.alert_mail``): rows have a stable ``id``, ``kind``, ``office_id``,
``device_pk``, ``raised_at``, ``severity``; :func:`alert_words` gives what to write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hom_phieu.i18n import N_, _
from web.models import Alert, AuditEntry, Device, Office, Role


class AlertKind(StrEnum):
    DEVICE_OFFLINE = "device_offline"
    OUT_OF_SERVICE = "out_of_service"
    PRINTER_FAULT = "printer_fault"
    SCREEN_FAULT = "screen_fault"
    CLOCK_UNSYNCED = "clock_unsynced"
    CLOCK_AHEAD = "clock_ahead"  # (records dated ahead of the server: web.device_alerts)
    DISK_FULL = "disk_full"
    RECORDS_REFUSED = "records_refused"
    EQUIVOCATION = "equivocation"
    RECORDS_UNSYNCED = "records_unsynced"  # records waiting to sync for too long
    BOX_UNSYNCED = "box_unsynced"  # a box due and a device not yet synced since it closed
    BOX_OVERDUE = "box_overdue"
    REFUSED_PRESSES = "refused_presses"  # a burst of refused presses on a kiosk
    PHONE_REFUSALS = "phone_refusals"  # a burst of refused phone answers for one clerk


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class State(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


DEVICE_PEOPLE = (Role.ADMIN, Role.TECHNICIAN)
BOX_PEOPLE = (Role.ADMIN, Role.COMMITTEE)


@dataclass(frozen=True, slots=True)
class KindSpec:
    title: str  # N_(...): translated at use
    detail: str  # N_(...) with {params}
    action: str  # N_(...): what to do
    roles: tuple[str, ...]  # who acts on it (and sees it)
    severity: Severity
    params: tuple[str, ...]  # the only parameters it may carry (never a count by level)
    link: str  # "device" (/devices/<pk>), "fork" (/devices/<pk>/fork) or "box"


SPECS: dict[AlertKind, KindSpec] = {
    AlertKind.DEVICE_OFFLINE: KindSpec(
        N_("Device offline"),
        N_("Device {device} has not reported since {since}."),
        N_("Check the kiosk's power and network; restart it if its screen is dark."),
        DEVICE_PEOPLE, Severity.CRITICAL, ("device", "since"), "device",
    ),
    AlertKind.OUT_OF_SERVICE: KindSpec(
        N_("Device out of service"),
        N_("Device {device} is out of service: {reason}."),
        N_("Go to the kiosk, fix the cause shown on its screen, then check it takes votes."),
        DEVICE_PEOPLE, Severity.CRITICAL, ("device", "reason"), "device",
    ),
    AlertKind.PRINTER_FAULT: KindSpec(
        N_("Printer fault"),
        N_("The printer of device {device} reports a fault: {reason}."),
        N_("Check the paper and the printer's cable; replace the paper roll if it is out."),
        DEVICE_PEOPLE, Severity.WARNING, ("device", "reason"), "device",
    ),
    AlertKind.SCREEN_FAULT: KindSpec(
        N_("Screen fault"),
        N_("The screen of device {device} reports a fault: {reason}."),
        N_("Check the screen's cable and power; replace the screen if it stays dark."),
        DEVICE_PEOPLE, Severity.WARNING, ("device", "reason"), "device",
    ),
    AlertKind.CLOCK_UNSYNCED: KindSpec(
        N_("Clock not synchronised"),
        N_("The clock of device {device} is not synchronised or not plausible: {reason}."),
        N_("Check the kiosk's network access to the time servers, then restart it."),
        DEVICE_PEOPLE, Severity.WARNING, ("device", "reason"), "device",
    ),
    AlertKind.CLOCK_AHEAD: KindSpec(
        N_("Records dated ahead"),
        N_("Device {device} sent records dated {dated}, ahead of the server's time {now}: "
           "its clock is wrong; their ballots are counted in the month they arrived."),
        N_("Check the kiosk's clock and its network access to the time servers."),
        DEVICE_PEOPLE, Severity.WARNING, ("device", "dated", "now"), "device",
    ),
    AlertKind.DISK_FULL: KindSpec(
        N_("Disk nearly full"),
        N_("The disk of device {device} is nearly full ({free} free)."),
        N_("Replace the kiosk's memory card with a larger one after its records are synced."),
        DEVICE_PEOPLE, Severity.WARNING, ("device", "free"), "device",
    ),
    AlertKind.RECORDS_REFUSED: KindSpec(
        N_("Records refused by the server"),
        N_("The server refuses the records of device {device}: {reason}. Its card may have "
           "been restored, cloned or rewritten; it keeps taking votes that cannot be synced."),
        N_("Open the device's page and recover it: re-enrol the copy as a new device."),
        DEVICE_PEOPLE, Severity.CRITICAL, ("device", "reason"), "device",
    ),
    AlertKind.EQUIVOCATION: KindSpec(
        N_("Two different records with one number"),
        N_("Device {device} signed two different records numbered {seq}: the device was "
           "cloned or restored from an old copy."),
        N_("Open the device's page, then its forked chain: confirm the fork there; the copy "
           "is re-enrolled as a new device (hom-phieu kiosk provision --new-identity) and "
           "its old ledger uploaded: no vote is lost."),
        DEVICE_PEOPLE, Severity.CRITICAL, ("device", "seq"), "fork",
    ),
    AlertKind.RECORDS_UNSYNCED: KindSpec(
        N_("Records waiting to sync"),
        N_("Device {device} has had {records} records waiting to sync since {since}."),
        N_("Check the kiosk's network and its access to the server; its votes are kept "
           "until they reach the server."),
        DEVICE_PEOPLE, Severity.WARNING, ("device", "records", "since"), "device",
    ),
    AlertKind.BOX_UNSYNCED: KindSpec(
        N_("Box due, device not synced"),
        N_("The box {box} is due but device {device} has not synced since it closed."),
        N_("Bring the kiosk online so its records reach the server before the opening."),
        DEVICE_PEOPLE, Severity.WARNING, ("device", "box"), "device",
    ),
    AlertKind.BOX_OVERDUE: KindSpec(
        N_("Box overdue for its opening"),
        N_("The box {box} of {office} is overdue: it should have been opened by {due}."),
        N_("Convene the committee and hold the opening ceremony."),
        BOX_PEOPLE, Severity.WARNING, ("office", "box", "due"), "box",
    ),
    AlertKind.REFUSED_PRESSES: KindSpec(
        N_("Burst of refused presses"),
        N_("Device {device} refused {presses} presses in {minutes} minutes."),
        N_("Look at the kiosk: a stuck button, or someone pressing again and again."),
        DEVICE_PEOPLE, Severity.WARNING, ("device", "presses", "minutes"), "device",
    ),
    AlertKind.PHONE_REFUSALS: KindSpec(
        N_("Burst of refused phone answers"),
        N_("{answers} phone answers were refused in a minute for clerk {clerk} of {office}."),
        N_("Ask the clerk whether citizens had trouble; a script may be sending answers."),
        BOX_PEOPLE, Severity.WARNING, ("office", "clerk", "answers"), "box",
    ),
}  # fmt: skip

STATE_LABELS = {State.OPEN: N_("open"), State.ACKNOWLEDGED: N_("acknowledged"),
                State.RESOLVED: N_("resolved")}  # fmt: skip
SEVERITY_LABELS = {Severity.CRITICAL: N_("critical"), Severity.WARNING: N_("warning"),
                   Severity.INFO: N_("information")}  # fmt: skip


@dataclass(frozen=True, slots=True)
class AlertWords:
    title: str
    detail: str
    action: str
    link: str | None  # a path on the server (the e-mail prefixes the server's address)


def kind_of(alert: Alert) -> AlertKind | None:
    try:
        return AlertKind(alert.kind)
    except ValueError:
        return None


def alert_words(alert: Alert) -> AlertWords:
    """The alert's words in the current language (``hom_phieu.i18n``)."""
    kind = kind_of(alert)
    if kind is None:
        return AlertWords(alert.kind, alert.message, "", _link(alert, "device"))
    spec = SPECS[kind]
    params = {name: str(value) for name, value in (alert.params or {}).items()}
    try:
        detail = _(spec.detail).format(**params) if params else alert.message or _(spec.title)
    except (KeyError, IndexError, ValueError):
        detail = alert.message or _(spec.title)
    return AlertWords(_(spec.title), detail, _(spec.action), _link(alert, spec.link))


def _link(alert: Alert, target: str) -> str | None:
    if target == "box" and alert.office_id is not None and alert.box:
        return f"/offices/{alert.office_id}/boxes/{alert.box}"
    if alert.device_pk is not None:
        return f"/devices/{alert.device_pk}" + ("/fork" if target == "fork" else "")
    return None


def state_of(alert: Alert) -> State:
    if alert.resolved_at is not None:
        return State.RESOLVED
    return State.ACKNOWLEDGED if alert.acknowledged_at is not None else State.OPEN


def roles_for(kind: str) -> tuple[str, ...]:
    try:
        return SPECS[AlertKind(kind)].roles
    except ValueError:
        return DEVICE_PEOPLE


def kinds_for(role: str) -> list[str]:
    """The kinds a role acts on (an administrator: all, and the older kinds)."""
    return [str(kind) for kind, spec in SPECS.items() if role == Role.ADMIN or role in spec.roles]


def open_key(kind: AlertKind, device: Device | None, office_id: int | None,
             subject: str = "") -> str:  # fmt: skip
    who = f"d{device.id}" if device is not None else f"o{office_id}"
    return f"{kind}|{who}|{subject}"[:200]


def raise_alert(
    session: Session,
    kind: AlertKind,
    office: Office | int | None,
    device: Device | None,
    details: dict[str, str | int],
    now: datetime,
    *,
    box: str | None = None,
    subject: str = "",
) -> Alert:
    """Raise ``kind`` about ``device`` (else ``office``), or update the open one of the same
    kind and subject (``last_seen_at``, ``seen_count``, the details). In the caller's
    transaction. ``details`` may carry only the kind's declared parameters."""
    spec = SPECS[kind]
    extra = set(details) - set(spec.params)
    if extra:
        raise ValueError(f"{kind} carries no {sorted(extra)}")
    office_id = office if isinstance(office, int) or office is None else office.id
    if office_id is None and device is not None:
        office_id = device.office_id
    key = open_key(kind, device, office_id, subject or (box or ""))
    params = {name: value for name, value in details.items()}
    alert = session.scalar(select(Alert).where(Alert.open_key == key))
    if alert is None:
        alert = Alert(kind=str(kind), office_id=office_id, device_pk=device.id if device else None,
                      message="", params=params, severity=str(spec.severity), box=box,
                      open_key=key, at=now, last_seen_at=now, seen_count=1)  # fmt: skip
        alert.message = alert_words(alert).detail[:4000]  # (a log line; pages render params)
        try:
            with session.begin_nested():
                session.add(alert)
        except IntegrityError:  # raised meanwhile by another process: update that one
            alert = session.scalar(select(Alert).where(Alert.open_key == key))
            if alert is None:
                raise
        else:
            _audit(session, "alert.raise", alert, None, now)
            return alert
    alert.last_seen_at, alert.seen_count = now, (alert.seen_count or 1) + 1
    if params != alert.params:
        alert.params = params
        alert.message = alert_words(alert).detail[:4000]
    return alert


def acknowledge(session: Session, alert: Alert, user_id: int, now: datetime) -> bool:
    """``user_id`` has seen the alert and acts on it; False if already acknowledged or
    resolved. Audited; in the caller's transaction."""
    if alert.acknowledged_at is not None or alert.resolved_at is not None:
        return False
    alert.acknowledged_by, alert.acknowledged_at = user_id, now
    _audit(session, "alert.acknowledge", alert, user_id, now)
    return True


def resolve(session: Session, alert: Alert, user_id: int | None, now: datetime,
            note: str = "") -> bool:  # fmt: skip
    """The fault is gone (``user_id`` None: the sweep saw its condition end). Frees the
    alert's key so the next occurrence raises a new one. False if already resolved."""
    if alert.resolved_at is not None:
        return False
    alert.resolved_at, alert.resolved_by, alert.resolved_note = now, user_id, note[:2000]
    alert.open_key = None
    _audit(session, "alert.resolve", alert, user_id, now, note=note[:2000])
    return True


def _audit(session: Session, action: str, alert: Alert, user_id: int | None, now: datetime,
           **detail: str) -> None:  # fmt: skip
    session.flush()  # (the alert's id)
    detail = {"kind": alert.kind, "office_id": alert.office_id, "device_pk": alert.device_pk,
              **detail}  # fmt: skip
    entry = AuditEntry(at=now, user_id=user_id, action=action, target=f"alert:{alert.id}",
                       detail=detail)  # fmt: skip
    session.add(entry)
