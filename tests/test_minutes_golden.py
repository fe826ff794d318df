"""The minutes a secretary signs as printed (Decree 30/2020): the PDF rendered to images by
poppler and compared with golden images, its text read back for the header's elements, and
the printable page saying what the PDF says (both show ``web.minutes_document``).

Fixed data (``make_minutes``: the real builder and checklist), a fixed content hash and the
minutes' own times: the same images on every run. Regenerate the golden images after an
intended change of layout, then LOOK at them:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_minutes_golden.py
"""

from __future__ import annotations

import html
import io
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pypdf
import pytest
from flask import render_template
from PIL import Image, ImageChops

from hom_phieu.i18n import language
from tests.test_minutes_render import make_minutes
from web.minutes import Minutes
from web.minutes_document import abbreviation, issuing_body, minutes_document, place_name
from web.minutes_pdf import minutes_pdf

GOLDEN = Path(__file__).parent / "golden" / "minutes"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
HASH = "5e" * 32
DPI = 50  # an A4 page: 413 × 585 pixels, enough to see a line move
TOLERANCE = 0.005  # share of pixels allowed to differ by more than a quarter of the range


@pytest.fixture(scope="module")
def minutes() -> Minutes:
    return make_minutes()


@pytest.fixture(scope="module")
def pdf(minutes: Minutes) -> bytes:
    with language("vi"):
        return minutes_pdf(minutes, HASH)


def pages_as_images(pdf: bytes, folder: Path) -> list[Image.Image]:
    """Each page as a grey image, drawn by poppler (pdftoppm), not by the code under test."""
    source = folder / "minutes.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-gray", "-png", str(source), str(folder / "page")],
        check=True,
        capture_output=True,
    )
    return [Image.open(path).convert("L") for path in sorted(folder.glob("page-*.png"))]


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="poppler-utils is not installed")
def test_the_pdf_looks_like_its_golden_images(pdf: bytes, tmp_path: Path) -> None:
    images = pages_as_images(pdf, tmp_path)
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for old in GOLDEN.glob("page-*.png"):
            old.unlink()
        for number, image in enumerate(images, start=1):
            image.save(GOLDEN / f"page-{number}.png", optimize=True)
    golden = sorted(GOLDEN.glob("page-*.png"))
    assert golden, f"no golden image in {GOLDEN}: run with UPDATE_GOLDEN=1, then look at them"
    assert len(images) == len(golden), f"{len(images)} pages, the golden minutes have {len(golden)}"
    for number, (image, path) in enumerate(zip(images, golden, strict=True), start=1):
        expected = Image.open(path).convert("L")
        assert image.size == expected.size, f"page {number}: {image.size} != {expected.size}"
        diff = ImageChops.difference(image, expected).point(lambda v: 255 if v > 64 else 0)
        changed = diff.histogram()[255] / (image.width * image.height)
        if changed > TOLERANCE:
            image.save(tmp_path / f"actual-{number}.png")
        assert changed <= TOLERANCE, (
            f"page {number}: {changed:.2%} of the pixels differ from {path} "
            f"(see {tmp_path / f'actual-{number}.png'})"
        )


def pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_the_pdf_text_has_the_decree_header(minutes: Minutes, pdf: bytes) -> None:
    text = pdf_text(pdf)
    first = " ".join(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    for element in (
        "UBND XÃ ĐÔNG THANH",  # the governing body, in capitals …
        "BỘ PHẬN MỘT CỬA",  # … and the issuing body, without the unit it repeats
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập – Tự do – Hạnh phúc",
        "Số: ……/BB-BPMC",
        "Đông Thanh, ngày 30 tháng 11 năm 2026",
        "BIÊN BẢN",
        "Mở hòm phiếu đánh giá sự hài lòng tháng 11/2026",
    ):
        assert element in first, element
    assert first.index("BỘ PHẬN MỘT CỬA") < first.index("BIÊN BẢN")
    assert "Cuộc họp kết thúc vào lúc 16:05 ngày 30/11/2026." in text
    assert "Biên bản được lập thành 03 bản có giá trị như nhau" in text
    for title, name in (
        ("THƯ KÝ", "Trần Thị Hằng"),
        ("CHỦ TRÌ", "Nguyễn Văn Ễnh"),
        ("CHỦ TỊCH ỦY BAN MTTQ", "Lê Văn Dũng"),
        ("ĐẠI DIỆN CÔNG ĐOÀN", "Hoàng Thị Phượng"),
        ("CÔNG CHỨC MỘT CỬA", "Đặng Quốc Việt"),
    ):
        assert title in text and name in text[text.index("THƯ KÝ") :], title
    signed = text.replace(minutes.warnings_reason or "", "")  # (typed by the committee)
    assert "Tổ mở hòm phiếu" in signed and "Hội đồng" not in signed  # one term
    # No stored code in the signed text: refusal reasons and checks in words.
    for raw in ("min_gap", "burst", "rate_limit", "daily_limit", "very_satisfied", "(ok)"):
        assert raw not in text, raw
    assert "bấm quá sớm sau lượt đánh giá trước: 12 lần" in text
    assert f"Mã kiểm tra nội dung (SHA-256): {HASH}" in text


def test_the_header_parts() -> None:
    office = SimpleNamespace(unit="Xã Hòa Bình", name="Bộ phận một cửa xã Hòa Bình")
    assert issuing_body(office) == ("UBND XÃ HÒA BÌNH", "BỘ PHẬN MỘT CỬA")  # type: ignore[arg-type]
    typed = SimpleNamespace(unit="UBND phường 3", name="Bộ phận tiếp nhận và trả kết quả")
    assert issuing_body(typed) == ("UBND PHƯỜNG 3", "BỘ PHẬN TIẾP NHẬN VÀ TRẢ KẾT QUẢ")  # type: ignore[arg-type]
    assert abbreviation("BỘ PHẬN MỘT CỬA") == "BPMC"
    assert place_name("Xã Hòa Bình") == "Hòa Bình"
    assert place_name("Phường 1") == "Phường 1"  # a unit named by a number keeps its kind
    assert place_name("Thị trấn Rừng Thông") == "Rừng Thông"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from web import create_app
    from web.services import close_app

    database = tmp_path_factory.mktemp("minutes-page") / "server.sqlite3"
    made = create_app(
        {"DATABASE_URL": f"sqlite:///{database}", "TESTING": True, "SECRET_KEY": "test"}
    )
    yield made
    close_app(made)


def render_page(app: object, minutes: Minutes) -> str:
    opening = SimpleNamespace(office_id=1, minutes_hash=HASH)
    with app.test_request_context("/"), language("vi"):  # type: ignore[attr-defined]
        return render_template(
            "ceremony/minutes.html", opening=opening, minutes=minutes, box_label="11/2026"
        )


def page_text(page: str) -> str:
    text = re.sub(r"<[^>]+>", " ", page.split("<body>", 1)[1])
    return " ".join(html.unescape(text).split())


def test_the_page_says_what_the_pdf_says(app: object, minutes: Minutes, pdf: bytes) -> None:
    """Every paragraph, heading, header line and signature of the document is on both, and
    every table cell on the page; the MTTQ and union blocks too, and no heading twice."""
    raw = render_page(app, minutes)
    page = page_text(raw)
    printed = pdf_text(pdf)
    with language("vi"):
        document = minutes_document(minutes)
    for text in document.texts():
        flat = " ".join(text.split())
        assert flat in page, flat
        assert flat in printed, flat
    for section in document.sections:
        for block in section.blocks:
            if block.kind == "table":
                for cell in (*block.header, *(c for row in block.rows for c in row)):
                    assert " ".join(cell.split()) in page, cell
    assert "CHỦ TỊCH ỦY BAN MTTQ" in page and "ĐẠI DIỆN CÔNG ĐOÀN" in page
    assert raw.count("<h3>Kết quả theo công chức</h3>") == 1
