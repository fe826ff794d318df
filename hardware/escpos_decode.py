"""Read ESC/POS bytes back: the images, text, QR payloads and cuts a printer would produce.

Small on purpose: it knows the commands python-escpos emits (and the common ones around
them), which is what the tests and the simulator's ticket images need. Anything it cannot
parse is kept in ``unknown`` rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from PIL import Image

ESC, GS, FS, DLE, LF = 0x1B, 0x1D, 0x1C, 0x10, 0x0A
# Commands with a fixed number of argument bytes after the command letter.
ESC_ARGS = {
    "@": 0, "2": 0, "i": 0, "m": 0, "<": 0,
    "!": 1, "-": 1, "3": 1, "E": 1, "G": 1, "J": 1, "M": 1, "R": 1, "V": 1, "a": 1, "c": 2,
    "d": 1, "e": 1, "r": 1, "t": 1, "{": 1, " ": 1, "U": 1, "$": 2, "\\": 2, "p": 3,
}  # fmt: skip
GS_ARGS = {"!": 1, "B": 1, "H": 1, "I": 1, "a": 1, "b": 1, "f": 1, "h": 1, "r": 1, "w": 1,
           "L": 2, "W": 2, "P": 2, "$": 2, "\\": 2}  # fmt: skip
CUT_WITH_FEED = {65, 66, 97, 98, 103, 104}  # GS V m n; other m have no n
# ESC t numbers as most Epson-compatible printers assign them; pass ``code_pages`` to
# :func:`decode` for a printer that numbers them differently.
EPSON_CODE_PAGES = {0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252",
                    17: "cp866", 18: "cp852", 19: "cp858"}  # fmt: skip


@dataclass
class Decoded:
    images: list[Image.Image] = field(default_factory=list)  # mode "1", black = printed
    text: str = ""
    cuts: int = 0
    qr_payloads: list[str] = field(default_factory=list)
    unknown: list[bytes] = field(default_factory=list)


class _Reader:
    def __init__(self, data: bytes, code_pages: Mapping[int, str]) -> None:
        self.data, self.at, self.code_pages = data, 0, code_pages
        self.out = Decoded()
        self.text: list[str] = []
        self.codec = code_pages.get(0, "cp437")
        self.bands: list[Image.Image] = []  # ESC * strips of the column image being read
        self.graphic: Image.Image | None = None  # GS ( L stored, not yet printed

    def take(self, count: int) -> bytes:
        if self.at + count > len(self.data):
            raise EOFError
        chunk = self.data[self.at : self.at + count]
        self.at += count
        return chunk

    def number(self, count: int) -> int:
        return int.from_bytes(self.take(count), "little")

    def run(self) -> Decoded:
        while self.at < len(self.data):
            start = self.at
            try:
                self.step()
            except EOFError:
                self.out.unknown.append(self.data[start:])
                break
        self.flush_bands()
        self.out.text = "".join(self.text)
        return self.out

    def step(self) -> None:
        byte = self.data[self.at]
        if byte >= 0x20 and byte != 0x7F:
            end = self.at
            while end < len(self.data) and self.data[end] >= 0x20 and self.data[end] != 0x7F:
                end += 1
            self.flush_bands()
            chunk = self.take(end - self.at)
            self.text.append(chunk.decode(self.codec, errors="replace"))
        elif byte == ESC:
            self.esc()
        elif byte == GS:
            self.flush_bands()
            self.gs()
        elif byte == LF:
            self.at += 1
            if not self.bands:
                self.text.append("\n")
        elif byte in (0x0D, 0x07, 0x00):  # CR, bell, padding
            self.at += 1
        elif byte == DLE:  # DLE EOT n / DLE ENQ n: status requests
            self.flush_bands()
            self.out.unknown.append(self.take(3))
        else:
            self.flush_bands()
            self.out.unknown.append(self.take(2 if byte == FS else 1))

    def esc(self) -> None:
        start = self.at
        command = chr(self.take(2)[1])
        if command == "*":
            self.column_band()
            return
        if command not in ("3", "2"):  # line spacing belongs to a column image
            self.flush_bands()
        if command not in ESC_ARGS:
            self.out.unknown.append(self.data[start : self.at])
            return
        args = self.take(ESC_ARGS[command])
        if command == "@":
            self.codec = self.code_pages.get(0, "cp437")
        elif command == "t":
            self.codec = self.code_pages.get(args[0], "cp437")
        elif command in "im":
            self.out.cuts += 1

    def gs(self) -> None:
        start = self.at
        command = chr(self.take(2)[1])
        if command == "V":
            mode = self.take(1)[0]
            if mode in CUT_WITH_FEED:
                self.take(1)
            self.out.cuts += 1
        elif command == "v":
            self.take(1)  # "0"
            self.take(1)  # density
            width_bytes, height = self.number(2), self.number(2)
            pixels = self.take(width_bytes * height)
            self.out.images.append(_raster(pixels, width_bytes, height))
        elif command == "(":
            kind = chr(self.take(1)[0])
            self.function(kind, self.take(self.number(2)), start)
        elif command == "8" and chr(self.take(1)[0]) == "L":
            self.function("L", self.take(self.number(4)), start)
        elif command == "k":
            self.barcode(start)
        elif command in GS_ARGS:
            self.take(GS_ARGS[command])
        else:
            self.out.unknown.append(self.data[start : self.at])

    def function(self, kind: str, body: bytes, start: int) -> None:
        """``GS ( k`` (2D codes) and ``GS ( L`` / ``GS 8 L`` (graphics)."""
        if kind == "k" and len(body) >= 3 and body[0] == 49:  # QR code
            if body[1] == 80:  # store the data (body[2] is "0")
                payload = body[3:]
                try:
                    self.out.qr_payloads.append(payload.decode("utf-8"))
                except UnicodeDecodeError:
                    self.out.qr_payloads.append(payload.decode("latin-1"))
            return  # model, size, error correction, print: nothing to keep
        if kind == "L" and len(body) >= 2:
            if body[1] == 112 and len(body) >= 10 and body[2] == 48:  # store raster graphics
                width = int.from_bytes(body[6:8], "little")
                height = int.from_bytes(body[8:10], "little")
                if len(body) - 10 >= (width + 7) // 8 * height:  # else a wrong length: unknown
                    self.graphic = _raster(body[10:], (width + 7) // 8, height)
                    return
            if body[1] == 50:  # print the stored graphics
                if self.graphic is not None:
                    self.out.images.append(self.graphic)
                    self.graphic = None
                return
        self.out.unknown.append(self.data[start : self.at])

    def barcode(self, start: int) -> None:
        kind = self.take(1)[0]
        if kind <= 6:  # NUL-terminated data
            while self.take(1) != b"\x00":
                pass
        else:
            self.take(self.take(1)[0])
        self.out.unknown.append(self.data[start : self.at])

    def column_band(self) -> None:
        """``ESC * m nL nH d…``: a strip 8 (m 0, 1) or 24 (m 32, 33) dots high."""
        mode, columns = self.take(1)[0], self.number(2)
        rows = 24 if mode >= 32 else 8
        data = self.take(columns * rows // 8)
        band = Image.new("1", (columns, rows), 1)
        per_column = rows // 8
        for x in range(columns):
            for part in range(per_column):
                bits = data[x * per_column + part]
                for bit in range(8):
                    if bits & (0x80 >> bit):
                        band.putpixel((x, part * 8 + bit), 0)
        self.bands.append(band)

    def flush_bands(self) -> None:
        if not self.bands:
            return
        width = max(band.width for band in self.bands)
        image = Image.new("1", (width, sum(band.height for band in self.bands)), 1)
        y = 0
        for band in self.bands:
            image.paste(band, (0, y))
            y += band.height
        self.out.images.append(image)
        self.bands = []


def _raster(pixels: bytes, width_bytes: int, height: int) -> Image.Image:
    """A row-major bitmap, 1 bits printed (black), as a mode ``"1"`` image."""
    size = width_bytes * height
    return Image.frombytes("1", (width_bytes * 8, height), pixels[:size], "raw", "1;I")


def decode(data: bytes, code_pages: Mapping[int, str] | None = None) -> Decoded:
    """What ``data`` would print. ``code_pages`` maps ``ESC t`` numbers to Python codecs for
    the text (default: :data:`EPSON_CODE_PAGES`, cp437 for pages it does not know)."""
    return _Reader(data, EPSON_CODE_PAGES if code_pages is None else code_pages).run()


def page_image(decoded: Decoded) -> Image.Image | None:
    """The decoded images stacked top to bottom (python-escpos splits tall images into
    several raster commands), left-aligned on the widest; None if nothing was printed."""
    if not decoded.images:
        return None
    width = max(image.width for image in decoded.images)
    page = Image.new("1", (width, sum(image.height for image in decoded.images)), 1)
    y = 0
    for image in decoded.images:
        page.paste(image, (0, y))
        y += image.height
    return page
