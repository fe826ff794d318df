"""Device health that tells the truth (issue 14): ``web.fleet_health`` judges a device from
its last heartbeat and silence with the thresholds set, and the kiosk's sync thread reports
what only it knows (its disk, the records the server refuses, its clock), even when its
push was refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Level
from hom_phieu.protocol.models import HealthReport
from kiosk.sync_client import SyncClient
from tests.api_helpers import enroll, make_app, push, register, seed, serving
from tests.polling import wait_for
from tests.web_process import free_port
from web import db as web_db
from web.fleet_health import (
    DeviceState,
    FaultKind,
    Thresholds,
    annotated,
    condition_changed,
    device_health,
    worst_first,
)
from web.models import Device

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LIMITS = Thresholds()


def kiosk(minutes_ago: float = 0.5, **report) -> Device:
    """An active kiosk whose last report (with the server's notes) came ``minutes_ago``."""
    seen = NOW - timedelta(minutes=minutes_ago)
    health = annotated({}, {"unsynced": 0, "time_quality": "synced", **report}, seen)
    return Device(id=1, status="active", enrolled_at=NOW - timedelta(days=3), last_seen_at=seen,
                  health=health)  # fmt: skip


def test_a_device_is_offline_once_silent_for_longer_than_the_threshold():
    assert device_health(kiosk(4.9), NOW, LIMITS).state is DeviceState.WORKING
    health = device_health(kiosk(5.1), NOW, LIMITS)
    assert health.state is DeviceState.OFFLINE
    assert health.since == NOW - timedelta(minutes=5.1)
    assert "20/11/2026 15:54" in health.text()  # (Vietnam time)
    assert device_health(kiosk(5.1), NOW, Thresholds(offline_minutes=10)).state == "working"


def test_states_before_and_after_service():
    assert device_health(Device(status="pending"), NOW, LIMITS).state is DeviceState.PENDING
    revoked = Device(status="revoked", revoked_at=NOW)
    assert device_health(revoked, NOW, LIMITS).state is DeviceState.REVOKED
    silent = Device(status="active", enrolled_at=NOW, health={})
    assert device_health(silent, NOW, LIMITS).state is DeviceState.NEVER_SEEN
    down = device_health(kiosk(out_of_service="chưa có cấu hình"), NOW, LIMITS)
    assert down.state is DeviceState.OUT_OF_SERVICE and down.text().endswith("chưa có cấu hình")


def test_each_fault_is_named():
    device = kiosk(printer="hết giấy", screen="không có khung hình", time_quality="unsynced",
                   disk_free=3_000, disk_total=100_000, refused=4, refused_error="equivocation",
                   refused_since_ms=int(NOW.timestamp() * 1000) - 60_000)  # fmt: skip
    health = device_health(device, NOW, LIMITS)
    assert health.state is DeviceState.FAULT
    kinds = {fault.kind: fault for fault in health.faults}
    assert set(kinds) == {FaultKind.PRINTER, FaultKind.SCREEN, FaultKind.CLOCK, FaultKind.DISK,
                          FaultKind.REFUSED}  # fmt: skip
    assert kinds[FaultKind.PRINTER].detail == "hết giấy"
    assert kinds[FaultKind.DISK].detail == "3,00%"
    assert "equivocation" in kinds[FaultKind.REFUSED].text()
    assert health.refused == 4 and health.refused_since == NOW - timedelta(minutes=1)
    assert device_health(kiosk(disk_free=30_000, disk_total=100_000), NOW, LIMITS).faults == ()


def test_a_clock_far_from_the_servers_is_a_fault():
    ahead = int((NOW + timedelta(minutes=20)).timestamp() * 1000)
    faults = device_health(kiosk(0, clock_ms=ahead), NOW, LIMITS).faults
    assert [f.kind for f in faults] == [FaultKind.CLOCK]
    assert (
        device_health(kiosk(0, clock_ms=ahead), NOW, Thresholds(clock_skew_minutes=30)).faults == ()
    )


def test_records_waiting_too_long_and_the_condition_since():
    first = annotated({}, {"unsynced": 3, "printer": None}, NOW - timedelta(hours=2))
    later = annotated(first, {"unsynced": 5, "printer": None}, NOW)
    assert later["unsynced_since"] == first["unsynced_since"]  # still waiting since then
    assert later["changed_at"] == first["changed_at"]  # a count is no change of condition
    assert not condition_changed(first, {"unsynced": 5, "printer": None})
    device = Device(status="active", enrolled_at=NOW, last_seen_at=NOW, health=later)
    health = device_health(device, NOW, LIMITS)
    assert [f.kind for f in health.faults] == [FaultKind.UNSYNCED] and health.unsynced == 5
    broke = annotated(later, {"unsynced": 0, "printer": "kẹt giấy"}, NOW)
    assert broke["unsynced_since"] is None and broke["changed_at"] == NOW.isoformat()


def test_a_hand_edited_report_never_raises_and_the_worst_come_first():
    odd = Device(id=2, status="active", last_seen_at=NOW,
                 health={"unsynced": "many", "disk_total": -1, "reported_at": "?"})  # fmt: skip
    assert device_health(odd, NOW, LIMITS).state is DeviceState.WORKING
    rows = [(d, device_health(d, NOW, LIMITS)) for d in (odd, kiosk(9.0))]
    assert [health.state for _d, health in worst_first(rows)] == ["offline", "working"]


def test_thresholds_out_of_their_limits_are_refused():
    assert Thresholds.checked({"offline_minutes": 3}).offline_minutes == 3
    with pytest.raises(ValueError, match="offline_minutes"):
        Thresholds.checked({"offline_minutes": 0})
    assert Thresholds.checked({"disk_full_percent": 100}, strict=False) == Thresholds()


# --- the kiosk's side ----------------------------------------------------------------------
@pytest.fixture
def app(sqlite_database: Path, server_clock):
    app = make_app(sqlite_database, server_clock, migrate=False)
    seed(app)
    register(app)
    return app


def test_a_refused_kiosk_tells_the_server_what_is_refused(app, tmp_path: Path):
    """A copy of the card votes on: the server refuses its records, and the copy still
    reports how many and why, with its disk and its clock (no longer "0 unsynced")."""
    key = DeviceKey.load_or_create(tmp_path / "device.key")
    clock = FakeClock.at("2026-11-20T08:00:00")
    original, copy = (BallotBox.open(tmp_path / name, key, clock) for name in ("a", "b"))
    for box, level in ((original, Level.SATISFIED), (copy, Level.NOT_SATISFIED)):
        clock.advance(60_000)
        box.cast_vote(clerk="lan", button=level.value, level=level)
    device = app.test_client()
    assert enroll(device, key).status_code == 200
    assert push(device, key, original.store.rows()).status_code == 200
    server_key = _server_public(app)
    with serving(app, free_port()) as url:
        client = SyncClient(server_url=url, key=key, server_public_key=server_key,
                            ledger_path=tmp_path / "b", clock=clock, acked_seq=0,
                            on_ack=lambda *a: None, health=HealthReport, interval_s=60.0,
                            backoff_initial_s=30.0, backoff_max_s=30.0)  # fmt: skip
        client.start()
        try:
            wait_for(lambda: _health(app).get("refused"), "the refusal reported")
        finally:
            client.stop()
    report = _health(app)
    assert client.status().state == "refused"
    assert report["refused"] == copy.state.head_seq == report["unsynced"]
    assert report["refused_error"] == client.status().error
    assert report["refused_since_ms"] == report["clock_ms"] == clock.read().wall_ms
    assert 0 < report["disk_free"] <= report["disk_total"]
    original.close()
    copy.close()


def _server_public(app) -> bytes:
    from web.server_key import server_key

    with app.app_context():
        return server_key().public_raw


def _health(app) -> dict:
    with app.app_context():
        return web_db.session().scalar(select(Device.health)) or {}
