"""The admin pages in a real headless Chromium: log in, register a device, see its health."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import chromium_page, needs_chromium
from tests.web_helpers import PASSWORD, seed
from tests.web_process import WebProcess


@pytest.fixture
def running_server(isolated_home: Path):
    from web import create_app, db

    app = create_app()
    db.upgrade(app.config["DATABASE_URL"])
    seed(app)
    app.extensions["hom_phieu_engine"].dispose()
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
        page.get_by_role("heading", name="Hòm phiếu").wait_for()
        page.get_by_role("link", name="Thiết bị").click()
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
