"""What the daemon draws and prints with: frames onto a screen, tickets onto paper.

Thin adapters between the daemon's views (``hom_phieu.render.views``) and the back-ends, so the
daemon never touches Pillow or python-escpos itself.
"""

from __future__ import annotations

from typing import Any

from hardware.printer import PrinterWorker, slip_data, ticket_data
from hardware.screen import Screen
from hom_phieu.render.screen_frames import render_frame
from hom_phieu.render.views import Frame, Slip, Ticket


class FrameDisplay:
    """Renders each frame at the screen's size and shows it."""

    def __init__(self, screen: Screen, width: int, height: int) -> None:
        self.screen = screen
        self.size = (width, height)

    def show(self, frame: Frame) -> None:
        self.screen.show(render_frame(frame, *self.size))

    @property
    def last_image(self) -> Any:
        return self.screen.last_frame

    def close(self) -> None:
        self.screen.close()


class TicketPrinter:
    """Queues tickets and slips on the printer thread, which draws and prints them."""

    def __init__(self, worker: PrinterWorker, config_printer: Any) -> None:
        self.worker = worker
        self.config = config_printer

    def submit(self, job_id: str, view: Ticket | Slip) -> None:
        draw = ticket_data if isinstance(view, Ticket) else slip_data
        self.worker.submit(job_id, lambda: draw(view, self.config))

    @property
    def status(self) -> Any:
        """The printer's :class:`hardware.printer.PrinterStatus` (a hanging write included)."""
        return self.worker.status

    def close(self) -> None:
        self.worker.close()
