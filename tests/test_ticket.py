"""Tickets as printed: the ESC/POS bytes decoded back into images and compared with golden
files, with every Vietnamese tone mark, the receipt code, the survey QR and the cut.

Regenerate the golden images with ``UPDATE_GOLDEN=1 pytest tests/test_ticket.py`` and look at
them before committing: every letter and mark must be whole.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageDraw

from hardware.escpos_cache import prepare_escpos
from hardware.escpos_decode import decode, page_image
from hardware.printer import ticket_bytes
from hom_phieu.i18n import set_language
from hom_phieu.render.fonts import font, line_metrics, text_width
from hom_phieu.render.ticket_render import PAPER_WIDTH_PX, THRESHOLD, render_slip, render_ticket
from hom_phieu.render.views import Slip, Ticket

GOLDEN = Path(__file__).parent / "golden" / "ticket"
SURVEY_URL = "https://hom-phieu.example.vn/khao-sat/lan?t=7KQ2M9XA"
TICKET = Ticket(
    office="Trung tâm Phục vụ hành chính công xã Đông Thanh, tỉnh Thanh Hóa",
    counter="Quầy 3 — Tư pháp, hộ tịch",
    clerk_name="Đặng Thị Ngọc Ánh",
    clerk_title="Công chức một cửa",
    date_text="22/11/2026",
    time_text="08:15",
    receipt_code="XZ4HF-BAJJE",
    survey_url=SURVEY_URL,
)
MARKS = Ticket(
    office="UBND phường Ngọc Hà, thành phố Hà Nội",
    counter="Quầy 1",
    clerk_name="Nguyễn Văn Lưỡng, ỄỆỸỴ",
    clerk_title="Cán bộ tiếp nhận và trả kết quả",
    date_text="01/12/2026",
    time_text="16:05",
    receipt_code="Q7MRT-2KD9W",
    survey_url=None,
    time_unsure=True,
)
SLIP = Slip(
    title="NIÊM PHONG HÒM PHIẾU THÁNG 11/2026",
    office="UBND xã Đông Thanh",
    counter="Quầy 1",
    lines=(
        ("Số phiếu", "1.717"),
        ("Thiết bị", "pi-dong-thanh-01"),
        ("Dấu vân tay của sổ ghi (mã băm cuối)", "9f2c41d07be3a8e5"),
    ),
    date_text="30/11/2026",
    time_text="17:00",
)
PROFILES = {58: "POS-5890", 80: "TM-T20II"}


@pytest.fixture(autouse=True)
def vietnamese() -> None:
    set_language("vi")  # the conftest resets it after each test


def printed(image: Image.Image, paper_mm: int) -> tuple[bytes, Image.Image]:
    """The bytes of ``image`` on that paper's printer profile, and the page they print."""
    data = ticket_bytes(image, PROFILES[paper_mm])
    page = page_image(decode(data))
    assert page is not None, "no image in the ticket bytes"
    return data, page


def assert_golden(page: Image.Image, name: str, tmp_path: Path) -> None:
    path = GOLDEN / f"{name}.png"
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        page.save(path, optimize=True)
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1, then look at it"
    golden = Image.open(path).convert("1")
    actual_path = tmp_path / f"{name}.actual.png"
    page.save(actual_path)
    assert page.size == golden.size, f"size {page.size} != golden {golden.size}; see {actual_path}"
    diff = ImageChops.difference(page.convert("L"), golden.convert("L"))
    changed = page.width * page.height - diff.histogram()[0]
    assert changed == 0, f"{changed} pixels differ from {path}; see {actual_path}"


def line_image(text: str, size: int, bold: bool) -> Image.Image:
    """``text`` drawn alone as the ticket draws a line: its full measured line box."""
    metrics = line_metrics(size, bold)
    image = Image.new("L", (text_width(text, size, bold) + 2, metrics.height), 255)
    ImageDraw.Draw(image).text((1, -metrics.top), text, font=font(size, bold), fill=0)
    return image.point(lambda v: 255 if v >= THRESHOLD else 0).convert("1", dither=None)


def contains(page: Image.Image, part: Image.Image) -> bool:
    """Whether ``part`` appears pixel for pixel in ``page``, centred as the ticket centres."""
    x = (page.width - part.width) // 2
    for y in range(page.height - part.height + 1):
        window = page.crop((x, y, x + part.width, y + part.height))
        if ImageChops.difference(window.convert("L"), part.convert("L")).getbbox() is None:
            return True
    return False


@pytest.mark.parametrize(
    ("name", "ticket", "paper_mm"),
    [("ticket-58", TICKET, 58), ("ticket-80", TICKET, 80), ("ticket-58-marks", MARKS, 58)],
)
def test_ticket_prints_like_the_golden_image(
    name: str, ticket: Ticket, paper_mm: int, tmp_path: Path
) -> None:
    data, page = printed(render_ticket(ticket, PAPER_WIDTH_PX[paper_mm]), paper_mm)
    assert page.width == PAPER_WIDTH_PX[paper_mm]
    assert page.mode == "1"
    decoded = decode(data)
    assert decoded.cuts == 1
    assert data.endswith((b"\x1dV\x00", b"\x1dVB\x00"))  # the cut comes last
    assert decoded.unknown == []
    assert decoded.text.strip() == ""  # nothing left to the printer's own fonts
    assert_golden(page, name, tmp_path)


def test_slip_prints_like_the_golden_image(tmp_path: Path) -> None:
    data, page = printed(render_slip(SLIP, PAPER_WIDTH_PX[58]), 58)
    assert page.width == 384
    assert decode(data).cuts == 1
    assert_golden(page, "slip-58", tmp_path)


@pytest.mark.parametrize("paper_mm", [58, 80])
def test_survey_qr_reads_back_from_the_printed_image(paper_mm: int) -> None:
    _data, page = printed(render_ticket(TICKET, PAPER_WIDTH_PX[paper_mm]), paper_mm)
    codes = zxingcpp.read_barcodes(page.convert("L"))
    assert [code.text for code in codes] == [SURVEY_URL]


def test_no_qr_without_a_survey() -> None:
    _data, page = printed(render_ticket(MARKS, 384), 58)
    assert zxingcpp.read_barcodes(page.convert("L")) == []


@pytest.mark.parametrize(
    ("text", "size", "bold"),
    [
        ("Nguyễn Văn Lưỡng, ỄỆỸỴ", 22, True),  # the clerk line, stacked marks on capitals
        ("Cán bộ tiếp nhận và trả kết quả", 18, False),
        ("Giờ trên phiếu chưa được đồng bộ", 17, False),  # the unsynchronised-clock note
        ("Cảm ơn ông/bà!", 30, True),
        ("Mã biên nhận", 18, False),
    ],
)
def test_vietnamese_letters_and_marks_are_printed_whole(text: str, size: int, bold: bool) -> None:
    """Each line, drawn alone in its full line box (highest stacked mark to the dot below),
    is found pixel for pixel in the printed page: no letter lost, no mark clipped."""
    _data, page = printed(render_ticket(MARKS, 384), 58)
    assert contains(page, line_image(text, size, bold))


def test_the_mark_check_would_catch_a_lost_tone_mark() -> None:
    _data, page = printed(render_ticket(MARKS, 384), 58)
    assert not contains(page, line_image("Nguyen Van Luong, EEYY", 22, True))
    assert not contains(page, line_image("Nguy?n Văn Lư?ng, ????", 22, True))


def test_first_ticket_names_are_printed_whole() -> None:
    _data, page = printed(render_ticket(TICKET, 384), 58)
    assert contains(page, line_image("Đặng Thị Ngọc Ánh", 22, True))
    assert contains(page, line_image("Ngày 22/11/2026 lúc 08:15", 18, False))


def test_width_and_profile() -> None:
    for width in PAPER_WIDTH_PX.values():
        image = render_ticket(TICKET, width)
        assert image.size[0] == width and image.mode == "1"
    assert PAPER_WIDTH_PX == {58: 384, 80: 576}


def test_a_ticket_never_carries_the_level() -> None:
    names = {f.name for f in dataclasses.fields(Ticket)}
    assert not any("level" in name or "button" in name for name in names), names
    # The same ticket data gives the same bytes, whatever was pressed: nothing else goes in.
    first = ticket_bytes(render_ticket(TICKET, 384), "POS-5890")
    second = ticket_bytes(render_ticket(dataclasses.replace(TICKET), 384), "POS-5890")
    assert first == second
    # And what is printed changes with the receipt code (the bytes are not a constant).
    other = dataclasses.replace(TICKET, receipt_code="AAAAA-AAAAA")
    assert ticket_bytes(render_ticket(other, 384), "POS-5890") != first


def test_english_ticket_uses_the_source_strings() -> None:
    set_language("en")
    page = render_ticket(TICKET, 384)
    assert contains(page, line_image("Receipt code", 18, False))


def test_why_we_print_images_python_escpos_text_loses_vietnamese() -> None:
    """The finding behind rendering: python-escpos 3.1's own text encoder, on the POS-5890
    profile (the common 58 mm printers), cannot carry Vietnamese. It hops between code pages
    letter by letter (CP932, CP852, CP1258) and writes ``?`` for letters with two marks (ễ,
    ỡ): even a printer that numbered its code pages exactly like the profile would print
    "Nguy?n Văn Lư?ng". Deterministic: no printer involved, only the library's bytes."""
    prepare_escpos()
    from escpos.capabilities import CAPABILITIES
    from escpos.printer import Dummy

    name = "Nguyễn Văn Lưỡng"
    dummy = Dummy(profile="POS-5890")
    dummy.text(name + "\n")
    profile = CAPABILITIES["profiles"]["POS-5890"]
    codecs = {
        int(number): CAPABILITIES["encodings"].get(page, {}).get("python_encode", "cp437")
        for number, page in profile["codePages"].items()
    }
    text = decode(dummy.output, code_pages=codecs).text.strip()
    assert text != name
    assert "?" in text
    assert text == "Nguy?n Văn Lư?ng"
    assert b"\x1bt" in dummy.output  # it switched code pages to get even this far
