"""The sweep: raise the alerts derived from state, and resolve them when the state is gone.

``sweep(session, now)`` reads each kiosk's health (``web.fleet_health``: the one place
that decides whether a device is working, offline, out of service or faulty), the boxes
due (``web.pages.front_lists``, from the ceremony calendar) and the refused presses of
the last minutes; it raises (or refreshes) one alert per condition and resolves the open
alerts of those kinds whose condition is gone (a device back online, a box opened).
A forked chain (``web.device_alerts.unresolved_forks``: evidence not yet recovered on the
fork page) is an equivocation alert; records refused for another reason, one; records
waiting to sync too long, one. A refusal's alert ends when a newer report says the kiosk's
pushes go through again, or when the forked side's branch is adopted (``web.forks``).
Run every minute by ``hom-phieu web alerts sweep`` (a systemd timer) only: the alerts
page reads what it left (a GET writes nothing). Reads no ballot's content: refused
presses are counted as records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hom_phieu import formatting
from hom_phieu.ledger.records import Kind
from web.alerts import AlertKind, open_key, raise_alert, resolve
from web.ceremony_calendar import month_end
from web.device_alerts import last_adoptions, unresolved_forks
from web.models import Alert, Device, LedgerRecord, Office

# Kinds whose condition the sweep sees: resolved by it when the condition is gone.
SWEPT = (AlertKind.DEVICE_OFFLINE, AlertKind.OUT_OF_SERVICE, AlertKind.PRINTER_FAULT,
         AlertKind.SCREEN_FAULT, AlertKind.CLOCK_UNSYNCED, AlertKind.DISK_FULL,
         AlertKind.BOX_UNSYNCED, AlertKind.BOX_OVERDUE, AlertKind.EQUIVOCATION,
         AlertKind.RECORDS_UNSYNCED)  # fmt: skip
BURST_WINDOW = timedelta(minutes=10)
BURST_PRESSES = 20  # refused presses in BURST_WINDOW on one kiosk: a stuck button, a game
FAULT_KINDS = {"printer": AlertKind.PRINTER_FAULT, "screen": AlertKind.SCREEN_FAULT,
               "clock": AlertKind.CLOCK_UNSYNCED, "disk": AlertKind.DISK_FULL}  # fmt: skip
FORKED = "equivocation"  # a kiosk's refusal for a forked chain: the evidence's alert
GONE_NOTE = "condition gone"  # (the audit's words; the page shows "resolved by the sweep")


@dataclass
class Swept:
    raised: set[str] = field(default_factory=set)  # open keys seen this sweep
    resolved: int = 0


def sweep(session: Session, now: datetime, *, offices: Sequence[Office] | None = None) -> Swept:
    """Raise and resolve the state-derived alerts of ``offices`` (None: all). In the
    caller's transaction."""
    if offices is None:
        offices = list(session.scalars(select(Office)))
    ids = [o.id for o in offices]
    swept = Swept()
    if not ids:
        return swept
    devices = list(session.scalars(
        select(Device).where(Device.office_id.in_(ids), Device.kind == "kiosk",
                             Device.status == "active")))  # fmt: skip
    pks = [d.id for d in devices]
    chains = Chains(unresolved_forks(session, pks), last_adoptions(session, pks))
    for device in devices:
        for kind, details in device_conditions(session, device, now, chains):
            swept.raised.add(raise_alert(session, kind, device.office_id, device, details,
                                         now).open_key or "")  # fmt: skip
    _refused_bursts(session, devices, now)
    _boxes(session, offices, devices, now, swept)
    stale = session.scalars(
        select(Alert).where(Alert.office_id.in_(ids), Alert.resolved_at.is_(None),
                            Alert.kind.in_([str(k) for k in SWEPT])))  # fmt: skip
    for alert in list(stale):
        if alert.open_key not in swept.raised and resolve(session, alert, None, now, GONE_NOTE):
            swept.resolved += 1
    _refusals_over(session, ids, swept, now)
    return swept


@dataclass(frozen=True)
class Chains:
    """What the server knows of the devices' chains: device pk -> the seq where it forked
    (not recovered yet); device pk -> when a forked branch was last adopted."""

    forked: dict[int, int] = field(default_factory=dict)
    adopted: dict[int, datetime] = field(default_factory=dict)


def device_conditions(
    session: Session, device: Device, now: datetime, chains: Chains | None = None
) -> list[tuple[AlertKind, dict[str, str | int]]]:
    """The alerts ``device``'s health calls for, as ``web.fleet_health`` judges it: its
    state (offline, out of service) and its faults (printer, screen, clock, disk, records
    refused or waiting too long); and its chain, as the server holds it (forked)."""
    from web.fleet_health import DeviceState, FaultKind, Thresholds, _iso, device_health

    chains = chains or Chains()

    health = device_health(device, now, Thresholds.of(session))
    name = device.device_id or ""
    found: list[tuple[AlertKind, dict[str, str | int]]] = []
    if health.state is DeviceState.OFFLINE:
        since = formatting.stored_time(health.since)
        found.append((AlertKind.DEVICE_OFFLINE, {"device": name, "since": since}))
    elif health.state is DeviceState.OUT_OF_SERVICE:
        found.append((AlertKind.OUT_OF_SERVICE, {"device": name, "reason": health.reason or ""}))
    for fault in health.faults:
        kind = FAULT_KINDS.get(str(fault.kind))
        if kind is not None:
            key = "free" if kind is AlertKind.DISK_FULL else "reason"
            found.append((kind, {"device": name, key: fault.detail}))
        elif fault.kind is FaultKind.UNSYNCED:
            since = formatting.stored_time(_iso((device.health or {}).get("unsynced_since"))
                                           or now)  # fmt: skip
            found.append(
                (
                    AlertKind.RECORDS_UNSYNCED,
                    {"device": name, "records": health.unsynced or 0, "since": since},
                )
            )
        elif fault.kind is FaultKind.REFUSED:
            refused = _refused(session, device, health.reported_at, chains)
            if refused is not None:
                found.append((AlertKind.RECORDS_REFUSED, refused))
    if device.id in chains.forked:
        found.append((AlertKind.EQUIVOCATION, {"device": name, "seq": chains.forked[device.id]}))
    return found


def _refused(session: Session, device: Device, reported: datetime | None,
             chains: Chains) -> dict[str, str | int] | None:  # fmt: skip
    """The records-refused alert's details (those of the open one, raised by ``web.ingest``
    with the server's words, if any); None when the refusal is a forked chain (its
    evidence's alert) or the report predates the adoption of its branch."""
    error = str((device.health or {}).get("refused_error") or "")
    adopted = chains.adopted.get(device.id)
    if error == FORKED or (adopted is not None and (reported is None or reported <= adopted)):
        return None
    key = open_key(AlertKind.RECORDS_REFUSED, device, device.office_id)
    held = session.scalar(select(Alert).where(Alert.open_key == key))
    if held is not None and held.params:
        return dict(held.params)
    return {"device": device.device_id or "", "reason": error or "?"}


def _refusals_over(session: Session, office_ids: list[int], swept: Swept, now: datetime) -> None:
    """Records refused no more: a report newer than the alert's last sighting says the
    kiosk's pushes go through (raised by a push, the alert outlives a silent kiosk)."""
    from web.fleet_health import _iso

    kind = str(AlertKind.RECORDS_REFUSED)
    held = session.execute(
        select(Alert, Device).join(Device, Device.id == Alert.device_pk)
        .where(Alert.office_id.in_(office_ids), Alert.resolved_at.is_(None), Alert.kind == kind)
    ).all()  # fmt: skip
    for alert, device in held:
        if alert.open_key in swept.raised:
            continue
        reported = _iso((device.health or {}).get("reported_at"))
        seen = formatting.aware(alert.last_seen_at or alert.at)
        if reported is not None and reported > seen and resolve(session, alert, None, now,
                                                                GONE_NOTE):  # fmt: skip
            swept.resolved += 1


def _refused_bursts(session: Session, devices: Iterable[Device], now: datetime) -> None:
    by_pk = {d.id: d for d in devices}
    if not by_pk:
        return
    since_ms = int((now - BURST_WINDOW).timestamp() * 1000)
    bursts = session.execute(
        select(LedgerRecord.device_pk, func.count())
        .where(LedgerRecord.device_pk.in_(list(by_pk)), LedgerRecord.kind == Kind.REFUSED.value,
               LedgerRecord.wall_ms >= since_ms)
        .group_by(LedgerRecord.device_pk)
        .having(func.count() >= BURST_PRESSES)
    )  # fmt: skip
    minutes = int(BURST_WINDOW.total_seconds() // 60)
    for device_pk, presses in bursts:
        device = by_pk[device_pk]
        details = {"device": device.device_id or "", "presses": presses, "minutes": minutes}
        raise_alert(session, AlertKind.REFUSED_PRESSES, device.office_id, device, details, now)


def _boxes(session: Session, offices: Sequence[Office], devices: Sequence[Device],
           now: datetime, swept: Swept) -> None:  # fmt: skip
    """A box due whose devices have not synced since it closed; a box overdue."""
    from web.pages import front_lists  # (the front page's list of the boxes due)

    held = {(office_id, box) for office_id, box in session.execute(
        select(LedgerRecord.office_id, LedgerRecord.box)
        .where(LedgerRecord.office_id.in_([o.id for o in offices]),
               LedgerRecord.kind == Kind.VOTE.value)  # (as the front page: a ballot's box)
        .distinct())}  # fmt: skip
    due, _opened = front_lists(session, list(offices), held, now)
    for box in due:
        closed = month_end(box.box)
        if closed > now:
            continue  # (this month's box, due from its last working day: still filling)
        for device in devices:
            if device.office_id != box.office.id or _seen(device.last_seen_at) >= closed:
                continue
            if device.enrolled_at is None or _seen(device.enrolled_at) >= closed:
                continue
            details = {"device": device.device_id or "", "box": box.box}
            alert = raise_alert(session, AlertKind.BOX_UNSYNCED, box.office, device, details,
                                now, box=box.box)  # fmt: skip
            swept.raised.add(alert.open_key or "")
        if box.overdue:
            details = {"office": box.office.name, "box": box.box,
                       "due": box.overdue_from.strftime("%d/%m/%Y")}  # fmt: skip
            alert = raise_alert(session, AlertKind.BOX_OVERDUE, box.office, None, details, now,
                                box=box.box)  # fmt: skip
            swept.raised.add(alert.open_key or "")


def _seen(moment: datetime | None) -> datetime:
    return formatting.aware(moment) if moment is not None else datetime.min.replace(
        tzinfo=month_end("2000-01").tzinfo)  # fmt: skip


__all__ = ["SWEPT", "Chains", "Swept", "device_conditions", "open_key", "sweep"]
