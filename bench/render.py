"""Drawing what the citizen sees: the idle screen and a receipt ticket, in this process.

The idle frame (office, counter, clerk on duty with the survey QR code, the three
buttons' legend, the time) is drawn by ``render_frame`` at 480x320 and 800x480. Its
floor is the glyph rasterisation that any renderer must do: the very text lines
``render_frame`` drew (recorded once), each drawn once with ``ImageDraw.text`` at its
size onto a blank image of the same size.

A ticket is built by ``ticket_data`` (draw it, threshold it, encode it as ESC/POS). Its
floor is the ESC/POS encoding alone: ``ticket_bytes`` of a blank image of the same size.

Subject and floor alternate, one call each, after a warm-up; median and p99.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from bench.report import Row, Settings, log, ms, percentile, ratio
from hom_phieu.i18n import DEFAULT_LANGUAGE, current_language, set_language
from hom_phieu.render.fonts import BOLD, font
from hom_phieu.render.views import ButtonLegend, ClerkCard, Frame, FrameKind, Ticket
from kiosk.config import DEFAULT_BUTTONS, parse_config

ORDER = 4
CALLS, CALLS_QUICK = 200, 30
WARM_UP, WARM_UP_QUICK = 10, 3
SIZES = ((480, 320), (800, 480))
OFFICE, COUNTER = "UBND phường Bến Thành", "Quầy 1"
CLERK = ClerkCard("lan", "Nguyễn Thị Lan", "Công chức một cửa", "https://hcc.example.gov.vn/s/lan")
FRAME = Frame(
    kind=FrameKind.IDLE,
    office=OFFICE,
    counter=COUNTER,
    clerk=CLERK,
    buttons=tuple(ButtonLegend(b.name, b.label, b.colour or "") for b in DEFAULT_BUTTONS),
    clerks=(CLERK,),
    now_text="22/11/2026 08:15",
)
TICKET = Ticket(
    office=OFFICE,
    counter=COUNTER,
    clerk_name=CLERK.name,
    clerk_title=CLERK.title,
    date_text="22/11/2026",
    time_text="08:15",
    receipt_code="XZ4HF-BAJJE",
    survey_url=CLERK.survey_url,
)
PRINTER_TOML = '[printer]\nkind="file"\nfile="/dev/null"'


@dataclass(frozen=True, slots=True)
class Glyphs:
    """One ``ImageDraw.text`` call of the renderer: where, what, at which size and colour."""

    xy: tuple[float, float]
    text: str
    size: int
    bold: bool
    fill: Any


@contextmanager
def recording() -> Iterator[list[Glyphs]]:
    """Record every ``ImageDraw.text`` call made inside the block."""
    calls: list[Glyphs] = []
    original = ImageDraw.ImageDraw.text

    def text(self: ImageDraw.ImageDraw, xy: Any, text: Any, *args: Any, **kwargs: Any) -> Any:
        face = kwargs["font"]
        bold = str(face.path) == str(BOLD)
        calls.append(Glyphs(tuple(xy), str(text), int(face.size), bold, kwargs.get("fill")))
        return original(self, xy, text, *args, **kwargs)

    ImageDraw.ImageDraw.text = text  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        ImageDraw.ImageDraw.text = original  # type: ignore[method-assign]


def draw_texts(calls: list[Glyphs], size: tuple[int, int]) -> Image.Image:
    """The floor of a frame: a blank image and the same text lines drawn on it."""
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for call in calls:
        draw.text(call.xy, call.text, font=font(call.size, call.bold), fill=call.fill)
    return image


def timed(function: Callable[[], object]) -> int:
    started = time.perf_counter_ns()
    function()
    return time.perf_counter_ns() - started


def alternate(
    subject: Callable[[], object], floor: Callable[[], object], calls: int, warm_up: int
) -> tuple[list[int], list[int]]:
    """Nanoseconds of each call of ``subject`` and ``floor``, alternating which goes first."""
    for _ in range(warm_up):
        subject()
        floor()
    subjects, floors = [], []
    for i in range(calls):
        if i % 2:
            floors.append(timed(floor))
            subjects.append(timed(subject))
        else:
            subjects.append(timed(subject))
            floors.append(timed(floor))
    return subjects, floors


def stat_rows(label: str, floor_label: str, measured: list[int], floors: list[int]) -> list[Row]:
    rows = []
    for stat, q in (("median", 50), ("p99", 99)):
        value, bottom = percentile(measured, q), percentile(floors, q)
        what = f" ({floor_label})" if not rows else ""
        rows.append(Row(f"{label}: {stat}", ms(value), ms(bottom) + what, ratio(value, bottom)))
    return rows


def run(settings: Settings) -> list[Row]:
    settings.workdir.mkdir(parents=True, exist_ok=True)
    # python-escpos keeps its capability cache here rather than in the user's data folder.
    os.environ.setdefault("ESCPOS_CAPABILITIES_PICKLE_DIR", str(settings.workdir))
    from hardware.printer import ticket_bytes, ticket_data, ticket_width_px
    from hom_phieu.render.screen_frames import render_frame
    from hom_phieu.render.ticket_render import render_ticket

    calls = CALLS_QUICK if settings.quick else CALLS
    warm_up = WARM_UP_QUICK if settings.quick else WARM_UP
    language = current_language()
    set_language(DEFAULT_LANGUAGE)  # the device's default: Vietnamese on the screen and paper
    rows: list[Row] = []
    try:
        for width, height in SIZES:
            with recording() as texts:
                render_frame(FRAME, width, height)
            measured, floors = alternate(
                lambda w=width, h=height: render_frame(FRAME, w, h),
                lambda t=texts, w=width, h=height: draw_texts(t, (w, h)),
                calls,
                warm_up,
            )
            log(f"  render: idle frame {width}x{height}: {ms(percentile(measured, 50))}")
            rows += stat_rows(
                f"Idle screen `render_frame` {width}x{height} ({calls} renders)",
                f"its {len(texts)} text lines, `ImageDraw.text` on a blank image",
                measured,
                floors,
            )
        printer = parse_config(PRINTER_TOML).printer
        width = ticket_width_px(printer.paper_width_mm, printer.profile)
        blank = Image.new("1", render_ticket(TICKET, width).size, 1)
        measured, floors = alternate(
            lambda: ticket_data(TICKET, printer),
            lambda: ticket_bytes(blank, printer.profile),
            calls,
            warm_up,
        )
        log(f"  render: ticket: {ms(percentile(measured, 50))}")
        rows += stat_rows(
            f"Ticket `ticket_data` ({printer.paper_width_mm} mm, {printer.profile}, "
            f"{calls} tickets)",
            f"`ticket_bytes` of a blank {blank.width}x{blank.height} image: ESC/POS only",
            measured,
            floors,
        )
    finally:
        set_language(language)
    return rows
