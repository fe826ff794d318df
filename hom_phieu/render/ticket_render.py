"""Tickets and slips as 1-bit images, ready for a thermal printer (pure Pillow, no I/O).

Printers cannot be trusted with Vietnamese text (python-escpos' encoder turns many letters
into ``?`` on the common 58 mm printers), so everything is drawn here with DejaVu Sans and
printed as one raster image. Text is drawn anti-aliased and then thresholded (no dithering)
with the cut-off biased towards black: strokes come out a little heavier than FreeType's
monochrome rendering, which fades on thermal paper, and the small hooks and dots of the tone
marks stay whole. Line boxes come from :func:`hom_phieu.render.fonts.line_metrics` so stacked marks
on capitals (Ễ, Ặ) are never clipped.

A ticket never shows the level: :class:`hom_phieu.render.views.Ticket` has no field for it.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

from hom_phieu.i18n import _
from hom_phieu.render.fonts import font, line_metrics, text_width, wrap
from hom_phieu.render.qr import qr_fit
from hom_phieu.render.views import Slip, Ticket

PAPER_WIDTH_PX = {58: 384, 80: 576}  # printable dots at 203 dpi
BASE_WIDTH = 384  # sizes below are for 58 mm paper and scale with the width
WHITE, BLACK = 255, 0
THRESHOLD = 160  # grey at or above is paper; below, a dot (biased to black: bolder strokes)
_CANVAS_HEIGHT = 6000  # drawn on a tall sheet, cropped to what was used


class _Sheet:
    """A strip of paper that text, rules and pictures are stacked on, top to bottom."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.scale = width / BASE_WIDTH
        self.margin = self.px(8)
        self.image = Image.new("L", (width, _CANVAS_HEIGHT), WHITE)
        self.draw = ImageDraw.Draw(self.image)
        self.y = self.px(8)

    def px(self, size: float) -> int:
        return max(1, round(size * self.scale))

    @property
    def inner(self) -> int:
        return self.width - 2 * self.margin

    def space(self, size: float) -> None:
        self.y += self.px(size)

    def line(self, text: str, size: int, *, bold: bool = False, align: str = "center") -> None:
        """One line of text (the caller made sure it fits)."""
        metrics = line_metrics(size, bold)
        width = text_width(text, size, bold)
        if align == "center":
            x = (self.width - width) // 2
        elif align == "right":
            x = self.width - self.margin - width
        else:
            x = self.margin
        self.draw.text((x, self.y - metrics.top), text, font=font(size, bold), fill=BLACK)
        self.y += metrics.height

    def paragraph(self, text: str, size: float, *, bold: bool = False, gap: float = 2) -> None:
        """``text`` centred, wrapped to the paper width."""
        pixels = self.px(size)
        for line in wrap(text, pixels, self.inner, bold):
            self.line(line, pixels, bold=bold)
            self.y += self.px(gap)

    def fitted(self, text: str, size: float, *, bold: bool = False) -> None:
        """``text`` on one centred line, made smaller until it fits."""
        pixels = self.px(size)
        while pixels > 8 and text_width(text, pixels, bold) > self.inner:
            pixels -= 1
        self.line(text, pixels, bold=bold)

    def spaced(self, text: str, size: float) -> None:
        """``text`` in bold with every character in a cell of the same width, like a
        monospaced font: a receipt code is read (and typed) character by character."""
        pixels = self.px(size)

        def cells(p: int) -> list[int]:
            full = max(text_width(c, p, True) for c in text) + p // 8
            return [full if c.isalnum() else full // 2 for c in text]

        while pixels > 8 and sum(cells(pixels)) > self.inner:
            pixels -= 1
        metrics, face, steps = line_metrics(pixels, True), font(pixels, True), cells(pixels)
        x = (self.width - sum(steps)) // 2
        for char, step in zip(text, steps, strict=True):
            left = x + (step - text_width(char, pixels, True)) // 2
            self.draw.text((left, self.y - metrics.top), char, font=face, fill=BLACK)
            x += step
        self.y += metrics.height

    def rule(self, dashed: bool = False) -> None:
        self.space(6)
        thickness = self.px(2)
        if dashed:
            dash = self.px(8)
            for x in range(self.margin, self.width - self.margin, 2 * dash):
                right = min(x + dash, self.width - self.margin) - 1
                self.draw.rectangle((x, self.y, right, self.y + thickness - 1), fill=BLACK)
        else:
            box = (self.margin, self.y, self.width - self.margin - 1, self.y + thickness - 1)
            self.draw.rectangle(box, fill=BLACK)
        self.y += thickness
        self.space(8)

    def picture(self, picture: Image.Image) -> None:
        self.image.paste(picture.convert("L"), ((self.width - picture.width) // 2, self.y))
        self.y += picture.height

    def finish(self) -> Image.Image:
        """The used part of the sheet as a mode ``"1"`` image, plain black and white."""
        self.space(8)
        used = self.image.crop((0, 0, self.width, self.y))
        return used.point(lambda v: WHITE if v >= THRESHOLD else BLACK).convert("1", dither=None)


def date_time_text(date_text: str, time_text: str) -> str:
    """``Ngày 22/11/2026 lúc 08:15``."""
    return _("Date {date} at {time}").format(date=date_text, time=time_text)


def render_ticket(ticket: Ticket, width_px: int) -> Image.Image:
    """The receipt ticket: where, who served, when, thanks, the receipt code, the survey QR
    and the public page where the code is checked."""
    sheet = _Sheet(width_px)
    sheet.paragraph(ticket.office, 22, bold=True)
    sheet.paragraph(ticket.counter, 20)
    sheet.rule()
    sheet.paragraph(ticket.clerk_name, 22, bold=True)
    if ticket.clerk_title:
        sheet.paragraph(ticket.clerk_title, 18)
    sheet.space(4)
    sheet.paragraph(date_time_text(ticket.date_text, ticket.time_text), 18)
    if ticket.time_unsure:
        sheet.paragraph(_("The time on this ticket was not synchronised"), 17)
    sheet.space(10)
    sheet.paragraph(_("Thank you, sir or madam!"), 30, bold=True)
    sheet.rule(dashed=True)
    sheet.paragraph(_("Receipt code"), 18)
    sheet.space(2)
    sheet.spaced(ticket.receipt_code, 34)
    if ticket.survey_url:
        sheet.rule(dashed=True)
        sheet.paragraph(_("Scan the code to rate in detail"), 18)
        sheet.picture(qr_fit(ticket.survey_url, min(sheet.inner, sheet.px(240))))
    if ticket.receipt_check:
        if ticket.survey_url:  # beside the survey's QR: the same strip of the ticket
            sheet.space(6)
        else:
            sheet.rule(dashed=True)
        sheet.paragraph(_("Check the receipt code at"), 17)
        sheet.fitted(ticket.receipt_check, 18, bold=True)  # an address: one line, never cut
    return sheet.finish()


def render_slip(slip: Slip, width_px: int) -> Image.Image:
    """A box slip (seal or zero report): title, where, label/value lines, when."""
    sheet = _Sheet(width_px)
    sheet.paragraph(slip.title, 24, bold=True)
    sheet.space(4)
    sheet.paragraph(slip.office, 20, bold=True)
    sheet.paragraph(slip.counter, 18)
    sheet.rule()
    size = sheet.px(18)
    for label, value in slip.lines:
        joined = f"{label}: {value}"
        if text_width(joined, size, True) <= sheet.inner:
            _label_value(sheet, label, value, size)
        else:  # too long for one line: the label, then the value wrapped under it
            for line in wrap(f"{label}:", size, sheet.inner):
                sheet.line(line, size, align="left")
            for line in wrap(value, size, sheet.inner, True):
                sheet.line(line, size, bold=True, align="right")
        sheet.space(4)
    sheet.rule()
    sheet.paragraph(date_time_text(slip.date_text, slip.time_text), 18)
    return sheet.finish()


def _label_value(sheet: _Sheet, label: str, value: str, size: int) -> None:
    """``label:`` on the left and ``value`` in bold on the right, on one baseline."""
    regular, bold = line_metrics(size), line_metrics(size, True)
    top = min(regular.top, bold.top)
    y = sheet.y - top
    sheet.draw.text((sheet.margin, y), f"{label}:", font=font(size), fill=BLACK)
    x = sheet.width - sheet.margin - text_width(value, size, True)
    sheet.draw.text((x, y), value, font=font(size, True), fill=BLACK)
    sheet.y += max(regular.top + regular.height, bold.top + bold.height) - top
