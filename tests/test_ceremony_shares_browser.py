"""The ceremony with shares, in a real headless Chromium: after the quorum, three members type
their share cards on the secretary's screen, the box opens, and the minutes name the box
key's fingerprint and the three members who gave a share."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import chromium_page, confirm_on_screen, log_in, needs_chromium
from tests.ceremony_helpers import CODE, MEMBERS, give_code
from tests.web_helpers import PASSWORD, create_account, seed
from tests.web_process import WebProcess

BOX = "2026-10"
SHARERS = (0, 1, 4)  # of the five members' cards: the chair, the Front's chair, the secretary


@pytest.fixture
def server(isolated_home: Path):
    from hom_phieu.clock import FakeClock
    from tests.web_process import SERVER_START
    from web import create_app, db
    from web.box_keys import Holder, deal_box_keys
    from web.models import CommitteeMember, Office
    from web.services import close_app

    app = create_app(clock=FakeClock.at(SERVER_START))
    db.upgrade(app.config["DATABASE_URL"])
    ids = seed(app)
    office_id = ids["dong"]["office"]
    with app.app_context():
        session = db.session()
        holders = []
        for username, name, role in MEMBERS:
            user = create_account(username, name, "committee", ids["dong"]["unit"])
            session.add(CommitteeMember(office_id=office_id, user_id=user.id,
                                        committee_role=role))  # fmt: skip
            give_code(session, office_id, user.id)
            holders.append(Holder(user.id, name, role))
        dealt = deal_box_keys(session, session.get(Office, office_id), [BOX], 3, holders, None)[0]
        fingerprint = dealt.key.fingerprint
        session.commit()
    close_app(app)
    running = WebProcess(isolated_home)
    running.office_id = office_id
    running.cards = dealt.cards
    running.fingerprint = fingerprint
    yield running
    running.stop()


@needs_chromium
def test_three_members_type_their_shares_and_the_box_opens(server: WebProcess) -> None:
    with chromium_page() as page:
        log_in(page, server.url, "thu-ky", PASSWORD)
        page.goto(f"{server.url}offices/{server.office_id}/boxes/{BOX}")
        page.get_by_role("button", name="Bắt đầu mở hòm phiếu").click()
        confirm_on_screen(page, [MEMBERS[0], MEMBERS[1], MEMBERS[4]], PASSWORD, CODE)
        page.get_by_role("button", name="Xem lại trước khi mở hòm").click()
        assert server.fingerprint in page.inner_text("#shares")
        # Two shares only: refused, the box stays sealed and the fields come back empty.
        for field, card in enumerate(SHARERS[:2], start=1):
            page.get_by_label(f"Mảnh thứ {field}", exact=True).fill(server.cards[card].mnemonic)
        page.get_by_role("button", name="Xác nhận và mở hòm phiếu").click()
        page.locator("#share-error").wait_for()
        assert page.get_by_label("Mảnh thứ 1", exact=True).input_value() == ""
        for field, card in enumerate(SHARERS, start=1):
            page.get_by_label(f"Mảnh thứ {field}", exact=True).fill(server.cards[card].mnemonic)
        page.get_by_role("button", name="Xác nhận và mở hòm phiếu").click()
        page.get_by_role("heading", name="Kết quả").wait_for()
        page.get_by_role("link", name="Biên bản (trang in)").click()
        page.get_by_role("heading", name="BIÊN BẢN").wait_for()
        seal = page.inner_text("body")  # the minutes page: its seal section among the rest
        assert server.fingerprint in seal
        for card in SHARERS:
            assert server.cards[card].holder.name in seal
        assert "Khóa dự phòng của tỉnh không được sử dụng." in seal
