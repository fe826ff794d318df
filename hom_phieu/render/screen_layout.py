"""Laying text out on a screen frame: colours, boxes, and text fitted to its room.

Every layout is computed from the frame size (designed at 480x320, checked down to
320x240 and up to 800x480): a :class:`Canvas` scales the sizes given for 480x320, so one
set of code serves an HDMI monitor and a small SPI panel. Text is never allowed to
overflow: :func:`fit` wraps long office or clerk names, then shrinks them, and as a last
resort cuts them with "…". Lines are drawn at ``y - line_metrics().top`` so the stacked
marks of Vietnamese capitals (Ễ, Ệ, Ỹ) are never clipped. The frames themselves are
:mod:`hom_phieu.render.screen_frames`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from PIL import Image, ImageDraw

from hom_phieu.render.fonts import font, line_metrics, text_width, wrap

RGB = tuple[int, int, int]
Align = Literal["left", "center", "right"]

BACKGROUND: RGB = (255, 255, 255)
INK: RGB = (22, 27, 36)
MUTED: RGB = (84, 92, 105)
HEADER: RGB = (0, 72, 140)  # the band with office and counter
HEADER_INK: RGB = (255, 255, 255)
HEADER_MUTED: RGB = (200, 220, 240)
ALERT: RGB = (190, 30, 45)
HIGHLIGHT: RGB = (255, 228, 140)
OUTLINE: RGB = (40, 40, 40)
ELLIPSIS = "…"

# The colours of the physical buttons (config: green, yellow… or #rrggbb).
COLOURS: dict[str, RGB] = {
    "green": (40, 167, 69),
    "yellow": (255, 193, 7),
    "orange": (253, 126, 20),
    "red": (220, 53, 69),
    "blue": (13, 110, 253),
    "white": (255, 255, 255),
}
UNKNOWN_COLOUR: RGB = (160, 160, 160)


def colour_rgb(colour: str) -> RGB:
    """A button colour from the configuration as RGB (grey if it cannot be read)."""
    named = COLOURS.get(colour.strip().lower())
    if named is not None:
        return named
    digits = colour.strip().removeprefix("#")
    if len(digits) == 6:
        try:
            value = int(digits, 16)
        except ValueError:
            return UNKNOWN_COLOUR
        return (value >> 16, (value >> 8) & 0xFF, value & 0xFF)
    return UNKNOWN_COLOUR


def ink_on(background: RGB) -> RGB:
    """Dark or white text, whichever reads better on ``background``."""
    red, green, blue = background
    return INK if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else (255, 255, 255)


# --- text blocks --------------------------------------------------------------------------
class Box(NamedTuple):
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h


@dataclass(frozen=True, slots=True)
class Block:
    """Lines of text already broken to a width, at one size."""

    lines: tuple[str, ...]
    size: int
    bold: bool = False
    fill: RGB = INK

    @property
    def gap(self) -> int:
        return max(1, self.size // 6)

    @property
    def height(self) -> int:
        if not self.lines:
            return 0
        count = len(self.lines)
        return count * line_metrics(self.size, self.bold).height + (count - 1) * self.gap

    @property
    def width(self) -> int:
        return max((text_width(line, self.size, self.bold) for line in self.lines), default=0)


def _ellipsize(line: str, size: int, width: int, bold: bool) -> str:
    while line and text_width(line + ELLIPSIS, size, bold) > width:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS


def fit(
    text: str,
    width: int,
    height: int,
    max_size: int,
    min_size: int,
    *,
    bold: bool = False,
    max_lines: int = 2,
    fill: RGB = INK,
) -> Block:
    """``text`` at the largest size from ``max_size`` down to ``min_size`` that fits in
    ``max_lines`` lines of ``width`` and in ``height``; if none does, the smallest size cut
    with "…". An empty block when the text is empty or not even one line fits.

    A slightly smaller size (down to 85 %) is taken when it saves a line, so a title does
    not leave one word alone on its second line."""
    text = text.strip()
    min_size = min(min_size, max_size)
    if not text or width <= 0 or line_metrics(min_size, bold).height > height:
        return Block((), min_size, bold, fill)
    found: Block | None = None
    for size in range(max_size, min_size - 1, -1):
        block = Block(tuple(wrap(text, size, width, bold)), size, bold, fill)
        if len(block.lines) > max_lines or block.height > height:
            continue
        if found is None:
            found = block
        elif len(block.lines) < len(found.lines):
            return block
        if len(found.lines) == 1 or size < found.size * 0.85:
            return found
    if found is not None:
        return found
    lines = wrap(text, min_size, width, bold)
    probe = Block(("",), min_size, bold, fill)
    room = (height + probe.gap) // (probe.height + probe.gap)
    keep = max(1, min(max_lines, room))
    if len(lines) > keep:
        lines = [*lines[: keep - 1], _ellipsize(lines[keep - 1], min_size, width, bold)]
    return Block(tuple(lines), min_size, bold, fill)


# --- the canvas ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Text:
    """What to fit: the text and how big it may be (sizes for 480x320)."""

    text: str
    max_size: float
    min_size: float
    bold: bool = False
    max_lines: int = 2
    fill: RGB = INK


class Canvas:
    """An image with the frame's scale: sizes are given for 480x320 and scaled."""

    def __init__(self, width: int, height: int) -> None:
        self.image = Image.new("RGB", (width, height), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)
        self.w, self.h = width, height
        self.scale = min(width / 480, height / 320)
        self.margin = self.px(10, 4)
        self.spacing = self.px(6, 2)

    def px(self, base: float, low: int = 1) -> int:
        return max(low, round(base * self.scale))

    def fit(self, item: Text, width: int, height: int) -> Block:
        """:func:`fit` with the sizes of ``item`` scaled to this frame (8 px at least)."""
        return fit(
            item.text,
            width,
            height,
            self.px(item.max_size, 8),
            self.px(item.min_size, 8),
            bold=item.bold,
            max_lines=item.max_lines,
            fill=item.fill,
        )

    def text(self, block: Block, x: int, y: int, width: int, align: Align = "left") -> None:
        metrics = line_metrics(block.size, block.bold)
        face = font(block.size, block.bold)
        for line in block.lines:
            left = x
            if align != "left":
                spare = width - text_width(line, block.size, block.bold)
                left += spare if align == "right" else spare // 2
            self.draw.text((left, y - metrics.top), line, font=face, fill=block.fill)
            y += metrics.height + block.gap

    def stack(
        self, blocks: Sequence[Block], box: Box, *, align: Align = "left", middle: bool = False
    ) -> int:
        """Draw ``blocks`` one under the other in ``box``; return the y under the last."""
        shown = [block for block in blocks if block.lines]
        total = sum(block.height for block in shown) + self.spacing * max(0, len(shown) - 1)
        y = box.y + max(0, (box.h - total) // 2) if middle else box.y
        for block in shown:
            self.text(block, box.x, y, box.w, align)
            y += block.height + self.spacing
        return y - self.spacing if shown else box.y


def column(canvas: Canvas, texts: Sequence[Text], width: int, height: int) -> list[Block]:
    """Fit ``texts`` one under the other into ``height``, the first ones first: what comes
    last is shrunk, cut or left out when room runs short."""
    blocks: list[Block] = []
    room = height
    for item in texts:
        block = canvas.fit(item, width, room)
        blocks.append(block)
        if block.lines:
            room -= block.height + canvas.spacing
    return blocks
