"""What the daemon draws and prints with: frames onto a screen, tickets onto paper.

Thin adapters between the daemon's views (``kiosk.views``) and the back-ends, so the
daemon never touches Pillow or python-escpos itself.
"""

from __future__ import annotations

import logging
from typing import Any

from hardware.printer import PrinterWorker, ResultCallback, slip_data, ticket_data
from hardware.screen import Screen
from hardware.screen_frames import render_frame
from kiosk.views import Frame, Slip, Ticket

log = logging.getLogger(__name__)


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
    """Turns tickets and slips into ESC/POS bytes and queues them on the printer thread."""

    def __init__(
        self, worker: PrinterWorker, config_printer: Any, on_result: ResultCallback
    ) -> None:
        self.worker = worker
        self.config = config_printer
        self._on_result = on_result

    def submit(self, job_id: str, view: Ticket | Slip) -> None:
        try:
            data = (
                ticket_data(view, self.config)
                if isinstance(view, Ticket)
                else slip_data(view, self.config)
            )
        except Exception as exc:  # a drawing fault must not reach the vote's path
            log.exception("could not render print job %s", job_id)
            self._on_result(job_id, False, str(exc))
            return
        self.worker.submit(job_id, data)

    def close(self) -> None:
        self.worker.close()
