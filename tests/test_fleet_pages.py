"""The fleet page, the device page and the thresholds (issue 14): a simulated kiosk posts its
heartbeats through the real API, stops, and is shown offline once the threshold has passed
on the server's clock (a FakeClock, no sleeps); its faults and refused records reach the
pages; another unit's reader gets 404; only an administrator sets the thresholds.
"""

from __future__ import annotations

from sqlalchemy import func, select

from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import TimeQuality
from hom_phieu.protocol.models import HealthReport
from tests.api_helpers import CODE, enroll, post, register
from tests.web_helpers import csrf_token, login
from web import db
from web.models_fleet import DeviceHeartbeat

MINUTE_MS = 60_000


def beat(device, key: DeviceKey, **fields) -> None:
    usual = {"unsynced": 0, "disk_free": 40_000_000_000, "disk_total": 64_000_000_000}
    report = HealthReport(time_quality=TimeQuality.SYNCED, **{**usual, **fields})
    assert post(device, key, "/api/v1/health", report.to_json()).status_code == 200


def kept(app) -> int:
    with app.app_context():
        return db.session().scalar(select(func.count()).select_from(DeviceHeartbeat))


def test_a_kiosk_that_stops_posting_is_offline_and_its_faults_reach_the_pages(
    site, server_clock, tmp_path
):
    app, client, _ids = site
    key = DeviceKey.load_or_create(tmp_path / "device.key")
    pk = register(app, CODE, office="38-dt-1c")
    device = app.test_client()
    assert enroll(device, key).status_code == 200
    for _ in range(4):  # every 30 s: the first is kept, the unchanged ones only hourly
        beat(device, key)
        server_clock.advance(MINUTE_MS // 2)
    assert kept(app) == 1
    login(client, "kt-dong")
    fleet = client.get("/fleet").text
    assert '<tr data-state="working">' in fleet and f'href="/devices/{pk}"' in fleet
    assert "đang hoạt động" in client.get("/devices").text

    server_clock.advance(5 * MINUTE_MS)  # 5.5 minutes since the last heartbeat: killed
    fleet = client.get("/fleet").text
    assert '<tr data-state="offline">' in fleet and '<tr data-state="working">' not in fleet
    assert "mất kết nối từ" in client.get(f"/devices/{pk}").text
    devices = client.get("/devices").text
    assert 'data-state="offline"' in devices and "đang hoạt động" not in devices

    beat(device, key, printer="hết giấy", screen="không có khung hình")  # back, with faults
    page = client.get(f"/devices/{pk}").text
    assert 'data-fault="printer"' in page and "hết giấy" in page
    assert 'data-fault="screen"' in page and "không có khung hình" in page
    assert "Trở lại sau khi im lặng từ" in page and kept(app) == 2
    assert "cần xử lý" in page and "còn trống 40000 MB trên 64000 MB" in page

    beat(device, key, unsynced=7, refused=7, refused_error="equivocation",
         refused_since_ms=server_clock.read().wall_ms)  # fmt: skip
    page = client.get(f"/devices/{pk}").text
    assert 'data-fault="refused"' in page and "equivocation" in page and kept(app) == 3
    devices = client.get("/devices").text
    assert "Máy chủ từ chối bản ghi: 7" in devices


def test_another_units_reader_sees_none_of_it(site, tmp_path):
    app, client, ids = site
    pk = register(app, CODE, office="38-dt-1c")
    assert enroll(app.test_client(), DeviceKey.load_or_create(tmp_path / "k")).status_code == 200
    login(client, "xem-hac")  # a viewer of Phường Hạc Thành
    assert client.get(f"/devices/{pk}").status_code == 404
    assert client.get(f"/fleet?unit={ids['dong']['unit']}").status_code == 404
    assert client.get("/fleet?unit=x").status_code == 404
    assert client.get("/fleet?unit=x%00").status_code == 400  # (refused before any view)
    assert f"/devices/{pk}" not in client.get("/fleet").text
    assert client.get("/fleet/settings").status_code == 403
    assert client.get("/devices/999999").status_code == 404


def test_only_an_administrator_sets_the_thresholds(site):
    _app, client, _ids = site
    login(client, "kt-tinh")
    assert client.get("/fleet/settings").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/fleet").text)})
    login(client, "admin")
    form = client.get("/fleet/settings").text
    token = csrf_token(form)
    values = {"offline_minutes": "15", "disk_full_percent": "95", "unsynced_minutes": "120",
              "clock_skew_minutes": "5"}  # fmt: skip
    assert client.post("/fleet/settings", data=values).status_code == 400  # no CSRF token
    bad = client.post("/fleet/settings", data={**values, "offline_minutes": "0",
                                               "csrf_token": token})  # fmt: skip
    assert bad.status_code == 400 and "từ 1 đến 1440" in bad.text
    saved = client.post("/fleet/settings", data={**values, "csrf_token": token})
    assert saved.status_code == 302
    assert 'value="15"' in client.get("/fleet/settings").text
    assert "15 phút" in client.get("/fleet").text
