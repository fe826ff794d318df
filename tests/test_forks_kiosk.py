"""A kiosk whose chain the server refuses for good (a copied or restored card: the
``equivocation`` answer) keeps recording votes, prints no receipt it cannot honour, tells
citizens their vote is recorded, tells staff to call the technician, and reports it in its
health; printing resumes once a push goes through again."""

from __future__ import annotations

from pathlib import Path

from hom_phieu.clock import FakeClock
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Kind
from hom_phieu.protocol.models import HealthReport
from hom_phieu.render.views import FrameKind, Ticket
from kiosk.loop_events import Accepted, Refused
from tests.daemon_helpers import DaemonRig

FORKED = Refused("equivocation", "device signed two different records numbered 7", 7)


def test_a_forked_kiosk_records_votes_but_prints_no_receipt(tmp_path: Path, key: DeviceKey) -> None:
    rig = DaemonRig(tmp_path / "ledger.sqlite3", key, FakeClock.at("2026-11-20T09:00:00"))
    printed: list[object] = []
    rig.kiosk.printing.submit = printed.append  # what reaches the printer
    try:
        rig.press()
        assert [type(view) for view in printed] == [Ticket]
        rig.kiosk.on_refusal(FORKED)
        rig.step(10)
        assert "record 7" in rig.kiosk.current_frame.message  # staff see it at once
        assert "technician" in rig.kiosk.server.fault
        # the server hears of it one way only: the sync thread's refused fields
        health = rig.kiosk.health()
        assert set(health) <= set(HealthReport().to_json())  # (no second key for it)
        assert HealthReport.from_json(health).refused is None  # (filled by the sync thread)
        rig.press("hai_long")
        assert len(rig.records(Kind.VOTE)) == 2  # recorded, durably
        assert [type(view) for view in printed] == [Ticket]  # but no receipt printed
        rig.kiosk.on_refusal(FORKED)
        rig.kiosk.pump()
        pin = rig.kiosk.controls.buttons["hai_long"].pin
        pin.drive_low()
        rig.step(120)
        pin.drive_high()
        rig.step(40)
        frame = rig.kiosk.current_frame
        assert frame.kind is FrameKind.THANKS and frame.receipt_code == ""
        assert FrameKind.THANKS and not frame.message  # (the screen says: recorded, no receipt)
        rig.step(5_000)
        rig.kiosk.on_refusal(Accepted())  # recovered: a new identity's pushes go through
        rig.press()
        assert [type(view) for view in printed] == [Ticket, Ticket]
        assert rig.kiosk.server.fault is None
    finally:
        rig.close()
