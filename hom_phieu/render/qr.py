"""QR codes as Pillow images, for the screen and the ticket printer.

Each module is drawn as a square of whole pixels (no resampling, so no grey edges that a
phone or a thermal head would blur) with the standard quiet zone of 4 modules around it.
Error correction M: a smudged screen or a faded ticket still reads.
"""

from __future__ import annotations

import base64
import io
from functools import lru_cache

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE = 4  # modules; ISO/IEC 18004 asks for 4


@lru_cache(maxsize=32)
def _matrix(data: str, border: int) -> tuple[tuple[bool, ...], ...]:
    # Cached: choosing the mask is most of the cost of a screen frame or a ticket, and a
    # kiosk draws the same few clerks' URLs again and again.
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=border)
    code.add_data(data)
    code.make(fit=True)
    return tuple(map(tuple, code.get_matrix()))  # True = dark, the quiet zone included


def qr_modules(data: str, border: int = QUIET_ZONE) -> int:
    """The side of the symbol in modules, quiet zone included."""
    return len(_matrix(data, border))


def qr_image(data: str, *, box_size: int, border: int = QUIET_ZONE) -> Image.Image:
    """``data`` as a 1-bit QR code, ``box_size`` pixels per module, ``border`` modules of
    white around it."""
    if box_size < 1:
        raise ValueError(f"box_size must be at least 1 pixel, not {box_size}")
    if border < 0:
        raise ValueError(f"border must not be negative, not {border}")
    matrix = _matrix(data, border)
    side = len(matrix)
    image = Image.new("1", (side, side), 1)
    image.putdata([0 if dark else 1 for row in matrix for dark in row])
    if box_size == 1:
        return image
    return image.resize((side * box_size, side * box_size), Image.Resampling.NEAREST)


def qr_data_url(data: str, *, box_size: int) -> str:
    """``data`` as a QR code in a PNG data URL, for a page that loads nothing from elsewhere."""
    buffer = io.BytesIO()
    qr_image(data, box_size=box_size).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def qr_fit(data: str, max_px: int, *, border: int = QUIET_ZONE) -> Image.Image:
    """The largest QR code of ``data`` (whole pixels per module) that fits in a square of
    ``max_px``. Raises ValueError when not even 1 pixel per module fits."""
    side = qr_modules(data, border)
    box_size = max_px // side
    if box_size < 1:
        raise ValueError(f"a QR code of {side} modules does not fit in {max_px} pixels")
    return qr_image(data, box_size=box_size, border=border)
