"""The screen: frames drawn with Pillow, checked against golden images, the clerk's QR
decoded by an independent decoder (zxing-cpp), and the back-ends' bytes.

Regenerate the golden images after an intended change of layout, then LOOK at them:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_screen.py
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageDraw, ImageStat

from hardware.screen import (
    FbGeometry,
    FramebufferScreen,
    NullScreen,
    PngScreen,
    ScreenError,
    open_screen,
    rgb565,
)
from hom_phieu.i18n import set_language
from hom_phieu.render.qr import QUIET_ZONE, qr_fit, qr_image, qr_modules
from hom_phieu.render.screen_frames import render_frame
from hom_phieu.render.views import ButtonLegend, ClerkCard, Frame, FrameKind
from kiosk import config

GOLDEN = Path(__file__).parent / "golden" / "screen"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
SIZES = [(480, 320), (800, 480), (320, 240)]

LAN = ClerkCard(
    "lan", "Nguyễn Thị Lan", "Công chức một cửa", "https://dichvucong.example.gov.vn/khao-sat/lan"
)
ANH = ClerkCard(
    "anh",
    "Đặng Thị Ngọc Ánh",
    "Phó Chủ tịch UBND phường, kiêm Trưởng bộ phận một cửa",
    "https://hom-phieu.example.vn/khao-sat/can-bo/dang-thi-ngoc-anh?quay=1",
)
LUONG = ClerkCard("luong", "Nguyễn Văn Lưỡng", "Công chức tư pháp – hộ tịch", None)
BUTTONS = (
    ButtonLegend("rat_hai_long", "Rất hài lòng", "green"),
    ButtonLegend("hai_long", "Hài lòng", "yellow"),
    ButtonLegend("khong_hai_long", "Không hài lòng", "red"),
)
LONG_OFFICE = "Trung tâm Phục vụ hành chính công tỉnh Bà Rịa – Vũng Tàu"
BASE = Frame(
    FrameKind.IDLE,
    office="UBND phường Bến Thành",
    counter="Quầy 1",
    clerk=LAN,
    buttons=BUTTONS,
    now_text="22/11/2026 08:15",
)
FRAMES = {
    FrameKind.IDLE: BASE,
    FrameKind.THANKS: replace(BASE, kind=FrameKind.THANKS, receipt_code="XZ4HF-BAJJE"),
    FrameKind.ARMED: replace(BASE, kind=FrameKind.ARMED, message="Còn 115 giây"),
    FrameKind.WAITING: replace(BASE, kind=FrameKind.WAITING),
    FrameKind.REFUSED: replace(
        BASE,
        kind=FrameKind.REFUSED,
        message="Bấm quá sớm sau lượt đánh giá trước. Xin chờ giây lát rồi bấm một lần.",
    ),
    FrameKind.CLERK_SELECT: replace(
        BASE,
        kind=FrameKind.CLERK_SELECT,
        clerks=(
            LAN,
            ANH,
            LUONG,
            ClerkCard("hoa", "Trần Thị Hoà", "Công chức địa chính", None),
            ClerkCard("duc", "Lê Minh Đức", "Công chức văn hoá – xã hội", None),
        ),
        selected=3,
        message="Bấm Hài lòng để chọn; Rất hài lòng / Không hài lòng để di chuyển",
    ),
    FrameKind.OUT_OF_SERVICE: replace(
        BASE,
        kind=FrameKind.OUT_OF_SERVICE,
        message="Sổ cái bị hỏng: bản ghi 42 sai chữ ký. Gọi kỹ thuật viên.",
    ),
    FrameKind.TEST: replace(BASE, kind=FrameKind.TEST),
}
LONG = replace(BASE, office=LONG_OFFICE, counter="Quầy tiếp nhận và trả kết quả số 12", clerk=ANH)


@pytest.fixture
def vi() -> Iterator[None]:
    set_language("vi")
    yield
    set_language("en")


# --- golden images ------------------------------------------------------------------------
def differences(image: Image.Image, golden: Image.Image) -> tuple[float, float]:
    """Mean absolute difference per channel, and the share of pixels off by more than 64."""
    diff = ImageChops.difference(image.convert("RGB"), golden.convert("RGB"))
    mean = sum(ImageStat.Stat(diff).mean) / 3
    red, green, blue = diff.split()
    worst = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    far = worst.point(lambda value: 255 if value > 64 else 0).histogram()[255]
    return mean, far / (image.width * image.height)


def check_golden(image: Image.Image, name: str) -> None:
    path = GOLDEN / f"{name}.png"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path)
        return
    assert path.exists(), f"{path} is missing: run UPDATE_GOLDEN=1 pytest {__file__}"
    golden = Image.open(path)
    assert image.size == golden.size
    mean, far = differences(image, golden)
    assert mean < 1.0 and far < 0.005, (
        f"{name}: differs from {path} (mean {mean:.2f}, {far:.2%} of pixels off by > 64); "
        "if the change is intended, UPDATE_GOLDEN=1 and look at the new image"
    )


@pytest.mark.parametrize("kind", list(FrameKind))
def test_each_frame_matches_its_golden_image(vi: None, kind: FrameKind) -> None:
    check_golden(render_frame(FRAMES[kind], 480, 320), kind.value)


@pytest.mark.parametrize(("width", "height"), [(800, 480), (320, 240)])
def test_idle_frame_at_other_sizes_matches_its_golden_image(
    vi: None, width: int, height: int
) -> None:
    check_golden(render_frame(FRAMES[FrameKind.IDLE], width, height), f"idle_{width}x{height}")


def test_long_names_match_their_golden_image(vi: None) -> None:
    check_golden(render_frame(LONG, 480, 320), "idle_long_names")


def test_golden_comparison_notices_a_real_change() -> None:
    image = render_frame(FRAMES[FrameKind.IDLE], 480, 320)
    changed = image.copy()
    ImageDraw.Draw(changed).rectangle((0, 0, 100, 100), fill=(255, 0, 0))
    assert differences(image, image) == (0.0, 0.0)
    mean, far = differences(changed, image)
    assert mean >= 1.0 or far >= 0.005


# --- the QR code --------------------------------------------------------------------------
def decoded(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


@pytest.mark.parametrize(("width", "height"), SIZES)
@pytest.mark.parametrize("clerk", [LAN, ANH], ids=["short_url", "long_url"])
def test_idle_qr_decodes_to_the_clerks_survey_url(
    vi: None, clerk: ClerkCard, width: int, height: int
) -> None:
    frame = replace(LONG if clerk is ANH else BASE, clerk=clerk)
    assert decoded(render_frame(frame, width, height)) == [clerk.survey_url]


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_idle_qr_has_its_quiet_zone_inside_the_frame(width: int, height: int) -> None:
    image = render_frame(LONG, width, height).convert("L")
    (result,) = zxingcpp.read_barcodes(image)
    corners = [result.position.top_left, result.position.bottom_right]
    left, top = (min(p.x for p in corners), min(p.y for p in corners))
    right, bottom = (max(p.x for p in corners), max(p.y for p in corners))
    module = (right - left) / qr_modules(ANH.survey_url, border=0)  # right, bottom: exclusive
    assert module >= (3 if width >= 480 else 2), "too small to scan from a phone"
    zone = round(QUIET_ZONE * module)
    outer = (left - zone, top - zone, right + zone, bottom + zone)
    assert outer[0] >= 0 and outer[1] >= 0 and outer[2] <= width and outer[3] <= height
    ring = image.crop(outer)
    ImageDraw.Draw(ring).rectangle((zone, zone, ring.width - zone - 1, ring.height - zone - 1), 255)
    assert ring.getextrema()[0] > 200, "something dark inside the quiet zone"


def test_idle_without_survey_url_has_no_qr(vi: None) -> None:
    frame = replace(BASE, clerk=LUONG)
    assert decoded(render_frame(frame, 480, 320)) == []
    assert decoded(render_frame(replace(BASE, clerk=None), 480, 320)) == []


def test_qr_image_has_a_quiet_zone_of_four_modules() -> None:
    data = "https://example.vn/s/lan"
    modules = qr_modules(data)
    image = qr_image(data, box_size=3)
    assert image.mode in ("1", "L")
    assert image.size == (modules * 3, modules * 3)
    inner = qr_modules(data, border=0)
    assert modules == inner + 2 * QUIET_ZONE
    zone = QUIET_ZONE * 3
    grey = image.convert("L")
    for box in [(0, 0, image.width, zone), (0, 0, zone, image.height)]:
        assert grey.crop(box).getextrema() == (255, 255)
    assert grey.crop((zone, zone, zone + 3, zone + 3)).getextrema() == (0, 0)  # finder corner
    assert decoded(image) == [data]


def test_qr_fit_takes_the_largest_whole_box_size_that_fits() -> None:
    data = "https://example.vn/s/lan"
    modules = qr_modules(data)
    assert qr_fit(data, modules * 5).width == modules * 5
    assert qr_fit(data, modules * 5 - 1).width == modules * 4
    assert decoded(qr_fit(data, 200)) == [data]
    with pytest.raises(ValueError, match="does not fit"):
        qr_fit(data, modules - 1)


# --- what the frames say, and what they never say -----------------------------------------
def test_thanks_frame_never_depends_on_the_buttons() -> None:
    thanks = FRAMES[FrameKind.THANKS]
    other = (ButtonLegend("x", "Không hài lòng", "red"), ButtonLegend("y", "Tốt", "#123456"))
    first = render_frame(thanks, 480, 320)
    for buttons in [(), other, BUTTONS[::-1]]:
        again = render_frame(replace(thanks, buttons=buttons, message="Rất hài lòng"), 480, 320)
        assert ImageChops.difference(first, again).getbbox() is None


@pytest.fixture
def drawn_texts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[int, ...]]]:
    """Every text drawn, with its ink box."""
    drawn: list[tuple[str, tuple[int, ...]]] = []
    original = ImageDraw.ImageDraw.text

    def spy(self: ImageDraw.ImageDraw, xy, text, fill=None, font=None, *args, **kwargs):
        drawn.append((text, tuple(self.textbbox(xy, text, font=font))))
        return original(self, xy, text, fill, font, *args, **kwargs)

    monkeypatch.setattr(ImageDraw.ImageDraw, "text", spy)
    return drawn


def inside(box: tuple[int, ...], width: int, height: int) -> bool:
    left, top, right, bottom = box
    return left >= 0 and top >= 0 and right <= width and bottom <= height


def overlapping(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize(("width", "height"), SIZES)
@pytest.mark.parametrize("kind", list(FrameKind))
def test_long_names_stay_inside_the_frame(
    vi: None, drawn_texts: list, kind: FrameKind, width: int, height: int
) -> None:
    frame = replace(FRAMES[kind], office=LONG_OFFICE, clerk=ANH)
    render_frame(frame, width, height)
    assert drawn_texts
    for text, box in drawn_texts:
        assert inside(box, width, height), (text, box)
    for index, (text, box) in enumerate(drawn_texts):
        for other, other_box in drawn_texts[index + 1 :]:
            assert not overlapping(box, other_box), (text, other)
    shown = " ".join(text for text, _box in drawn_texts)
    if kind is not FrameKind.CLERK_SELECT:
        assert all(word in shown for word in LONG_OFFICE.split()), "office cut"
    if kind is FrameKind.IDLE:
        assert all(word in shown for word in ANH.name.split()), "clerk's name cut"


def test_absurdly_long_text_is_cut_with_an_ellipsis(vi: None, drawn_texts: list) -> None:
    frame = replace(LONG, office=LONG_OFFICE * 6, clerk=replace(ANH, name=ANH.name * 8))
    render_frame(frame, 320, 240)
    assert any(text.endswith("…") for text, _box in drawn_texts)
    for text, box in drawn_texts:
        assert inside(box, 320, 240), (text, box)


def test_fixed_texts_are_translated(drawn_texts: list) -> None:
    render_frame(FRAMES[FrameKind.THANKS], 480, 320)
    assert "Thank you!" in [text for text, _box in drawn_texts]
    drawn_texts.clear()
    set_language("vi")
    try:
        render_frame(FRAMES[FrameKind.THANKS], 480, 320)
    finally:
        set_language("en")
    texts = [text for text, _box in drawn_texts]
    assert "Cảm ơn ông/bà!" in texts and "XZ4HF-BAJJE" in texts


def test_now_text_is_shown_only_when_given(drawn_texts: list) -> None:
    render_frame(FRAMES[FrameKind.IDLE], 480, 320)
    assert "22/11/2026 08:15" in [text for text, _box in drawn_texts]
    drawn_texts.clear()
    render_frame(replace(FRAMES[FrameKind.IDLE], now_text=""), 480, 320)
    assert not any("2026" in text for text, _box in drawn_texts)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_idle_shows_a_staff_notice_when_there_is_one(
    drawn_texts: list, width: int, height: int
) -> None:
    notice = "Printer: out of paper"
    render_frame(replace(LONG, message=notice), width, height)
    assert notice in [text for text, _box in drawn_texts]
    for index, (text, box) in enumerate(drawn_texts):
        assert inside(box, width, height), (text, box)
        for other, other_box in drawn_texts[index + 1 :]:
            assert not overlapping(box, other_box), (text, other)


def test_legend_boxes_have_the_button_colours_in_button_order() -> None:
    buttons = (*BUTTONS, ButtonLegend("custom", "Khác", "#123456"))
    image = render_frame(replace(BASE, buttons=buttons), 480, 320)
    row = image.height - 14  # inside the legend, under the labels
    colours = []
    for x in range(image.width):
        pixel = image.getpixel((x, row))
        if pixel not in ((255, 255, 255), *colours) and pixel in (
            (40, 167, 69),
            (255, 193, 7),
            (220, 53, 69),
            (0x12, 0x34, 0x56),
        ):
            colours.append(pixel)
    assert colours == [(40, 167, 69), (255, 193, 7), (220, 53, 69), (0x12, 0x34, 0x56)]


def test_tiny_screens_are_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        render_frame(BASE, 10, 10)


# --- back-ends ----------------------------------------------------------------------------
def framebuffer(tmp_path: Path, geometry: FbGeometry) -> Path:
    device = tmp_path / "fb0"
    device.write_bytes(b"\x55" * geometry.stride * geometry.height)
    return device


def test_framebuffer_16_bpp_is_rgb565_little_endian(tmp_path: Path) -> None:
    geometry = FbGeometry(width=4, height=2, bits_per_pixel=16, stride=8)
    device = framebuffer(tmp_path, geometry)
    with FramebufferScreen(device, 0, geometry) as screen:
        screen.show(Image.new("RGB", (4, 2), (255, 0, 0)))
    assert device.read_bytes() == b"\x00\xf8" * 8
    assert rgb565(Image.new("RGB", (1, 1), (0, 255, 0))) == b"\xe0\x07"
    assert rgb565(Image.new("RGB", (1, 1), (0, 0, 255))) == b"\x1f\x00"
    assert rgb565(Image.new("RGB", (1, 1), (255, 255, 255))) == b"\xff\xff"


def test_framebuffer_32_bpp_is_bgrx(tmp_path: Path) -> None:
    geometry = FbGeometry(width=4, height=2, bits_per_pixel=32, stride=16)
    device = framebuffer(tmp_path, geometry)
    with FramebufferScreen(device, 0, geometry) as screen:
        screen.show(Image.new("RGB", (4, 2), (255, 0, 0)))
        assert device.read_bytes() == b"\x00\x00\xff\x00" * 8
        screen.show(Image.new("RGB", (4, 2), (1, 2, 3)))
    assert device.read_bytes() == b"\x03\x02\x01\x00" * 8


def test_framebuffer_pads_lines_to_the_stride(tmp_path: Path) -> None:
    geometry = FbGeometry(width=3, height=2, bits_per_pixel=32, stride=16)
    device = framebuffer(tmp_path, geometry)
    with FramebufferScreen(device, 0, geometry) as screen:
        screen.show(Image.new("RGB", (3, 2), (0, 0, 255)))
    line = b"\xff\x00\x00\x00" * 3 + b"\x00" * 4
    assert device.read_bytes() == line * 2


def test_framebuffer_rotates_clockwise_and_letterboxes(tmp_path: Path) -> None:
    geometry = FbGeometry(width=2, height=4, bits_per_pixel=32, stride=8)
    device = framebuffer(tmp_path, geometry)
    image = Image.new("RGB", (4, 2), (255, 0, 0))
    ImageDraw.Draw(image).rectangle((2, 0, 3, 1), fill=(0, 0, 255))  # right half blue
    with FramebufferScreen(device, 90, geometry) as screen:
        screen.show(image)
        assert screen.last_frame is not None and screen.last_frame.size == (4, 2)
    data = device.read_bytes()
    pixels = [data[i : i + 4] for i in range(0, len(data), 4)]
    assert pixels[0] == b"\x00\x00\xff\x00"  # top: the left half (red)
    assert pixels[-1] == b"\xff\x00\x00\x00"  # bottom: the right half (blue)

    geometry = FbGeometry(width=4, height=2, bits_per_pixel=32, stride=16)
    device = framebuffer(tmp_path, geometry)
    with FramebufferScreen(device, 0, geometry) as screen:
        screen.show(Image.new("RGB", (2, 2), (255, 255, 255)))
    data = device.read_bytes()
    assert data[0:4] == b"\x00\x00\x00\x00" and data[4:8] == b"\xff\xff\xff\x00"


def test_framebuffer_geometry_is_read_from_sysfs(tmp_path: Path) -> None:
    folder = tmp_path / "sys" / "fb1"
    folder.mkdir(parents=True)
    (folder / "virtual_size").write_text("800,480\n")
    (folder / "bits_per_pixel").write_text("16\n")
    (folder / "stride").write_text("1600\n")
    geometry = FbGeometry.read(Path("/dev/fb1"), sysfs=tmp_path / "sys")
    assert geometry == FbGeometry(800, 480, 16, 1600)
    with pytest.raises(ScreenError, match="not a framebuffer"):
        FbGeometry.read(Path("/dev/fb7"), sysfs=tmp_path / "sys")


def test_framebuffer_errors_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    geometry = FbGeometry(width=4, height=2, bits_per_pixel=16, stride=8)
    with pytest.raises(ScreenError, match="not found"):
        FramebufferScreen(tmp_path / "missing", 0, geometry)
    with pytest.raises(ScreenError, match="16 or 32"):
        FramebufferScreen(tmp_path / "fb0", 0, FbGeometry(4, 2, 24, 12))
    with pytest.raises(ScreenError, match="rotate"):
        FramebufferScreen(tmp_path / "fb0", 45, geometry)
    device = framebuffer(tmp_path, geometry)

    def refuse(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(ScreenError, match="video group"):
        FramebufferScreen(device, 0, geometry)


def test_png_screen_writes_the_frame_atomically(tmp_path: Path) -> None:
    path = tmp_path / "state" / "screen.png"
    screen = PngScreen(path)
    image = render_frame(BASE, 480, 320)
    screen.show(image)
    with Image.open(path) as written:
        assert written.size == (480, 320)
        assert ImageChops.difference(written.convert("RGB"), image).getbbox() is None
    assert screen.last_frame is not None
    assert ImageChops.difference(screen.last_frame, image).getbbox() is None
    screen.show(Image.new("RGB", (480, 320), (0, 0, 0)))
    assert sorted(p.name for p in path.parent.iterdir()) == ["screen.png"]  # no temp files
    screen.close()


def test_null_screen_keeps_the_last_frame() -> None:
    screen = NullScreen()
    assert screen.last_frame is None
    screen.show(Image.new("L", (4, 4), 0))
    assert screen.last_frame is not None and screen.last_frame.mode == "RGB"
    screen.close()


def test_open_screen_picks_the_configured_back_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(open_screen(config.Screen(kind="none"), tmp_path), NullScreen)
    png = open_screen(config.Screen(kind="png"), tmp_path)
    assert isinstance(png, PngScreen) and png.path == tmp_path / "screen.png"
    missing = config.Screen(kind="framebuffer", device=tmp_path / "fb9")
    with pytest.raises(ScreenError, match="fb9"):
        open_screen(missing, tmp_path)
    monkeypatch.setitem(sys.modules, "luma", None)  # as if the extra were not installed
    with pytest.raises(ScreenError, match=r"hom-phieu\[luma\]"):
        open_screen(config.Screen(kind="luma"), tmp_path)
