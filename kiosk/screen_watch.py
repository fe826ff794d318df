"""The screen as the kiosk's loop uses it: faults written down, never raised.

A broken or missing screen must never stop the ballot box: :class:`WatchedDisplay` shows
each frame on the real :class:`~kiosk.ports.Display`, writes one ``screen_fault`` EVENT when
it starts failing and one ``screen_recovered`` when a frame shows again, and keeps the
fault (``fault``) for staff and the health report.
"""

from __future__ import annotations

from hom_phieu.ledger.events import EventType
from hom_phieu.render.views import Frame
from kiosk.ports import Display, RecordEvent


class WatchedDisplay:
    def __init__(self, display: Display, record_event: RecordEvent) -> None:
        self.display = display
        self._record_event = record_event
        self.fault: str | None = None  # what the screen last raised; None while it shows

    def show(self, frame: Frame) -> None:
        try:
            self.display.show(frame)
        except Exception as exc:  # whatever a back-end raises, votes go on
            if self.fault is None:
                self.fault = str(exc)
                self._record_event(EventType.SCREEN_FAULT, error=self.fault)
            return
        if self.fault is not None:
            self.fault = None
            self._record_event(EventType.SCREEN_RECOVERED)


__all__ = ["WatchedDisplay"]
