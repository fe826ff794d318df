"""The public side in a real headless Chromium: the results page on a 390 px phone (no
horizontal scroll, filters used from the form) and the waiting room's screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import chromium_page, needs_chromium
from tests.report_helpers import opened_year
from tests.web_process import WebProcess
from web.report_settings import PUBLIC_MINIMUM, set_minimum

PHONE = 390
SCROLL_WIDTH = "document.documentElement.scrollWidth"


@pytest.fixture
def app(ceremony_app):
    return ceremony_app


def no_horizontal_scroll(page) -> None:
    assert page.evaluate(SCROLL_WIDTH) <= PHONE, page.url


@needs_chromium
def test_phone_sized_results_and_the_tv(app, isolated_home: Path, tmp_path: Path) -> None:
    from web import db as web_db

    rig = opened_year(app, app.test_client(), tmp_path)
    with app.app_context():
        # December: Hạc Thành's 6 ballots shown, Đông Thanh's 5 hidden.
        set_minimum(web_db.session(), PUBLIC_MINIMUM, 6)
        web_db.session().commit()
    server = WebProcess(isolated_home, env={"HOM_PHIEU_DATABASE_URL": app.config["DATABASE_URL"]})
    try:
        with chromium_page(width=PHONE, height=800) as page:
            page.goto(server.url + "public/results")
            page.get_by_role("heading", name="Tỉnh Thanh Hóa: Năm 2026").wait_for()
            no_horizontal_scroll(page)
            page.get_by_label("Đơn vị").select_option(str(rig.dong_unit))
            page.get_by_label("Kỳ báo cáo").select_option("month")
            page.get_by_label("Tháng (nếu chọn một tháng)").fill("2026-03")
            page.get_by_role("button", name="Xem").click()
            page.get_by_role("heading", name="Xã Đông Thanh: Tháng 03/2026").wait_for()
            assert "Tỷ lệ hài lòng" in page.inner_text("main")
            no_horizontal_scroll(page)
            page.get_by_label("Đơn vị").select_option(str(rig.province))
            page.get_by_label("Kỳ báo cáo").select_option("range")
            page.get_by_label("Từ tháng (nếu chọn nhiều tháng)").fill("2026-02")
            page.get_by_label("Đến tháng (nếu chọn nhiều tháng)").fill("2026-07")
            page.get_by_role("button", name="Xem").click()
            page.get_by_role("heading", name="Tỉnh Thanh Hóa: Từ 02/2026 đến 07/2026").wait_for()
            assert page.get_by_role("heading", name="Theo tháng").is_visible()
            no_horizontal_scroll(page)
            page.goto(f"{server.url}public/results?office={rig.dong}&period=month&month=2026-12")
            assert "Dưới 6 phiếu: không hiển thị" in page.inner_text("main")
            no_horizontal_scroll(page)
            page.get_by_role("link", name="Bản niêm yết để in (A4)").click()
            page.get_by_role("heading", name="KẾT QUẢ ĐÁNH GIÁ SỰ HÀI LÒNG").wait_for()
            no_horizontal_scroll(page)
            answer = page.goto(server.url + "public/results?period=quarter&year=2026&quarter=9")
            assert answer.status == 400 and "Quý" in page.inner_text("main")
            no_horizontal_scroll(page)
        with chromium_page(width=1280, height=720) as page:
            page.goto(f"{server.url}public/tv?unit={rig.province}")
            assert page.locator("h1").inner_text() == "Bộ phận một cửa Phường Hạc Thành"
            assert "Tỷ lệ hài lòng" in page.inner_text("main")
            refresh = page.locator('meta[http-equiv="refresh"]').get_attribute("content")
            assert refresh == f"15;url=/public/tv?unit={rig.province}&slide=1"
            assert page.evaluate("document.documentElement.scrollHeight") <= 720  # one screen
            page.get_by_role("link", name="Tiếp theo").click()
            page.wait_for_url(f"**/public/tv?unit={rig.province}&slide=1")
            assert page.locator("h1").inner_text() == "Bộ phận một cửa Xã Đông Thanh"
            assert "Dưới 6 phiếu: không hiển thị" in page.inner_text("main")
            assert "Màn hình 2/2" in page.inner_text("footer")
            refresh = page.locator('meta[http-equiv="refresh"]').get_attribute("content")
            assert refresh == f"15;url=/public/tv?unit={rig.province}&slide=0"
    finally:
        server.stop()
