"""The ceremony on its prescribed day in a real headless Chromium: on November's last working
day a kiosk synced a moment ago, the secretary starts without a reason, three members
confirm, the summary shows the figures and no warning, the box opens; the printable minutes
and the PDF name the same figures and the cut-off."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from tests.browser import chromium_page, confirm_on_screen, log_in, needs_chromium
from tests.ceremony_helpers import CODE, MEMBERS
from tests.test_ceremony_e2e import pdf_text
from tests.web_helpers import PASSWORD
from tests.web_process import WebProcess

BOX = "2026-11"
SYNCED = "2026-11-30T13:55:00+07:00"  # the kiosk's last sync, on the due day (a Monday)
CEREMONY = "2026-11-30T14:00:00+07:00"


@pytest.fixture
def server(isolated_home: Path, tmp_path: Path):
    from hom_phieu.clock import FakeClock
    from tests.ceremony_helpers import enrolled_kiosk, seed_ceremony
    from web import create_app, db
    from web.services import close_app

    app = create_app(clock=FakeClock.at(SYNCED))
    db.upgrade(app.config["DATABASE_URL"])
    seed_ceremony(app)
    kiosk = enrolled_kiosk(app, app.test_client(), tmp_path / "kiosk", "2026-11-30T08:00:00")
    kiosk.vote("lan", "rat_hai_long", 4)
    kiosk.vote("binh", "hai_long", 2)
    kiosk.sync(app.test_client())
    close_app(app)
    running = WebProcess(isolated_home, clock=CEREMONY)
    running.office_id = app.config["OFFICE_ID"]
    yield running
    running.stop()


@needs_chromium
def test_the_due_day_ceremony_end_to_end(server: WebProcess) -> None:
    with chromium_page() as page:
        log_in(page, server.url, "thu-ky", PASSWORD)
        box_url = f"{server.url}offices/{server.office_id}/boxes/{BOX}"
        page.goto(box_url)
        assert page.locator("#start-reason").count() == 0  # the due day: no reason asked
        page.get_by_role("button", name="Bắt đầu mở hòm phiếu").click()
        confirm_on_screen(page, MEMBERS[:3], PASSWORD, CODE)
        page.get_by_label("Số hồ sơ đã trả kết quả trong tháng (không bắt buộc)").fill("8")
        page.get_by_role("button", name="Xem lại trước khi mở hòm").click()
        review = page.locator("#review")
        review.wait_for()
        assert "6 phiếu từ 1 thiết bị" in page.inner_text("#review-ballots")
        assert page.inner_text("#review-rate") == "75,00%"
        assert page.inner_text("#review-warnings") == "Không có."
        assert "thời điểm chốt hòm phiếu" in page.inner_text("#checks")
        assert "cảnh báo" not in page.inner_text("#checks").lower()
        if page.locator("#shares").count():  # a sealed box: the members' cards (none here)
            pytest.fail("this office has no box key: no share to type")
        page.get_by_role("button", name="Xác nhận và mở hòm phiếu").click()
        page.get_by_role("heading", name="Kết quả").wait_for()
        page.get_by_role("link", name="Biên bản (trang in)").click()
        page.locator("h1").wait_for()
        printed = unicodedata.normalize("NFC", page.inner_text("body"))
        pdf = page.request.get(f"{box_url}/minutes.pdf")
        assert pdf.ok and pdf.headers["content-type"] == "application/pdf"
        text = pdf_text(pdf.body())
    flat = " ".join(text.split())
    for said in (
        "Lần mở hòm lúc 14:00 ngày 30/11/2026 là thời điểm chốt hòm phiếu tháng 11/2026",
        "Hòm phiếu tháng 12/2026 bắt đầu nhận phiếu từ ngày 01/12/2026",
        "75,00%",
        "Đỗ Thị Thư",  # the secretary who ran the screen: present, and under her signature
    ):
        assert said in " ".join(printed.split()), said
        assert said in flat, said
    for untrue in ("đang nhận phiếu", "Chưa có thiết bị nào báo cáo", "Cảnh báo:"):
        assert untrue not in printed and untrue not in flat, untrue
