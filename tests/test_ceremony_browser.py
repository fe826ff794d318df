"""The opening ceremony in a real headless Chromium: the secretary's screen, three members
confirming one after another on it, the opening, and the printable minutes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import chromium_page, confirm_on_screen, log_in, needs_chromium
from tests.ceremony_helpers import CODE, give_code
from tests.web_helpers import PASSWORD, create_account, seed
from tests.web_process import WebProcess

MEMBERS = [
    ("chu-tich", "Nguyễn Văn Ễnh", "ubnd_leader"),
    ("mttq", "Trần Thị Hằng", "mttq_chair"),
    ("cong-doan", "Lê Văn Dũng", "union_rep"),
    ("thu-ky", "Đỗ Thị Thư", "secretary"),
]


@pytest.fixture
def server(isolated_home: Path):
    from hom_phieu.clock import FakeClock
    from tests.web_process import SERVER_START
    from web import create_app, db
    from web.models import CommitteeMember
    from web.services import close_app

    app = create_app(clock=FakeClock.at(SERVER_START))
    db.upgrade(app.config["DATABASE_URL"])
    ids = seed(app)
    with app.app_context():
        for username, name, role in MEMBERS:
            user = create_account(username, name, "committee", ids["dong"]["unit"])
            db.session().add(CommitteeMember(office_id=ids["dong"]["office"], user_id=user.id,
                                             committee_role=role))  # fmt: skip
            give_code(db.session(), ids["dong"]["office"], user.id)
        db.session().commit()
    close_app(app)
    running = WebProcess(isolated_home)
    running.office_id = ids["dong"]["office"]
    yield running
    running.stop()


@needs_chromium
def test_the_secretary_runs_the_ceremony_in_a_browser(server: WebProcess) -> None:
    with chromium_page() as page:
        log_in(page, server.url, "thu-ky", PASSWORD)
        page.goto(f"{server.url}offices/{server.office_id}/boxes/2026-10")
        assert page.get_by_role("heading", name="Hòm phiếu tháng 10/2026").is_visible()
        page.get_by_role("button", name="Bắt đầu mở hòm phiếu").click()
        confirm_on_screen(page, MEMBERS[:3], PASSWORD, CODE)
        confirmed = page.locator("#confirmations li")
        assert confirmed.count() == 3
        assert "Lãnh đạo UBND" in confirmed.first.inner_text()
        page.get_by_label("Số hồ sơ đã trả kết quả trong tháng (không bắt buộc)").fill("12")
        page.get_by_role("button", name="Xem lại trước khi mở hòm").click()
        page.get_by_role("button", name="Xác nhận và mở hòm phiếu").click()
        page.get_by_role("heading", name="Kết quả").wait_for()
        assert "Mã kiểm tra nội dung (SHA-256)" in page.content()
        page.get_by_role("link", name="Biên bản (trang in)").click()
        page.get_by_role("heading", name="BIÊN BẢN").wait_for()
        text = page.inner_text("body")
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
        assert "Độc lập – Tự do – Hạnh phúc" in text
        assert "Nguyễn Văn Ễnh" in text and "Lãnh đạo UBND" in text
        assert "Hòm phiếu tháng 11/2026 đã được niêm phong và đang nhận phiếu." in text
