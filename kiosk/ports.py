"""What the kiosk's loop hands its output to: the screen, the printer and the controls.

``hardware/`` implements them on a Pi, ``kiosk.simulation`` and the tests with files and
fakes; the loop (``kiosk.daemon``) knows only these shapes. Its helpers for the printer
(``kiosk.printing``) and the screen (``kiosk.screen_watch``) get :class:`RecordEvent`.
"""

from __future__ import annotations

from typing import Any, Protocol

from hom_phieu.ledger.events import EventType
from hom_phieu.ledger.records import Record
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


class RecordEvent(Protocol):
    """The loop's way of writing an EVENT: the record, or None when the ledger refused it
    (the kiosk is then out of service, and says so)."""

    def __call__(self, event_type: EventType, **detail: Any) -> Record | None: ...
