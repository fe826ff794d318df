"""The fonts that draw Vietnamese on the screen and on paper.

DejaVu Sans ships with the project (``hom_phieu/render/fonts``, its licence beside it): it covers
every Vietnamese letter with its tone marks, and shipping it makes the screen and the
tickets look the same on every machine (and keeps golden-image tests stable).

Vietnamese capitals carry stacked marks (Ễ, Ệ, Ỹ) that rise above the font's ascent, so
line boxes come from measured glyph boxes (:func:`line_metrics`), never from the font
size alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from PIL import ImageFont

FONT_DIR = Path(__file__).parent / "fonts"
REGULAR = FONT_DIR / "DejaVuSans.ttf"
BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
# The tallest and the deepest Vietnamese glyphs: stacked marks above, dot below.
TALLEST = "ỄỆỸỴẤẦẨẪẬẮẰẲẴẶÁÀẢÃ"
DEEPEST = "ỵỴặỆọụgjpqy"


@cache
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans at ``size`` pixels."""
    return ImageFont.truetype(str(BOLD if bold else REGULAR), size)


@dataclass(frozen=True, slots=True)
class LineMetrics:
    top: int  # offset to draw at so the highest mark is not clipped (usually ≤ 0)
    height: int  # the full line box, tallest mark to deepest descender


@cache
def line_metrics(size: int, bold: bool = False) -> LineMetrics:
    """The box every line of this font needs so no Vietnamese mark is cut off."""
    face = font(size, bold)
    top = face.getbbox(TALLEST)[1]
    bottom = face.getbbox(DEEPEST)[3]
    return LineMetrics(top=top, height=bottom - top)


def text_width(text: str, size: int, bold: bool = False) -> int:
    return int(font(size, bold).getlength(text))


def wrap(text: str, size: int, width: int, bold: bool = False) -> list[str]:
    """Break ``text`` at spaces so each line fits ``width`` pixels (long words split)."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if text_width(candidate, size, bold) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            while text_width(word, size, bold) > width and len(word) > 1:
                cut = len(word)
                while cut > 1 and text_width(word[:cut], size, bold) > width:
                    cut -= 1
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    return lines
