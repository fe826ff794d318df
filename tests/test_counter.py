"""At the counter: a refused press says so (never the previous citizen's thanks), the ticket
names where its receipt code is checked, and the simulator's panel puts any clerk on duty.

Real gpiozero buttons on MockFactory pins, the real daemon and ballot box, tickets through
python-escpos' Dummy printer decoded back into the page they print."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from hardware.escpos_decode import decode, page_image
from hardware.printer import ticket_bytes
from hom_phieu.i18n import set_language
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Kind
from hom_phieu.render.fonts import text_width
from hom_phieu.render.ticket_render import render_ticket
from hom_phieu.render.views import FrameKind
from kiosk.identity import receipt_check_address
from kiosk.panel import create_panel_app
from kiosk.simulation import Simulation
from tests.kiosk_helpers import CONFIG
from tests.test_daemon import Rig
from tests.test_ticket import TICKET, contains, line_image

NO_SERVED = CONFIG.replace("[served_button]\npin = 23\nled_pin = 24\n", "")
WITH_SERVER = CONFIG.replace(
    "[printer]", '[server]\nurl = "https://hom-phieu.dongthanh.gov.vn/"\n\n[printer]'
)


@pytest.fixture(autouse=True)
def vietnamese() -> None:
    set_language("vi")  # the conftest resets it after each test


# --- a refused press --------------------------------------------------------------------
def test_a_press_too_soon_shows_not_counted_and_why_not_the_last_thanks(
    tmp_path: Path, key: DeviceKey
) -> None:
    rig = Rig(tmp_path, key)
    try:
        rig.press("hai_long")
        thanks = rig.kiosk.current_frame
        assert thanks.kind is FrameKind.THANKS and thanks.receipt_code
        rig.step(500)
        rig.press("rat_hai_long")  # within min_gap_ms: refused
        (refused,) = rig.records(Kind.REFUSED)
        assert refused.body["reason"] == "min_gap"
        frame = rig.kiosk.current_frame
        assert frame.kind is FrameKind.REFUSED
        assert frame.receipt_code == ""  # the previous citizen's code is gone
        assert frame.message == (
            "Bấm quá sớm sau lượt đánh giá trước. Xin chờ giây lát rồi bấm một lần."
        )
        rig.step(rig.config.screen.thanks_s * 1000 + 10)
        assert rig.kiosk.current_frame.kind is FrameKind.IDLE
    finally:
        rig.close()


def test_a_held_press_says_why_in_vietnamese(tmp_path: Path, key: DeviceKey) -> None:
    rig = Rig(tmp_path, key)
    try:
        rig.press("hai_long", hold_ms=4000)
        assert rig.records(Kind.REFUSED)[0].body["reason"] == "held"
        frame = rig.kiosk.current_frame
        assert frame.kind is FrameKind.REFUSED
        assert frame.message == "Nút bị giữ quá lâu. Xin bấm nhanh rồi thả ra."
    finally:
        rig.close()


# --- the ticket -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("https://hom-phieu.dongthanh.gov.vn/", "hom-phieu.dongthanh.gov.vn/public/receipt"),
        ("http://10.0.0.5:8080", "10.0.0.5:8080/public/receipt"),
        ("https://Example.VN/hp/", "example.vn/hp/public/receipt"),
        (None, None),
        ("", None),
        ("ftp://example.vn", None),
    ],
)
def test_receipt_check_address(url: str | None, address: str | None) -> None:
    assert receipt_check_address(url) == address


def address_line(address: str):
    """The address as the ticket draws it: bold, on one line, made smaller until it fits."""
    size = 18
    while size > 8 and text_width(address, size, True) > 384 - 2 * 8:
        size -= 1
    return line_image(address, size, True)


def printed_page(data: bytes):
    page = page_image(decode(data))
    assert page is not None
    return page


def test_the_ticket_says_where_to_check_the_receipt_code() -> None:
    from dataclasses import replace

    address = "hom-phieu.dongthanh.gov.vn/public/receipt"
    page = printed_page(ticket_bytes(render_ticket(replace(TICKET, receipt_check=address), 384),
                                     "POS-5890"))  # fmt: skip
    assert contains(page, line_image("Tra cứu mã biên nhận tại", 17, False))
    assert contains(page, address_line(address))
    plain = printed_page(ticket_bytes(render_ticket(TICKET, 384), "POS-5890"))
    assert not contains(plain, line_image("Tra cứu mã biên nhận tại", 17, False))


def test_the_kiosk_prints_its_servers_receipt_page_on_every_ticket(
    tmp_path: Path, key: DeviceKey
) -> None:
    rig = Rig(tmp_path, key, text=WITH_SERVER)
    try:
        rig.press("hai_long")
        rig.settle_printer()
        (job,) = rig.paper.jobs
        page = printed_page(job)
        assert contains(page, address_line("hom-phieu.dongthanh.gov.vn/public/receipt"))
    finally:
        rig.close()


def test_an_enrolled_kiosk_names_its_enrollments_server(tmp_path: Path, key: DeviceKey) -> None:
    from kiosk.identity import Identity

    rig = Rig(tmp_path, key)
    try:
        identity = Identity.from_config(rig.config, "https://hp.example.vn")
        assert identity.receipt_check == "hp.example.vn/public/receipt"
        assert Identity.from_config(rig.config).receipt_check is None  # works alone
    finally:
        rig.close()


# --- the simulator's panel --------------------------------------------------------------
def answered(rig: Rig, call):
    """``call()`` (a panel request that waits for the daemon) from another thread, while
    this one, the ballot box's, runs the daemon's loop as its main loop would."""
    result: list = []
    asking = threading.Thread(target=lambda: result.append(call()))
    asking.start()
    while asking.is_alive():
        rig.kiosk.pump()
        asking.join(timeout=0.01)
    return result[0]


def test_the_panel_puts_any_clerk_on_duty_without_a_served_button(
    tmp_path: Path, key: DeviceKey
) -> None:
    rig = Rig(tmp_path, key, text=NO_SERVED)
    try:
        assert not rig.kiosk.policy.has_served
        simulation = Simulation(rig.kiosk, rig.clock, archive=None, display=rig.display)  # type: ignore[arg-type]
        client = create_panel_app(simulation).test_client()
        state = client.get("/api/state").get_json()
        assert [c["id"] for c in state["roster"]] == ["lan", "anh"]
        assert state["clerk_on_duty"]["id"] == "lan"
        page = client.get("/").get_data(as_text=True)
        assert 'value="anh"' in page and "Chuyển cán bộ này vào ca trực" in page
        answer = answered(rig, lambda: client.post("/api/clerk", json={"clerk": "anh"}))
        assert answer.status_code == 200
        assert answer.get_json()["clerk_on_duty"]["name"] == "Đặng Thị Ngọc Ánh"
        wrong = client.post("/api/clerk", json={"clerk": "nobody"})
        assert wrong.status_code == 400 and "lan, anh" in wrong.get_json()["error"]
        assert client.post("/api/clerk", json=["anh"]).status_code == 400
        rig.press("hai_long")
        assert rig.records(Kind.VOTE)[-1].body["clerk"] == "anh"
        events = [r.body for r in rig.records(Kind.EVENT) if r.body["type"] == "clerk_on_duty"]
        assert events == [{"type": "clerk_on_duty", "clerk": "anh", "previous": "lan"}]
        assert rig.kiosk.current_frame.clerk.id == "anh"
    finally:
        rig.close()
