"""The reports in a real headless Chromium: a province official opens the report page,
picks the year 2026, downloads the XLSX, and the file's total is the page's."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
import pytest

from tests.browser import chromium_page, needs_chromium
from tests.web_helpers import PASSWORD
from tests.web_process import WebProcess


@pytest.fixture
def year_server(isolated_home: Path, sqlite_template: Path, tmp_path: Path):
    """A year of opened boxes (``tests.report_helpers.opened_year``) and a viewer of the
    province, served by a real process dated January 2027."""
    from tests.report_helpers import year_at_home
    from tests.web_helpers import create_account
    from web import db

    kiosks = tmp_path / "kiosks"
    with year_at_home(isolated_home, sqlite_template, kiosks) as (app, rig), app.app_context():
        create_account("tinh-xem", "Lãnh đạo tỉnh", "viewer", rig.province)
        db.session().commit()
    server = WebProcess(isolated_home, clock="2027-01-05T09:00:00+07:00")
    yield server
    server.stop()


@needs_chromium
def test_a_province_official_downloads_the_year_report(year_server: WebProcess) -> None:
    with chromium_page(width=1200) as page:
        page.goto(year_server.url + "login")
        page.get_by_label("Tên tài khoản").fill("tinh-xem")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.get_by_role("banner").get_by_role("link", name="Báo cáo").click()
        page.get_by_role("heading", name="Báo cáo", exact=True).wait_for()
        page.locator("select[name=period]").select_option("year")
        page.locator("input[name=year]").fill("2026")
        page.locator("select[name=by]").select_option("unit")
        page.get_by_role("button", name="Xem").click()
        page.get_by_text("Năm 2026").first.wait_for()
        assert "period=year" in page.url and "year=2026" in page.url
        total = page.locator("#report tr.total")
        ballots = int(total.locator("td").first.inner_text())
        assert ballots > 0
        assert len(page.locator("#content-hash").inner_text()) == 64
        names = page.locator("#report tbody th").all_inner_texts()
        assert names == ["Phường Hạc Thành", "Xã Đông Thanh", "Tổng cộng"]

        with page.expect_download() as waiting:
            page.get_by_role("link", name="XLSX").click()
        download = waiting.value
        assert download.suggested_filename.endswith("2026-01_2026-12-unit.xlsx")
        sheet = openpyxl.load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        total_row = next(row for row in rows if row[0] == "Tổng cộng")
        assert total_row[1] == ballots
        head = {row[0]: row[1] for row in rows[:7]}
        assert len(head["Mã kiểm tra nội dung (SHA-256)"]) == 64  # (made a moment later)

        # Each page the official opens fits a 390 px phone (wide tables scroll in a box).
        page.set_viewport_size({"width": 390, "height": 800})
        for path in ("", "reports?period=year&year=2026&by=clerk",
                     "reports/ranking?period=year&year=2026", "reports/compare"):  # fmt: skip
            page.goto(year_server.url + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"/{path} is {width} px wide"
