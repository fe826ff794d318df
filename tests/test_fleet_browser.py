"""In a real Chromium: a technician opens the fleet page, sees a kiosk gone silent shown
offline (the server's clock ten minutes past its last report, the threshold five), follows
its alert to the device's page, acknowledges it, then resolves it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser import chromium_page, log_in, needs_chromium
from tests.web_helpers import PASSWORD, seed
from tests.web_process import SERVER_START, WebProcess

DEVICE = "hp-silent01"
LATER = "2026-11-20T09:10:00+07:00"  # ten minutes after its last report


@pytest.fixture
def silent_kiosk_server(isolated_home: Path):
    from hom_phieu.clock import FakeClock
    from web import create_app, db
    from web.fleet_health import annotated
    from web.models import Device
    from web.services import close_app

    app = create_app(clock=FakeClock.at(SERVER_START))
    db.upgrade(app.config["DATABASE_URL"])
    ids = seed(app)
    with app.app_context():
        from web import clock

        now = clock.now()
        report = {"unsynced": 0, "time_quality": "synced", "software": "0.1.0"}
        session = db.session()
        session.add(Device(office_id=ids["dong"]["office"], device_id=DEVICE, kind="kiosk",
                           status="active", label="Quầy 1", enrolled_at=now, last_seen_at=now,
                           health=annotated(None, report, now)))  # fmt: skip
        session.commit()
    close_app(app)
    swept_at(LATER)  # (the timer's sweep, at the server's clock: the page only reads)
    server = WebProcess(isolated_home, clock=LATER)
    yield server
    server.stop()


def swept_at(moment: str) -> None:
    """``hom-phieu web alerts sweep`` as its timer runs it, the server's clock at ``moment``."""
    from hom_phieu.clock import FakeClock
    from web import create_app, db
    from web.alerts_sweep import sweep
    from web.services import close_app

    app = create_app(clock=FakeClock.at(moment))
    try:
        with app.app_context():
            from web import clock

            session = db.session()
            sweep(session, clock.now())
            session.commit()
    finally:
        close_app(app)


@needs_chromium
def test_a_silent_kiosk_offline_its_alert_followed_acknowledged_and_resolved(
    silent_kiosk_server: WebProcess,
) -> None:
    url = silent_kiosk_server.url
    with chromium_page() as page:
        log_in(page, url, "kt-dong", PASSWORD)
        page.goto(url + "fleet")
        row = page.locator("table.fleet tr", has_text=DEVICE)
        assert row.get_attribute("data-state") == "offline"
        assert "mất kết nối" in row.inner_text()
        page.goto(url + "alerts")  # (the sweep at ten past alerted the silence)
        alert = page.locator("table.alerts tr", has_text=DEVICE)
        assert "Thiết bị mất kết nối" in alert.inner_text()
        alert.locator("a.alert-link").click()
        page.wait_for_url(re.compile(r"/devices/\d+$"))
        assert page.get_by_role("heading", name=f"Thiết bị {DEVICE}").is_visible()
        shown = page.locator("table.device-alerts tbody tr").first
        assert shown.get_attribute("data-state") == "open"
        shown.get_by_role("button", name="Tiếp nhận").click()
        page.wait_for_url(re.compile(r"/devices/\d+$"))
        shown = page.locator("table.device-alerts tbody tr").first
        assert shown.get_attribute("data-state") == "acknowledged"
        shown.get_by_label("Ghi chú").fill("Đã cắm lại nguồn")
        shown.get_by_role("button", name="Đã xử lý xong").click()
        page.wait_for_url(re.compile(r"/devices/\d+$"))
        shown = page.locator("table.device-alerts tbody tr").first
        assert shown.get_attribute("data-state") == "resolved"
        assert "đã xử lý" in shown.inner_text()
