"""The kiosk's clock: one bad reading must not move the box (issue 10).

Each test is an attack that moved a box before: a clock reading marked synchronised and
set to 2100-01-01 closed the month and opened box 2100-01 for good, the screen looking
normal; a kiosk already in such a box could never leave it. Now a trusted time that strays
far from monotonic time is not followed until the other witness (the server's signed time,
or this machine's clock) agrees; staff see a clock fault; the server flags records dated
ahead of its own time and counts their ballots in the month they arrived.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from hom_phieu.clock import FakeClock, parse_iso_ms
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Kind, Level, Record, TimeQuality
from hom_phieu.ledger.timing import Stamp
from hom_phieu.ledger.verify import verify_records
from hom_phieu.render.views import FrameKind
from kiosk.ledger_report import inspect_ledger
from kiosk.panel import create_panel_app
from tests.api_helpers import enroll, push, register, seed
from tests.daemon_helpers import DaemonRig
from web import db as web_db
from web.box_count import BoxCount as Count
from web.box_count import DeviceRef, HeldRow, count_device
from web.ceremony_calendar import month_end
from web.checklist import checklist
from web.models import Alert, Office
from web.opening import count_box

Y2100 = parse_iso_ms("2100-01-01T00:00:00+07:00")
MINUTE = 60_000


def vote(box: BallotBox, clock: FakeClock) -> Record:
    clock.advance(MINUTE)
    receipt = box.cast_vote(clerk="lan", button="hai_long", level=Level.SATISFIED)
    return box.records_after(receipt.seq - 1)[0]


def of_kind(box: BallotBox, kind: Kind) -> list[Record]:
    return [r for r in box.records_after(0) if r.kind is kind]


def events(box: BallotBox, event_type: str) -> list[Record]:
    return [r for r in of_kind(box, Kind.EVENT) if r.body["type"] == event_type]


def intact(box: BallotBox, key: DeviceKey) -> bool:
    return verify_records(box.store.rows(), key.public_raw, key.device_id) is None


def roll_into_2100(box: BallotBox, clock: FakeClock) -> None:
    """What the software before this issue wrote on one synchronised reading of
    2100-01-01T00:00+07:00: the month closed and box 2100-01 opened, at that time."""
    clock.set_wall(Y2100, synced=True)
    moment = Stamp(Y2100, TimeQuality.SYNCED, clock.mono_ns, None,
                   replace(box._time, last_wall_ms=Y2100))  # fmt: skip
    box._write(moment, [(Kind.CLOSE, {}), (Kind.OPEN, {})], new_box="2100-01")


# --- the kiosk ------------------------------------------------------------------------------
def test_one_synced_reading_of_2100_moves_no_box_and_staff_see_a_clock_fault(
    tmp_path: Path, key: DeviceKey
) -> None:
    clock = FakeClock.at("2026-11-20T09:00:00")
    ledger = tmp_path / "ledger.sqlite3"
    rig = DaemonRig(ledger, key, clock)
    try:
        rig.press()
        clock.set_wall(Y2100, synced=True)  # the bad reading: "synchronised", year 2100
        rig.step(1000)
        rig.press()
        assert [v.box for v in rig.records(Kind.VOTE)] == ["2026-11", "2026-11"]
        assert not rig.records(Kind.CLOSE)  # the month was not closed
        frame = rig.kiosk.current_frame
        assert frame.kind is FrameKind.IDLE and "Clock:" in frame.message
        assert "2100" in frame.message and "2100" not in frame.now_text
        assert [e.body["fault"] for e in rig.events("clock_fault")] == ["clock_stepped"]
    finally:
        rig.close()
    rig = DaemonRig(ledger, key, clock)  # a restart: the clock still says 2100
    try:
        rig.press()
        assert "Clock:" in rig.kiosk.current_frame.message
    finally:
        rig.close()
    clock.reboot(wall_ms=Y2100, synced=True)  # a power cut: monotonic time starts again
    rig = DaemonRig(ledger, key, clock)
    try:
        rig.press()
        assert {v.box for v in rig.records(Kind.VOTE)} == {"2026-11"}
        assert not rig.records(Kind.CLOSE) and len(rig.records(Kind.VOTE)) == 4
        status = inspect_ledger(ledger).status()
        assert status["open_box"]["box"] == "2026-11"
        assert status["faults"]["clock"]["fault"] == "clock_far_ahead"
    finally:
        rig.close()


def test_the_server_time_refutes_the_jump_and_the_month_turns_by_it(
    ledger_path: Path, key: DeviceKey
) -> None:
    clock = FakeClock.at("2026-11-30T23:00:00")
    with BallotBox.open(ledger_path, key, clock) as box:
        vote(box, clock)
        clock.set_wall(Y2100, synced=True)
        server_now = parse_iso_ms("2026-11-30T23:01:00")
        box.record_time_anchor(server_now, clock.mono_ns)  # an ack's signed time
        ballot = vote(box, clock)
        assert ballot.tq is TimeQuality.ANCHORED and ballot.box == "2026-11"
        clock.advance(60 * MINUTE)  # midnight passes, by the server's time
        december = vote(box, clock)
        assert december.box == "2026-12" and december.tq is TimeQuality.ANCHORED
        assert [c.box for c in of_kind(box, Kind.CLOSE)] == ["2026-11"]
        assert box.peek_time().fault is not None  # the clock is still wrong: staff see it
        assert intact(box, key)


def test_a_restart_in_the_same_boot_keeps_the_clock_in_check(
    ledger_path: Path, key: DeviceKey
) -> None:
    clock = FakeClock.at("2026-11-25T09:00:00")
    with BallotBox.open(ledger_path, key, clock, kernel_boot_id="boot-1") as box:
        vote(box, clock)
    clock.advance(MINUTE)
    clock.set_wall(clock.wall_ms + 10 * 24 * 3600_000, synced=True)  # into December
    with BallotBox.open(ledger_path, key, clock, kernel_boot_id="boot-1") as box:
        # Monotonic time still counts from the last record: ten days did not pass.
        held = vote(box, clock)
        assert held.box == "2026-11" and not of_kind(box, Kind.CLOSE)
        assert [e.body["fault"] for e in events(box, "clock_fault")] == ["clock_stepped"]


def test_the_server_time_alone_cannot_move_a_synchronised_kiosk(
    ledger_path: Path, key: DeviceKey
) -> None:
    """The confirmation needs both witnesses: a server whose clock was set ahead (one
    administrator) does not close a kiosk's month while the kiosk's clock disagrees."""
    clock = FakeClock.at("2026-11-20T09:00:00")
    with BallotBox.open(ledger_path, key, clock) as box:
        vote(box, clock)
        box.record_time_anchor(parse_iso_ms("2026-12-05T09:00:00"), clock.mono_ns)
        ballot = vote(box, clock)
        assert ballot.box == "2026-11" and ballot.tq is TimeQuality.SYNCED
        assert [e.body["fault"] for e in events(box, "clock_fault")] == ["server_differs"]
        assert not of_kind(box, Kind.CLOSE)


def test_a_kiosk_already_in_a_bogus_future_box_recovers_without_losing_a_ballot(
    tmp_path: Path, key: DeviceKey
) -> None:
    clock = FakeClock.at("2026-11-20T09:00:00")
    ledger = tmp_path / "ledger.sqlite3"
    with BallotBox.open(ledger, key, clock) as box:
        vote(box, clock)
        roll_into_2100(box, clock)  # (the software before this issue)
    clock.set_wall(parse_iso_ms("2026-11-20T10:00:00"), synced=True)  # NTP is right again
    rig = DaemonRig(ledger, key, clock)  # the new software starts on that ledger
    try:
        rig.press()
        stuck = rig.records(Kind.VOTE)[-1]
        assert stuck.box == "2100-01"  # kept, never dropped, until the server's word
        assert "Clock:" in rig.kiosk.current_frame.message
        last = rig.box.state.last_record
        # An ack arrives: its signed time agrees with the clock, not with the ledger.
        rig.kiosk.on_ack(last.seq, last.hash, clock.wall_ms, clock.mono_ns)
        rig.step(1000)
        rig.press()
        after = rig.records(Kind.VOTE)[-1]
        assert after.box == "2026-11" and after.tq is TimeQuality.SYNCED
        assert rig.kiosk.current_frame.message == ""  # the fault is over
        (correction,) = [o for o in rig.records(Kind.OPEN) if "corrected_from_ms" in o.body]
        assert correction.body["corrected_from_ms"] == Y2100
        assert [c.box for c in rig.records(Kind.CLOSE)] == ["2026-11", "2100-01"]
        assert len(rig.records(Kind.VOTE)) == 3
        assert intact(rig.box, key)
    finally:
        rig.close()
    with BallotBox.open(ledger, key, clock) as box:  # the old and the new records verify
        assert box.state.open_box is not None and box.state.open_box.box == "2026-11"


# --- the server -----------------------------------------------------------------------------
def test_the_server_flags_records_dated_ahead_and_counts_them_in_the_right_month(
    server_app, server_clock: FakeClock, tmp_path: Path, key: DeviceKey
) -> None:
    app = server_app
    seed(app)
    register(app)
    client = app.test_client()
    assert enroll(client, key).status_code == 200
    clock = FakeClock.at("2026-11-20T08:00:00", synced=True)
    ledger = tmp_path / "ledger.sqlite3"
    with BallotBox.open(ledger, key, clock) as box:
        vote(box, clock)
        roll_into_2100(box, clock)
        clock.set_wall(parse_iso_ms("2026-11-20T08:10:00"), synced=True)
        for _n in range(3):
            vote(box, clock)  # held at 2100-01-01, in box 2100-01
        assert push(client, key, box.store.rows()).status_code == 200
        box.record_time_anchor(server_clock.wall_ms, clock.mono_ns)  # the recovery
        vote(box, clock)
        assert push(client, key, box.store.rows()).status_code == 200  # one verifier
    with app.app_context():
        session = web_db.session()
        (alert,) = session.scalars(select(Alert).where(Alert.kind == "clock_ahead"))
        assert key.device_id in alert.message
        office = session.scalar(select(Office).where(Office.code == "demo"))
        november = count_box(session, office, "2026-11")
        assert november.main.votes == 5  # before, in the bogus box and after: all counted
        assert count_box(session, office, "2100-01").main.votes == 0
        checks = checklist(november, month_end("2026-11"))
    (ahead,) = [c for c in checks if c.code == "clock_ahead"]
    assert ahead.severity == "warning" and "01/2100" in ahead.message


def test_late_ballots_dated_ahead_go_to_their_months_supplement(
    ledger_path: Path, key: DeviceKey
) -> None:
    clock = FakeClock.at("2026-11-20T08:00:00")
    with BallotBox.open(ledger_path, key, clock) as box:
        vote(box, clock)
        counted_through = box.state.head_seq
        roll_into_2100(box, clock)
        clock.set_wall(parse_iso_ms("2026-11-30T14:00:00"), synced=True)
        vote(box, clock)
        vote(box, clock)
        rows = box.store.rows()
    arrived = {
        r.seq: parse_iso_ms("2026-11-20T08:05:00" if r.seq <= counted_through else
                            "2026-11-30T15:00:00")  # after November's opening
        for r in rows
    }  # fmt: skip
    held = [HeldRow(r.seq, r.data, r.sig, "", 1, arrived[r.seq]) for r in rows]
    device = DeviceRef(1, key.device_id, key.public_raw, "kiosk", None, None)
    count = Count("2026-12")
    check = count_device(count, device, held, office_id=1, next_box="2027-01",
                         opened_boxes=frozenset({"2026-11"}),
                         already_counted={"2026-11": counted_through}, held_in_box=0)  # fmt: skip
    assert count.supplements["2026-11"].votes == 2 and count.main.votes == 0
    assert check.ahead_votes == {"2100-01": 2}


# --- the simulator ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("now", "status"),
    [
        ("2100-01-01T00:00:00+07:00", 400),  # box 2100-01 in Vietnam (17:00 UTC in 2099)
        ("2099-12-31T23:59:00+07:00", 200),
        ("2026-01-01T00:00:00+07:00", 200),  # 2026 already, in Vietnam
        ("2025-12-31T23:59:00+07:00", 400),
    ],
)
def test_the_simulators_date_bound_is_vietnam_time(now: str, status: int) -> None:
    set_to: list[int] = []
    clock = SimpleNamespace(set=lambda wall_ms, synced: set_to.append(wall_ms))
    simulation = SimpleNamespace(
        kiosk=SimpleNamespace(), clock=clock, wait_quiet=lambda: None,
        state=lambda: {"clock": {"now": now}},
    )  # fmt: skip
    client = create_panel_app(simulation).test_client()
    answer = client.post("/api/clock", json={"now": now, "synced": True})
    assert answer.status_code == status, answer.get_json()
    assert bool(set_to) is (status == 200)
