"""What the citizen sees, as plain data: screen frames and tickets.

The daemon decides *what* to show (these objects); ``hardware/`` decides *how* to draw
and print it. No level is ever part of a ticket or of the thank-you frame, so nothing an
onlooker sees tells which button was pressed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FrameKind(StrEnum):
    IDLE = "idle"  # office, counter, clerk on duty with QR, the button legend
    THANKS = "thanks"  # "Cảm ơn ông/bà" after a committed vote
    ARMED = "armed"  # the clerk pressed "served": the citizen may vote now
    WAITING = "waiting"  # armed mode, not armed: wait for the clerk
    REFUSED = "refused"  # a press not counted (too soon, held, a burst): why, briefly
    CLERK_SELECT = "clerk_select"  # the clerk is choosing who is on duty
    OUT_OF_SERVICE = "out_of_service"  # votes cannot be taken: the reason, for staff
    TEST = "test"  # selftest pattern


@dataclass(frozen=True, slots=True)
class ClerkCard:
    id: str
    name: str  # "Nguyễn Thị Lan"
    title: str  # "Công chức một cửa"
    survey_url: str | None  # the per-clerk phone survey behind the QR code


@dataclass(frozen=True, slots=True)
class ButtonLegend:
    name: str
    label: str  # "Rất hài lòng"
    colour: str  # "green" or "#rrggbb", matching the physical button


@dataclass(frozen=True, slots=True)
class Frame:
    """One screen. Fields that a kind does not use are left at their defaults."""

    kind: FrameKind
    office: str
    counter: str
    clerk: ClerkCard | None = None
    buttons: tuple[ButtonLegend, ...] = ()
    message: str = ""  # out-of-service reason, armed countdown text…
    receipt_code: str = ""  # on the thank-you frame
    clerks: tuple[ClerkCard, ...] = ()  # clerk selection: the roster
    selected: int = 0  # clerk selection: the highlighted entry
    now_text: str = ""  # "22/11/2026 08:15", shown small; empty when the clock is unsure


@dataclass(frozen=True, slots=True)
class Ticket:
    """A receipt ticket. Never the level."""

    office: str
    counter: str
    clerk_name: str
    clerk_title: str
    date_text: str  # "22/11/2026"
    time_text: str  # "08:15"
    receipt_code: str  # "XZ4HF-BAJJE"
    survey_url: str | None  # QR for the detailed phone survey (single-use token later)
    time_unsure: bool = False  # printed as a note when the clock was not synchronised
    receipt_check: str | None = (
        None  # where to check the code: "hom-phieu.example.vn/public/receipt"
    )


@dataclass(frozen=True, slots=True)
class Slip:
    """A box slip: the CLOSE seal or the OPEN zero report printed at a month change, or the
    results slip of a box the committee has opened."""

    title: str  # "NIÊM PHONG HÒM PHIẾU THÁNG 11/2026"
    office: str
    counter: str
    lines: tuple[tuple[str, str], ...]  # label, value
    date_text: str
    time_text: str
