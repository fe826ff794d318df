"""Device health that tells the truth: the one place that decides whether a device is
working, offline, out of service or faulty, from its last heartbeat and the thresholds an
administrator sets.

Pure: :func:`device_health` reads only the device row (its status, ``last_seen_at`` and
``health``, the last report kept with the server's own notes ``reported_at``,
``changed_at`` and ``unsynced_since``, see :func:`annotated`) and the time given. The
alerts sweep (``web.alerts_sweep``), the devices page, the fleet page and the device page
all ask it; nothing else judges a device.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from hom_phieu import formatting
from hom_phieu.i18n import _
from web.models import Device, Setting

SETTING_KEY = "fleet_thresholds"
# The fields of a report whose change is a change of the device's condition (kept in the
# history, and the ``since`` of its state); counts and versions are not.
CONDITION_FIELDS = ("out_of_service", "printer", "screen", "time_quality", "refused",
                    "refused_error")  # fmt: skip


class DeviceState(StrEnum):
    WORKING = "working"
    OFFLINE = "offline"  # no heartbeat for longer than the threshold
    OUT_OF_SERVICE = "out_of_service"  # it says it takes no votes (and why)
    FAULT = "fault"  # it reports, takes votes, but something needs a technician
    NEVER_SEEN = "never_seen"  # enrolled, never reported
    PENDING = "pending"  # waiting for its enrollment
    REVOKED = "revoked"

    def text(self) -> str:
        return {
            DeviceState.WORKING: _("working"),
            DeviceState.OFFLINE: _("offline"),
            DeviceState.OUT_OF_SERVICE: _("out of service"),
            DeviceState.FAULT: _("needs attention"),
            DeviceState.NEVER_SEEN: _("enrolled, never reported"),
            DeviceState.PENDING: _("waiting for enrollment"),
            DeviceState.REVOKED: _("revoked"),
        }[self]


# The worst first: the fleet page's order and the first state a technician looks at.
WORST_FIRST = (DeviceState.OUT_OF_SERVICE, DeviceState.OFFLINE, DeviceState.FAULT,
               DeviceState.NEVER_SEEN, DeviceState.PENDING, DeviceState.WORKING,
               DeviceState.REVOKED)  # fmt: skip


class FaultKind(StrEnum):
    PRINTER = "printer"
    SCREEN = "screen"
    CLOCK = "clock"  # unsynchronised, or far from the server's
    DISK = "disk"  # the state folder's disk nearly full
    REFUSED = "refused"  # the server refuses its records
    UNSYNCED = "unsynced"  # records waiting to sync for too long


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    detail: str = ""  # the kiosk's words (printer, screen), or figures (disk: "4,00%" free)

    def text(self) -> str:
        """The fault in words for the technician (Vietnamese first)."""
        words = {
            FaultKind.PRINTER: _("printer fault"),
            FaultKind.SCREEN: _("screen fault"),
            FaultKind.CLOCK: _("clock not synchronised"),
            FaultKind.DISK: _("disk nearly full"),
            FaultKind.REFUSED: _("records refused by the server"),
            FaultKind.UNSYNCED: _("records waiting to sync for too long"),
        }[self.kind]
        if self.kind is FaultKind.DISK and self.detail:
            return _("disk nearly full: {free} free").format(free=self.detail)
        return f"{words}: {self.detail}" if self.detail else words


@dataclass(frozen=True, slots=True)
class Thresholds:
    """What an administrator sets (the ``fleet_thresholds`` setting), with the limits the
    settings page accepts."""

    offline_minutes: int = 5  # no heartbeat for longer: offline (a kiosk posts every 30 s)
    disk_full_percent: int = 90  # the state folder's disk used at least this much: a fault
    unsynced_minutes: int = 60  # records waiting to sync for longer: a fault
    clock_skew_minutes: int = 5  # the kiosk's clock this far from the server's: a fault

    LIMITS: ClassVar[dict[str, tuple[int, int]]] = {
        "offline_minutes": (1, 1440),
        "disk_full_percent": (50, 99),
        "unsynced_minutes": (5, 10_080),
        "clock_skew_minutes": (1, 1440),
    }

    @classmethod
    def of(cls, session: Session) -> Thresholds:
        """The thresholds set (a value missing or out of its limits: the default)."""
        setting = session.get(Setting, SETTING_KEY)
        stored = setting.value if setting is not None and isinstance(setting.value, dict) else {}
        return cls.checked(stored, strict=False)

    @classmethod
    def checked(cls, values: Mapping[str, Any], *, strict: bool = True) -> Thresholds:
        """From ``values``; a value outside its limits raises ValueError when ``strict``,
        else the default is kept."""
        chosen: dict[str, int] = {}
        for item in fields(cls):
            value = values.get(item.name)
            low, high = cls.LIMITS[item.name]
            if type(value) is int and low <= value <= high:
                chosen[item.name] = value
            elif strict and value is not None:
                raise ValueError(f"{item.name}: {value!r} is outside {low}..{high}")
        return cls(**chosen)

    def save(self, session: Session) -> None:
        """Store them (in the caller's transaction; the caller audits it)."""
        self.checked(asdict(self))
        setting = session.get(Setting, SETTING_KEY) or Setting(key=SETTING_KEY)
        setting.value = asdict(self)
        session.add(setting)


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    state: DeviceState
    since: datetime | None  # when it entered that state (as far as the server knows)
    faults: tuple[Fault, ...] = ()
    reason: str | None = None  # out of service: the kiosk's words
    unsynced: int | None = None  # records waiting to sync (None: unknown)
    refused: int | None = None  # records the server refused (None: none reported)
    refused_since: datetime | None = None
    reported_at: datetime | None = None  # the last heartbeat
    software: str | None = None
    disk_free: int | None = None  # bytes (None: not reported)
    disk_total: int | None = None

    def text(self) -> str:
        """The state in words, with its reason or since when."""
        words = self.state.text()
        if self.state is DeviceState.OUT_OF_SERVICE and self.reason:
            return f"{words}: {self.reason}"
        if self.state is DeviceState.OFFLINE and self.since is not None:
            return _("{state} since {moment}").format(
                state=words, moment=formatting.stored_time(self.since)
            )
        return words

    @property
    def rank(self) -> int:
        return WORST_FIRST.index(self.state)


def device_health(device: Device, now: datetime, thresholds: Thresholds) -> DeviceHealth:
    """What ``device``'s last heartbeat and silence say at ``now``."""
    now = formatting.aware(now)
    health: dict[str, Any] = device.health or {}
    if device.status == "revoked":
        return DeviceHealth(DeviceState.REVOKED, _moment(device.revoked_at))
    if device.status != "active":
        return DeviceHealth(DeviceState.PENDING, _moment(device.created_at))
    seen = _moment(device.last_seen_at)
    if seen is None:
        return DeviceHealth(DeviceState.NEVER_SEEN, _moment(device.enrolled_at))
    faults = tuple(_faults(health, now, thresholds))
    reason = _text(health.get("out_of_service"))
    changed = _iso(health.get("changed_at")) or _moment(device.enrolled_at) or seen
    if now - seen > timedelta(minutes=thresholds.offline_minutes):
        state, since = DeviceState.OFFLINE, seen
    elif reason:
        state, since = DeviceState.OUT_OF_SERVICE, changed
    elif faults:
        state, since = DeviceState.FAULT, changed
    else:
        state, since = DeviceState.WORKING, changed
    return DeviceHealth(
        state=state,
        since=since,
        faults=faults,
        reason=reason,
        unsynced=_count(health.get("unsynced")),
        refused=_count(health.get("refused")),
        refused_since=_wall(health.get("refused_since_ms")),
        reported_at=_iso(health.get("reported_at")) or seen,
        software=_text(health.get("software")),
        disk_free=_count(health.get("disk_free")) if _count(health.get("disk_total")) else None,
        disk_total=_count(health.get("disk_total")) or None,
    )


def worst_first(rows: Iterable[tuple[Device, DeviceHealth]]) -> list[tuple[Device, DeviceHealth]]:
    """The worst state first; within one, the longest in it first."""
    return sorted(rows, key=lambda row: (row[1].rank, row[1].since or _EPOCH, row[0].id))


def annotated(previous: Mapping[str, Any] | None, report: dict[str, Any], now: datetime) -> dict:
    """The report to keep as ``devices.health``: the kiosk's fields, with the server's notes
    ``reported_at`` (now), ``changed_at`` (when its condition last changed) and
    ``unsynced_since`` (since when records have been waiting, None when none)."""
    previous = previous or {}
    stamp = formatting.aware(now).isoformat()
    same = previous and all(previous.get(k) == report.get(k) for k in CONDITION_FIELDS)
    changed = previous.get("changed_at") if same and previous.get("changed_at") else stamp
    waiting = _count(report.get("unsynced")) or 0
    unsynced_since = (previous.get("unsynced_since") or stamp) if waiting else None
    return {**report, "reported_at": stamp, "changed_at": changed,
            "unsynced_since": unsynced_since}  # fmt: skip


def condition_changed(previous: Mapping[str, Any] | None, report: Mapping[str, Any]) -> bool:
    return not previous or any(previous.get(k) != report.get(k) for k in CONDITION_FIELDS)


# --- the faults ------------------------------------------------------------------------------
def _faults(health: Mapping[str, Any], now: datetime, limits: Thresholds) -> Iterable[Fault]:
    for kind in (FaultKind.PRINTER, FaultKind.SCREEN):
        words = _text(health.get(kind.value))
        if words:
            yield Fault(kind, words)
    clock = _clock_fault(health, limits)
    if clock is not None:
        yield clock
    free, total = _count(health.get("disk_free")), _count(health.get("disk_total"))
    if free is not None and total:
        used = 100 * (total - min(free, total)) / total
        if used >= limits.disk_full_percent:
            yield Fault(FaultKind.DISK, formatting.percent(free, total))
    refused = _count(health.get("refused"))
    if refused or _text(health.get("refused_error")):
        yield Fault(FaultKind.REFUSED, _("{n} records, reason: {error}").format(
            n=refused or 0, error=health.get("refused_error") or "?"))  # fmt: skip
    waiting_since = _iso(health.get("unsynced_since"))
    waiting = _count(health.get("unsynced")) or 0
    too_long = timedelta(minutes=limits.unsynced_minutes)
    if waiting and waiting_since and now - waiting_since > too_long:
        yield Fault(FaultKind.UNSYNCED, _("{n} records since {moment}").format(
            n=waiting, moment=formatting.stored_time(waiting_since)))  # fmt: skip


def _clock_fault(health: Mapping[str, Any], limits: Thresholds) -> Fault | None:
    if health.get("time_quality") == "unsynced":
        return Fault(FaultKind.CLOCK, _("the kiosk's clock is an estimate"))
    clock_ms, reported = _count(health.get("clock_ms")), _iso(health.get("reported_at"))
    if clock_ms is None or reported is None:
        return None
    skew_s = clock_ms / 1000 - reported.timestamp()
    if abs(skew_s) > limits.clock_skew_minutes * 60:
        return Fault(FaultKind.CLOCK, _("{minutes} minutes off the server's clock").format(
            minutes=formatting.decimal(skew_s / 60)))  # fmt: skip
    return None


# --- reading a kept report (a hand-edited or old row never raises) ---------------------------
_EPOCH = datetime.fromtimestamp(0, UTC)


def _moment(value: datetime | None) -> datetime | None:
    return None if value is None else formatting.aware(value)


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return formatting.aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def _wall(value: Any) -> datetime | None:
    ms = _count(value)
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def _count(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
