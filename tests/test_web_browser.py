"""The admin pages in a real headless Chromium: log in, register a device, see its health."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import chromium_page, needs_chromium
from tests.web_helpers import PASSWORD, seed
from tests.web_process import WebProcess


@pytest.fixture
def running_server(isolated_home: Path):
    from hom_phieu.clock import FakeClock
    from tests.web_process import SERVER_START
    from web import create_app, db
    from web.services import close_app

    app = create_app(clock=FakeClock.at(SERVER_START))
    db.upgrade(app.config["DATABASE_URL"])
    seed(app)
    close_app(app)
    server = WebProcess(isolated_home)
    yield server
    server.stop()


@needs_chromium
def test_login_register_a_device_and_see_it_listed(running_server: WebProcess) -> None:
    with chromium_page() as page:
        page.goto(running_server.url)
        assert "/login" in page.url
        assert page.get_by_role("heading", name="Đăng nhập").is_visible()
        page.get_by_label("Tên tài khoản").fill("kt-dong")
        page.get_by_label("Mật khẩu").fill("sai mật khẩu rồi")
        page.get_by_role("button", name="Đăng nhập").click()
        assert page.get_by_role("alert").inner_text().startswith("Sai tên tài khoản")
        page.get_by_label("Tên tài khoản").fill("kt-dong")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.get_by_role("heading", name="Hòm phiếu", exact=True).wait_for()
        page.get_by_role("link", name="Thiết bị", exact=True).click()
        page.get_by_role("link", name="Đăng ký thiết bị").click()
        page.get_by_label("Ghi chú (vị trí đặt máy)").fill("Cạnh quầy 1")
        page.get_by_role("button", name="Đăng ký và lấy mã kích hoạt").click()
        code = page.locator("#enrollment-code").inner_text()
        assert len(code) == 14 and code.count("-") == 2
        assert page.get_by_alt_text("Mã kích hoạt dạng mã QR").is_visible()
        page.get_by_role("link", name="Quay lại danh sách thiết bị").click()
        row = page.get_by_role("row", name="Cạnh quầy 1")
        assert "chờ kích hoạt" in row.inner_text()
        page.get_by_role("link", name="English").click()
        assert page.get_by_role("heading", name="Devices").is_visible()


@needs_chromium
def test_the_device_health_page_shows_a_real_syncing_kiosk(isolated_home: Path) -> None:
    import re
    import time

    from tests.kiosk_process import KioskProcess

    demo = KioskProcess(isolated_home, command=("demo",))
    try:
        output = "".join(demo.lines)
        found = re.search(
            r"Admin server: (http://127\.0\.0\.1:\d+/) \(account (\S+), password (\S+)\)", output
        )
        assert found, output
        url, account, password = found.groups()
        assert demo.press("hai_long")["outcome"] == "vote"
        with chromium_page() as page:
            page.goto(url + "login")
            page.get_by_label("Tên tài khoản").fill(account)
            page.get_by_label("Mật khẩu").fill(password)
            page.get_by_role("button", name="Đăng nhập").click()
            page.get_by_role("heading", name="Hòm phiếu", exact=True).wait_for()
            deadline = time.monotonic() + 20
            while True:  # the kiosk syncs its records, then reports its health
                page.goto(url + "devices")
                row = page.get_by_role("row").filter(has_text="hp-")
                text = row.inner_text() if row.count() == 1 else ""
                if "đang hoạt động" in text and "phần mềm" in text:
                    break
                assert time.monotonic() < deadline, text or page.content()
                time.sleep(0.5)
            assert "UBND xã Demo" in text and "Quầy 1" in text
            assert "bản ghi chưa đồng bộ: 0" in text
            page.get_by_role("link", name="Hòm phiếu").first.click()
            assert "11/2026" in page.content() or "12/2026" in page.content()
    finally:
        demo.terminate()
