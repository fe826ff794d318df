"""Draw a :class:`~hom_phieu.render.views.Frame` as a Pillow image. Pure: no I/O, no clock.

One drawing function per :class:`~hom_phieu.render.views.FrameKind`, on the parts every
frame shares (the header band, the buttons' legend); the layout rules, scaling with the
frame size and text that never overflows, are :mod:`hom_phieu.render.screen_layout`'s.

Nothing here shows a level: the thank-you frame looks the same whichever button was
pressed, so an onlooker learns nothing from the screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PIL import Image

from hom_phieu.i18n import N_, _
from hom_phieu.render.fonts import line_metrics
from hom_phieu.render.qr import qr_fit
from hom_phieu.render.screen_layout import (
    ALERT,
    HEADER,
    HEADER_INK,
    HEADER_MUTED,
    HIGHLIGHT,
    MUTED,
    OUTLINE,
    RGB,
    Box,
    Canvas,
    Text,
    colour_rgb,
    column,
    fit,
    ink_on,
)
from hom_phieu.render.views import ButtonLegend, ClerkCard, Frame, FrameKind

# A test line with the hardest Vietnamese marks: stacked on capitals, dot below.
VIETNAMESE_SAMPLE = "Đặng Thị Ngọc Ánh, Nguyễn Văn Lưỡng, ỄỆỸỴ"


# --- parts shared by the frames -----------------------------------------------------------
def header(canvas: Canvas, frame: Frame) -> int:
    """The band with the office, the counter and the time; returns its bottom."""
    m, width = canvas.margin, canvas.w - 2 * canvas.margin
    office = canvas.fit(Text(frame.office, 20, 13, True, 2, HEADER_INK), width, canvas.px(56))
    now = canvas.fit(Text(frame.now_text, 13, 11, False, 1, HEADER_MUTED), width // 2, canvas.h)
    beside = now.width + m if now.lines else 0
    counter = canvas.fit(
        Text(frame.counter, 17, 12, False, 1, HEADER_INK), width - beside, canvas.h
    )
    row = max(counter.height, now.height)
    inner = office.height + (canvas.spacing // 2 + row if row else 0)
    bottom = m + inner + m
    canvas.draw.rectangle((0, 0, canvas.w - 1, bottom - 1), fill=HEADER)
    canvas.text(office, m, m, width)
    row_y = m + office.height + canvas.spacing // 2
    canvas.text(counter, m, row_y + (row - counter.height), width - beside)
    canvas.text(now, m, row_y + (row - now.height), width, align="right")
    return bottom


def legend_height(canvas: Canvas, buttons: Sequence[ButtonLegend]) -> int:
    return canvas.px(54, 30) if buttons else 0


def legend(canvas: Canvas, buttons: Sequence[ButtonLegend], box: Box) -> None:
    """One box per physical button, in button order, in the button's colour."""
    if not buttons:
        return
    gap = canvas.px(8, 3)
    each = (box.w - gap * (len(buttons) - 1)) // len(buttons)
    pad = canvas.px(5, 2)
    for index, button in enumerate(buttons):
        x = box.x + index * (each + gap)
        colour = colour_rgb(button.colour)
        canvas.draw.rounded_rectangle(
            (x, box.y, x + each - 1, box.bottom - 1),
            radius=canvas.px(8, 2),
            fill=colour,
            outline=OUTLINE,
            width=canvas.px(1.5, 1),
        )
        label = canvas.fit(
            Text(button.label, 17, 10, bold=True, fill=ink_on(colour)),
            each - 2 * pad,
            box.h - 2 * pad,
        )
        canvas.stack(
            [label],
            Box(x + pad, box.y + pad, each - 2 * pad, box.h - 2 * pad),
            align="center",
            middle=True,
        )


def body_and_legend(canvas: Canvas, frame: Frame, with_legend: bool) -> tuple[Box, Box | None]:
    """The header is drawn; the room under it, and the legend's box at the bottom."""
    top = header(canvas, frame)
    m = canvas.margin
    height = legend_height(canvas, frame.buttons) if with_legend else 0
    if not height:
        return Box(m, top + m, canvas.w - 2 * m, canvas.h - top - 2 * m), None
    legend_box = Box(m, canvas.h - m - height, canvas.w - 2 * m, height)
    legend(canvas, frame.buttons, legend_box)
    return Box(m, top + m, canvas.w - 2 * m, legend_box.y - top - 2 * m), legend_box


def clerk_line(clerk: ClerkCard | None) -> str:
    return _("Clerk: {name}").format(name=clerk.name) if clerk else ""


# --- the frames ---------------------------------------------------------------------------
def draw_idle(canvas: Canvas, frame: Frame) -> None:
    body, legend_box = body_and_legend(canvas, frame, with_legend=True)
    m = canvas.margin
    url = frame.clerk.survey_url if frame.clerk else None
    text_box = body
    if url:
        # The QR takes the full height between the header and the legend: its own quiet
        # zone (white) is the margin, so it may touch both.
        top = body.y - m
        bottom = legend_box.y if legend_box else canvas.h
        side = min(bottom - top, body.w // 2)
        try:
            code = qr_fit(url, side)
        except ValueError:
            code = None  # a tiny screen and a long URL: no QR rather than a broken one
        if code is not None:
            x = canvas.w - code.width  # the quiet zone is wider than the margin
            canvas.image.paste(code.convert("RGB"), (x, top + (bottom - top - code.height) // 2))
            text_box = Box(body.x, body.y, x - body.x, body.h)
    texts = [Text(_("Clerk on duty"), 14, 10, fill=MUTED, max_lines=1)]
    if frame.clerk:
        texts += [
            Text(frame.clerk.name, 28, 14, bold=True, max_lines=2),
            Text(frame.clerk.title, 17, 10, max_lines=2, fill=MUTED),
        ]
    else:
        texts.append(Text(_("No clerk on duty"), 22, 12, bold=True))
    # At the bottom, fitted first so a long name cannot push them out: the caption of the
    # QR code and a notice for staff (a printer fault…).
    caption = _("Scan the code to rate in detail") + " →" if text_box.w < body.w else ""
    footer = column(
        canvas,
        [
            Text(frame.message, 14, 10, max_lines=2, fill=ALERT),
            Text(caption, 14, 10, max_lines=2, fill=HEADER),
        ],
        text_box.w,
        text_box.h // 2,
    )
    used = sum(block.height + canvas.spacing for block in footer if block.lines)
    canvas.stack(column(canvas, texts, text_box.w, text_box.h - used), text_box)
    canvas.stack(footer, Box(text_box.x, text_box.bottom - used + canvas.spacing, text_box.w, used))


NO_RECEIPT = N_("Your vote is recorded. No receipt can be printed now: staff have been told.")


def draw_thanks(canvas: Canvas, frame: Frame) -> None:
    """Thanks, keep the ticket, the receipt code. Never the level (promise 6)."""
    body, _legend = body_and_legend(canvas, frame, with_legend=False)
    texts = [
        Text(_("Thank you!"), 46, 20, bold=True, max_lines=2, fill=HEADER),
        Text(
            _("Please keep your ticket.") if frame.receipt_code else _(NO_RECEIPT),
            20,
            11,
            max_lines=3,
        ),  # (no code: a kiosk whose receipts the server would not honour)
    ]
    if frame.receipt_code:
        texts += [
            Text(_("Receipt code"), 15, 10, max_lines=1, fill=MUTED),
            Text(frame.receipt_code, 30, 12, bold=True, max_lines=1),
        ]
    canvas.stack(column(canvas, texts, body.w, body.h), body, align="center", middle=True)


def draw_armed(canvas: Canvas, frame: Frame) -> None:
    body, _legend = body_and_legend(canvas, frame, with_legend=True)
    texts = [
        Text(_("Please rate the service"), 36, 16, bold=True, max_lines=2, fill=HEADER),
        Text(clerk_line(frame.clerk), 18, 10, max_lines=2),
        Text(frame.message, 16, 10, max_lines=2, fill=MUTED),
    ]
    canvas.stack(column(canvas, texts, body.w, body.h), body, align="center", middle=True)


def draw_waiting(canvas: Canvas, frame: Frame) -> None:
    body, _legend = body_and_legend(canvas, frame, with_legend=False)
    texts = [
        Text(
            _("Please wait for the clerk to confirm"), 32, 14, bold=True, max_lines=3, fill=HEADER
        ),
        Text(_("The buttons work once the clerk confirms the service."), 17, 10, max_lines=3),
        Text(clerk_line(frame.clerk), 17, 10, max_lines=2, fill=MUTED),
        Text(frame.message, 15, 10, max_lines=2, fill=MUTED),
    ]
    canvas.stack(column(canvas, texts, body.w, body.h), body, align="center", middle=True)


def draw_refused(canvas: Canvas, frame: Frame) -> None:
    """A press that was not counted, and why (never the previous citizen's receipt)."""
    body, _legend = body_and_legend(canvas, frame, with_legend=False)
    texts = [
        Text(_("This press was not counted"), 32, 14, bold=True, max_lines=2, fill=ALERT),
        Text(frame.message, 20, 11, max_lines=4),
    ]
    canvas.stack(column(canvas, texts, body.w, body.h), body, align="center", middle=True)


def draw_clerk_select(canvas: Canvas, frame: Frame) -> None:
    """The roster, a window of it around the selected clerk when it is long."""
    body, _legend = body_and_legend(canvas, frame, with_legend=False)
    clerks = frame.clerks
    selected = min(max(frame.selected, 0), len(clerks) - 1) if clerks else -1
    pad = canvas.px(4, 2)
    name_size, title_size = canvas.px(16, 9), canvas.px(11, 8)
    # A row: padding, the name, half a padding, the title, padding; then a gap of padding.
    row = line_metrics(name_size, True).height + line_metrics(title_size).height + 3 * pad
    position = fit(
        f"{selected + 1}/{len(clerks)}",
        body.w // 4,
        body.h,
        canvas.px(13, 8),
        canvas.px(10, 8),
        max_lines=1,
        fill=MUTED,
    )
    beside = position.width + canvas.spacing
    title, message = column(
        canvas,
        [
            Text(_("Choose the clerk on duty"), 20, 12, bold=True, max_lines=1, fill=HEADER),
            Text(frame.message, 14, 10, max_lines=2, fill=MUTED),
        ],
        body.w - beside,
        body.h - row,
    )
    top = body.y + (title.height + canvas.spacing if title.lines else 0)
    bottom = body.bottom - (message.height + canvas.spacing if message.lines else 0)
    visible = max(1, (bottom - top + pad) // row)
    canvas.text(title, body.x, body.y, body.w - beside)
    if len(clerks) > visible:  # say where in the roster this window is
        canvas.text(position, body.x, body.y + title.height - position.height, body.w, "right")
    canvas.text(message, body.x, body.bottom - message.height, body.w)
    first = min(max(0, selected - visible // 2), max(0, len(clerks) - visible))
    inner = body.w - 2 * pad
    for index in range(first, min(len(clerks), first + visible)):
        clerk, y = clerks[index], top + (index - first) * row
        if index == selected:
            canvas.draw.rounded_rectangle(
                (body.x, y, body.right - 1, y + row - pad - 1),
                radius=canvas.px(6, 2),
                fill=HIGHLIGHT,
                outline=HEADER,
                width=canvas.px(2, 1),
            )
        name = fit(clerk.name, inner, row, name_size, name_size, bold=True, max_lines=1)
        role = fit(clerk.title, inner, row, title_size, title_size, max_lines=1, fill=MUTED)
        canvas.text(name, body.x + pad, y + pad, inner)
        canvas.text(role, body.x + pad, y + pad + name.height + pad // 2, inner)


def draw_out_of_service(canvas: Canvas, frame: Frame) -> None:
    body, _legend = body_and_legend(canvas, frame, with_legend=False)
    texts = [
        Text(_("Out of service"), 38, 16, bold=True, max_lines=2, fill=ALERT),
        Text(frame.message, 18, 10, max_lines=5),
    ]
    canvas.stack(column(canvas, texts, body.w, body.h), body, align="center", middle=True)


def draw_test(canvas: Canvas, frame: Frame) -> None:
    """Colour bars, a grey ramp, the hardest Vietnamese marks, the legend and a 1-pixel
    border (a missing edge shows overscan or a wrong geometry)."""
    body, _legend = body_and_legend(canvas, frame, with_legend=True)
    title, sample = column(
        canvas,
        [
            Text(_("Screen test") + f" {canvas.w}×{canvas.h}", 18, 10, bold=True, max_lines=1),
            Text(VIETNAMESE_SAMPLE, 18, 10, max_lines=2),
        ],
        body.w,
        body.h // 2,
    )
    y = canvas.stack([title], body)
    bars_top = y + canvas.spacing
    bars_bottom = body.bottom - sample.height - canvas.spacing
    ramp = max(2, (bars_bottom - bars_top) // 4)
    bars: list[RGB] = [
        (255, 255, 255),
        (255, 255, 0),
        (0, 255, 255),
        (0, 255, 0),
        (255, 0, 255),
        (255, 0, 0),
        (0, 0, 255),
        (0, 0, 0),
    ]
    steps = len(bars)
    for index, colour in enumerate(bars):
        left = body.x + body.w * index // steps
        right = body.x + body.w * (index + 1) // steps - 1
        canvas.draw.rectangle((left, bars_top, right, bars_bottom - ramp - 1), fill=colour)
        grey = round(255 * index / (steps - 1))
        canvas.draw.rectangle(
            (left, bars_bottom - ramp, right, bars_bottom - 1), fill=(grey, grey, grey)
        )
    canvas.draw.rectangle((body.x, bars_top, body.right - 1, bars_bottom - 1), outline=OUTLINE)
    canvas.text(sample, body.x, body.bottom - sample.height, body.w)
    canvas.draw.rectangle((0, 0, canvas.w - 1, canvas.h - 1), outline=(255, 0, 255))


DRAW: dict[FrameKind, Callable[[Canvas, Frame], None]] = {
    FrameKind.IDLE: draw_idle,
    FrameKind.THANKS: draw_thanks,
    FrameKind.ARMED: draw_armed,
    FrameKind.WAITING: draw_waiting,
    FrameKind.REFUSED: draw_refused,
    FrameKind.CLERK_SELECT: draw_clerk_select,
    FrameKind.OUT_OF_SERVICE: draw_out_of_service,
    FrameKind.TEST: draw_test,
}


def render_frame(frame: Frame, width: int, height: int) -> Image.Image:
    """``frame`` drawn at ``width`` x ``height`` (the upright picture; the screen back-end
    rotates and scales it to the panel)."""
    if width < 16 or height < 16:
        raise ValueError(f"a screen of {width}x{height} is too small to draw on")
    canvas = Canvas(width, height)
    DRAW[frame.kind](canvas, frame)
    return canvas.image
