"""The fonts that draw Vietnamese on the screen and on paper.

DejaVu Sans ships with the project (``hom_phieu/render/fonts``, its licence beside it): it covers
every Vietnamese letter with its tone marks, and shipping it makes the screen and the
tickets look the same on every machine (and keeps golden-image tests stable). The files are
subsets (Latin, Vietnamese, punctuation, arrows, mathematical signs, shapes; outlines, hinting
and layout tables kept whole): FreeType holds a face's whole file for each size opened, and the
full fonts cost a kiosk 0.7 MiB per size. Made with fontTools from DejaVu Sans 2.37::

    pyftsubset DejaVuSans.ttf --layout-features='*' --glyph-names --symbol-cmap \
      --legacy-cmap --notdef-glyph --notdef-outline --recommended-glyphs --name-IDs='*' \
      --name-languages='*' --name-legacy --hinting --legacy-kern --unicodes=U+0020-007E,\
    U+00A0-024F,U+02B0-02FF,U+0300-036F,U+1E00-1EFF,U+2000-206F,U+20A0-20CF,U+2100-214F,\
    U+2190-21FF,U+2200-22FF,U+25A0-25FF,U+2713-2718,U+FFFD

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


def _open(size: int, bold: bool) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(BOLD if bold else REGULAR), size)


@cache
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans at ``size`` pixels."""
    return _open(size, bold)


@dataclass(frozen=True, slots=True)
class LineMetrics:
    top: int  # offset to draw at so the highest mark is not clipped (usually ≤ 0)
    height: int  # the full line box, tallest mark to deepest descender


@cache
def line_metrics(size: int, bold: bool = False) -> LineMetrics:
    """The box every line of this font needs so no Vietnamese mark is cut off."""
    # A size only measured (the smallest a layout may shrink to) is not kept open: each face
    # holds its own mapping of the whole file (~0.2 MiB resident), drawn or not.
    face = _open(size, bold)
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
