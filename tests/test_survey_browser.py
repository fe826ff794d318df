"""Acceptance: a citizen's phone answers the survey behind the kiosk's QR codes.

Real components only, on loopback: the admin server (``hom-phieu web serve``), a kiosk
provisioned with ``hom-phieu kiosk provision`` and run with ``hom-phieu kiosk run
--simulate`` (today's clock), and a real headless Chromium with a phone's screen and touch.
The survey addresses are never typed: they are decoded with zxing-cpp from the kiosk's
rendered screen and from the image of its printed ticket, as a phone's camera would. The
phone fills the form by tapping the labels (Vietnamese by default, every choice reachable by
its accessible name, large targets, nothing fetched from elsewhere, a light page), sends it
and reads its receipt code; the ticket's QR takes one answer, with JavaScript off.
"""

from __future__ import annotations

import io
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from PIL import Image, ImageDraw
from sqlalchemy import select

from hom_phieu.demo import CLERKS, SCALE
from hom_phieu.ledger.records import decode
from tests.browser import CHROMIUM, CHROMIUM_ARGS, needs_chromium
from tests.ceremony_helpers import seed_kiosk_office
from tests.kiosk_helpers import provision
from tests.kiosk_process import KioskProcess
from tests.polling import wait_for
from tests.web_process import WebProcess
from web import create_app
from web import db as web_db
from web.models import Clerk, Device, LedgerRecord
from web.services import close_app
from web.survey_criteria import DEFAULT_CRITERIA  # the office has no list of its own

OFFICE = "38-dt-1c"  # Xã Đông Thanh's one-stop office (tests.web_helpers.seed)
CLERK_NAMES = {code: name for code, name, _title in CLERKS}
SCALE_LABELS = [label for _name, label, _level in SCALE]  # the office's own buttons
LEVEL_WORDS = ["Rất hài lòng", "Hài lòng", "Không hài lòng"]  # the criteria's levels, in vi
KIOSK_TOML = """
[server]
sync_interval_s = 5
"""
# A mid-range Android phone: 390 x 844 CSS pixels, touch, a mobile user agent. The
# browser's own language stays English: the page must be Vietnamese by default.
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "screen": {"width": 390, "height": 844},
    "device_scale_factor": 3,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-US",
    "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
}
MIN_TARGET_PX = 44  # the smallest comfortable touch target (WCAG 2.5.5, Apple's HIG)
MAX_PAGE_BYTES = 50_000  # the page, all it loads included, on a slow phone connection
OVERALL = "Nhìn chung, ông/bà có hài lòng với công chức này không?"
SEND = "Gửi đánh giá"
THANKS = "Cảm ơn ông/bà!"
TICKET_NOT_YET = "chưa được gửi về máy chủ"
TICKET_USED = "Phiếu này đã được dùng để đánh giá chi tiết. Xin cảm ơn!"
COMMENT = "Chị Lan hướng dẫn rất tận tình, thủ tục nhanh gọn. Cảm ơn chị!"


def qr_codes(png: bytes) -> list[str]:
    """What a phone's camera reads in an image: zxing-cpp, an independent decoder."""
    import zxingcpp

    image = Image.open(io.BytesIO(png)).convert("L")
    return [result.text for result in zxingcpp.read_barcodes(image)]


def screen_qr(kiosk: KioskProcess) -> str:
    """The survey address in the QR on the kiosk's screen, once the screen shows one."""

    def shown() -> str | None:
        try:
            codes = qr_codes(kiosk.get_bytes("/api/screen.png"))
        except urllib.error.HTTPError:  # nothing shown yet
            return None
        assert len(codes) <= 1, codes
        return codes[0] if codes else None

    return wait_for(shown, "a QR code on the kiosk's screen", timeout_s=20, every_s=0.2)


def printed(kiosk: KioskProcess) -> list[dict]:
    return kiosk.get("/api/tickets")["tickets"]


def ticket_qr(kiosk: KioskProcess, before: int) -> str:
    """The survey address in the QR of the ticket printed after the first ``before``
    papers (the box's zero report comes first, when the kiosk opens its box)."""

    def read() -> str | None:
        tickets = printed(kiosk)
        if len(tickets) <= before:
            return None
        (ticket,) = tickets[before:]
        try:  # listed as soon as its file exists: the bytes may still be on their way
            codes = qr_codes(kiosk.get_bytes(ticket["png"]))
        except urllib.error.HTTPError:
            return None
        assert len(codes) <= 1, codes
        return codes[0] if codes else None

    return wait_for(read, "the printed ticket's QR code", timeout_s=20, every_s=0.2)


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def ticket_page_status(url: str) -> int | None:
    """The ticket page's status once the server holds the ticket's vote; None before."""
    status, page = fetch(url)
    if status == 409:
        assert TICKET_NOT_YET in page, page
        return None
    return status


def clerk_photo() -> bytes:
    """A large photo, as an office would upload it (the page must shrink it)."""
    image = Image.new("RGB", (900, 1200), (214, 226, 240))
    draw = ImageDraw.Draw(image)
    draw.ellipse((250, 200, 650, 650), fill=(222, 184, 150))
    draw.rectangle((150, 700, 750, 1200), fill=(0, 61, 122))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class Phone:
    """A phone's browser (a context of its own: its own cookies), noting every request."""

    def __init__(self, browser: Any, javascript: bool = True) -> None:
        self.context = browser.new_context(**PHONE, java_script_enabled=javascript)
        self.context.set_default_timeout(5000)  # fail fast: the whole test takes < 60 s
        self.page = self.context.new_page()
        self.requests: list[Any] = []
        self.page.on("requestfinished", self._note)
        self.page.on("requestfailed", self._note)

    def _note(self, request: Any) -> None:
        self.requests.append(request)

    def open(self, url: str) -> int:
        """Open ``url`` as if from the camera app; the HTTP status of the page."""
        self.requests.clear()
        response = self.page.goto(url, wait_until="load")
        assert response is not None
        return response.status

    def loaded_bytes(self) -> int:
        """Bytes that came over the wire for the page and everything it loaded."""
        total = 0
        for request in self.requests:
            sizes = request.sizes()
            total += sizes["responseHeadersSize"] + sizes["responseBodySize"]
        return total

    def hosts(self) -> set[str | None]:
        return {urlsplit(request.url).hostname for request in self.requests}

    def close(self) -> None:
        self.context.close()


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium with the launch parameters of ``tests.browser``; contexts are made
    by the test (a phone's viewport, touch and mobile mode need a context of their own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


def check_the_page(phone: Phone, clerk: str) -> None:
    """Vietnamese, the clerk's card, no scripts, light, nothing from elsewhere, and a layout
    that fits the phone's width."""
    page = phone.page
    assert page.locator("html").get_attribute("lang") == "vi"
    assert page.title() == "Đánh giá sự hài lòng"
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Ông/bà đánh giá thế nào về việc giải quyết thủ tục?"
    )
    assert page.get_by_text(CLERK_NAMES[clerk], exact=True).is_visible()
    photo = page.get_by_alt_text(f"Ảnh của {CLERK_NAMES[clerk]}")
    assert photo.is_visible()
    assert photo.evaluate("img => img.complete && img.naturalWidth") <= 160
    assert page.locator("script").count() == 0
    assert page.get_by_role("link", name="English").is_visible()
    assert phone.hosts() == {"127.0.0.1"}, [r.url for r in phone.requests]
    assert all(r.failure is None for r in phone.requests), [r.url for r in phone.requests]
    assert len(phone.requests) == 2  # the page and the photo, nothing else
    assert 0 < phone.loaded_bytes() < MAX_PAGE_BYTES, phone.loaded_bytes()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"], f"the page scrolls sideways: {width} px"


def groups() -> list[tuple[str, list[str]]]:
    """Each question's accessible group name and its choices' accessible names."""
    return [(OVERALL, SCALE_LABELS)] + [
        (f"{number}. {text}", LEVEL_WORDS) for number, text in enumerate(DEFAULT_CRITERIA, 1)
    ]


def check_the_choices(page: Any) -> None:
    """Every radio is reachable by its group's name and its own label, and its label (the
    whole card the thumb taps) is a large target."""
    assert page.get_by_role("radio").count() == sum(len(choices) for _g, choices in groups())
    for group, choices in groups():
        fieldset = page.get_by_role("group", name=group, exact=True)
        assert fieldset.count() == 1, group
        for choice in choices:
            radio = fieldset.get_by_role("radio", name=choice, exact=True)
            assert radio.count() == 1, (group, choice)
            assert not radio.is_checked()
            label = radio.locator("xpath=parent::label")  # the label wraps its radio
            box = label.bounding_box()
            assert box is not None, (group, choice)
            assert box["height"] >= MIN_TARGET_PX and box["width"] >= MIN_TARGET_PX, (
                group, choice, box,
            )  # fmt: skip
    comment = page.get_by_label("Ý kiến góp ý (không bắt buộc)")
    assert comment.get_attribute("maxlength") == "1000"
    send = page.get_by_role("button", name=SEND, exact=True)
    assert send.bounding_box()["height"] >= MIN_TARGET_PX


def fill_and_send(page: Any, overall: str, criteria: list[str], comment: str = "") -> str:
    """Tap the overall answer and one answer per criterion, write the comment, send; the
    receipt code on the thanks page."""
    answers = [(OVERALL, overall)] + [
        (f"{number}. {text}", level)
        for number, (text, level) in enumerate(zip(DEFAULT_CRITERIA, criteria, strict=True), 1)
    ]
    for group, choice in answers:
        radio = page.get_by_role("group", name=group, exact=True).get_by_role(
            "radio", name=choice, exact=True
        )
        radio.locator("xpath=parent::label").tap()  # the label's text, not the small circle
        assert radio.is_checked(), (group, choice)
    if comment:
        page.get_by_label("Ý kiến góp ý (không bắt buộc)").fill(comment)
    page.get_by_role("button", name=SEND, exact=True).tap()
    page.get_by_role("heading", name=THANKS, exact=True).wait_for()
    code = page.locator(".code").inner_text().strip()
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5}", code), code
    return code


def phone_answers(app) -> dict[str, dict]:
    """The phone answers the server holds in the office's sealed box, by receipt code."""
    with app.app_context():
        rows = web_db.session().execute(
            select(LedgerRecord.receipt, LedgerRecord.data)
            .join(Device, LedgerRecord.device_pk == Device.id)
            .where(Device.kind == "survey", LedgerRecord.kind == "VOTE")
        )
        return {receipt: decode(bytes(data)).body for receipt, data in rows}


@needs_chromium
def test_a_phone_answers_the_survey_from_the_screen_qr_and_from_a_ticket(
    isolated_home: Path, tmp_path: Path
) -> None:
    database_url = f"sqlite:///{isolated_home / 'server' / 'hom-phieu.sqlite3'}"
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test"})
    web_db.upgrade(database_url)
    _office_id, enrollment_code = seed_kiosk_office(app)
    with app.app_context():
        for clerk in web_db.session().scalars(select(Clerk)):
            clerk.photo = clerk_photo()
        web_db.session().commit()
    config = tmp_path / "kiosk.toml"
    config.write_text(KIOSK_TOML, encoding="utf-8")
    server = kiosk = exit_code = None
    try:
        server = WebProcess(isolated_home, env={"HOM_PHIEU_DATABASE_URL": database_url})
        provision(isolated_home, config, server.url, enrollment_code)
        kiosk = KioskProcess(isolated_home, "--config", str(config))
        clerk = kiosk.get("/api/state")["clerk_on_duty"]["id"]
        survey_url = f"{server.url}s/{OFFICE}/{clerk}"

        # --- the QR on the kiosk's screen -----------------------------------------------------
        assert screen_qr(kiosk) == survey_url
        with chromium() as browser:
            phone = Phone(browser)
            assert phone.open(survey_url) == 200
            check_the_page(phone, clerk)
            check_the_choices(phone.page)
            screen_receipt = fill_and_send(
                phone.page, "Rất hài lòng",
                ["Rất hài lòng", "Hài lòng", "Rất hài lòng", "Rất hài lòng", "Không hài lòng"],
                COMMENT,
            )  # fmt: skip
            thanks = phone.page.locator("main").inner_text()
            assert CLERK_NAMES[clerk] in thanks and "Mã phiếu của ông/bà:" in thanks
            assert phone.hosts() == {"127.0.0.1"}, [r.url for r in phone.requests]
            phone.close()

            # --- the QR on the printed ticket -------------------------------------------------
            papers = len(printed(kiosk))
            pressed = kiosk.press("hai_long")
            assert pressed["outcome"] == "vote", pressed
            receipt = pressed["receipt_code"]
            ticket_url = ticket_qr(kiosk, papers)
            assert ticket_url == f"{survey_url}?t={receipt}"

            # The kiosk sends its records at once after a vote; until then the page says so.
            status = wait_for(lambda: ticket_page_status(ticket_url), "the ticket's vote", 20, 0.2)
            assert status == 200
            # A phone with JavaScript off: the page has no scripts, the form still works.
            phone = Phone(browser, javascript=False)
            assert phone.open(ticket_url) == 200
            assert phone.page.locator("input[type=hidden][name=t]").get_attribute("value") == (
                receipt
            )
            assert phone.hosts() == {"127.0.0.1"}
            assert phone.loaded_bytes() < MAX_PAGE_BYTES
            ticket_receipt = fill_and_send(
                phone.page, "Hài lòng",
                ["Hài lòng", "Hài lòng", "Rất hài lòng", "Hài lòng", "Không hài lòng"],
            )  # fmt: skip
            assert ticket_receipt not in (receipt, screen_receipt)
            phone.close()

            # --- the same ticket again, from another phone -------------------------------------
            phone = Phone(browser)
            assert phone.open(ticket_url) == 409
            assert phone.page.get_by_role("alert").inner_text() == TICKET_USED
            assert phone.page.get_by_role("button", name=SEND).count() == 0
            assert phone.page.get_by_role("radio").count() == 0
            phone.close()

        # --- what the server holds ------------------------------------------------------------
        held = phone_answers(app)
        assert set(held) == {screen_receipt, ticket_receipt}
        screen, ticket = held[screen_receipt], held[ticket_receipt]
        assert screen["channel"] == ticket["channel"] == "phone"
        assert screen["clerk"] == ticket["clerk"] == clerk
        assert (screen["source"], screen["level"]) == ("screen", "very_satisfied")
        assert screen["comment"] == COMMENT  # the diacritics, exactly (NFC)
        assert screen["criteria"] == dict(zip(DEFAULT_CRITERIA, [
            "very_satisfied", "satisfied", "very_satisfied", "very_satisfied", "not_satisfied",
        ], strict=True))  # fmt: skip
        assert (ticket["source"], ticket["level"]) == ("ticket", "satisfied")
        assert "comment" not in ticket
        assert ticket["criteria"][DEFAULT_CRITERIA[2]] == "very_satisfied"
    finally:
        try:
            if kiosk is not None:
                exit_code = kiosk.terminate()
        finally:
            if server is not None:
                server.stop()
            close_app(app)
    assert exit_code == 0, "".join(kiosk.lines)[-3000:]  # SIGTERM: a clean stop
