"""What the kiosk's loop hands its output to: the screen, the printer and the controls.

``hardware/`` implements them on a Pi, ``kiosk.simulation`` and the tests with files and
fakes; the loop (``kiosk.daemon``) knows only these shapes.
"""

from __future__ import annotations

from typing import Protocol

from hom_phieu.render.views import Frame, Slip, Ticket


class Display(Protocol):
    def show(self, frame: Frame) -> None: ...  # raises on a screen fault


class TicketSink(Protocol):
    def submit(self, job_id: str, view: Ticket | Slip) -> None: ...  # never blocks or raises


class ControlsLike(Protocol):
    def thank(self) -> None: ...
    def refuse(self) -> None: ...
    def show_status(self, healthy: bool, armed: bool = False) -> None: ...
    def close(self) -> None: ...
