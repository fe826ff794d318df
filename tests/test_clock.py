"""Time is honest: injected clocks jump, lose sync and cross months; the ledger stays true."""

from __future__ import annotations

from pathlib import Path

from hom_phieu.clock import EARLIEST_PLAUSIBLE_MS, FakeClock, box_of, parse_iso_ms
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Kind, Level
from hom_phieu.ledger.timing import TimeState, stamp
from hom_phieu.ledger.verify import verify_records

HOUR = 3600 * 1000
YEAR = 365 * 24 * HOUR


def vote(box: BallotBox):
    receipt = box.cast_vote(clerk="lan", button="hai_long", level=Level.SATISFIED)
    return box.records_after(receipt.seq - 1)[0]


def events(box: BallotBox, event_type: str):
    return [
        r for r in box.records_after(0) if r.kind is Kind.EVENT and r.body["type"] == event_type
    ]


def walls_never_go_back(box: BallotBox) -> bool:
    walls = [r.wall_ms for r in box.records_after(0)]
    return walls == sorted(walls)


def assert_intact(box: BallotBox, key: DeviceKey) -> None:
    assert verify_records(box.store.rows(), key.public_raw, key.device_id) is None


def test_backwards_jump_is_logged_and_wall_time_holds(box: BallotBox, clock, key) -> None:
    before = vote(box)
    clock.advance(60_000)
    clock.set_wall(clock.wall_ms - HOUR)  # somebody sets the clock an hour back
    after = vote(box)
    (jump,) = events(box, "clock_jump")
    assert jump.body["delta_ms"] == -HOUR and jump.body["clock_synced"] is True
    assert after.wall_ms == before.wall_ms  # held, not an hour back
    assert after.tq.value == "unsynced"  # held at the floor: not the clock's word
    clock.advance(HOUR)  # the clock catches up with the ledger: trusted again
    assert vote(box).tq.value == "synced"
    assert walls_never_go_back(box)
    assert_intact(box, key)


def test_forward_jump_of_a_year_on_an_unsynced_clock_is_not_followed(
    ledger_path: Path, key: DeviceKey
) -> None:
    clock = FakeClock.at("2026-11-10T09:00:00", synced=False)
    with BallotBox.open(ledger_path, key, clock) as box:
        first = vote(box)
        clock.advance(5_000)
        clock.set_wall(clock.wall_ms + YEAR)
        second = vote(box)
        (jump,) = events(box, "clock_jump")
        assert jump.body["delta_ms"] == YEAR and jump.body["clock_synced"] is False
        assert second.wall_ms == first.wall_ms + 5_000  # monotonic time, not the jump
        assert second.box == "2026-11" and second.tq.value == "unsynced"
        assert not [r for r in box.records_after(0) if r.kind is Kind.CLOSE]
        assert_intact(box, key)


def test_forward_jump_of_a_year_on_a_synced_clock_closes_the_month_once_confirmed(
    box: BallotBox, clock, key
):
    vote(box)
    clock.set_wall(clock.wall_ms + YEAR)  # NTP steps the clock a year ahead
    held = vote(box)
    assert [e.body["delta_ms"] for e in events(box, "clock_jump")] == [YEAR]
    assert held.box == "2026-11" and held.tq.value == "unsynced"  # not followed: a fault
    assert [e.body["fault"] for e in events(box, "clock_fault")] == ["clock_stepped"]
    box.record_time_anchor(clock.wall_ms, clock.mono_ns)  # the server's signed time agrees
    later = vote(box)
    closes = [r for r in box.records_after(0) if r.kind is Kind.CLOSE]
    assert [c.box for c in closes] == ["2026-11"]
    assert later.box == "2027-11" and later.body["counter"] == 1
    assert later.tq.value == "synced" and len(events(box, "clock_recovered")) == 1
    assert_intact(box, key)


def test_unsynced_boot_keeps_and_flags_votes_and_never_goes_back(
    ledger_path: Path, key: DeviceKey, clock: FakeClock
) -> None:
    with BallotBox.open(ledger_path, key, clock) as box:
        last = vote(box)
    # Power cut; the Pi comes back with fake-hwclock's older time and no network.
    clock.reboot(wall_ms=last.wall_ms - 6 * HOUR, synced=False)
    with BallotBox.open(ledger_path, key, clock) as box:
        boot = box.records_after(last.seq)[0]
        assert boot.kind is Kind.BOOT and boot.tq.value == "unsynced"
        assert boot.body["clock_synced"] is False
        assert boot.wall_ms >= last.wall_ms
        clock.advance(10_000)
        flagged = vote(box)
        assert flagged.tq.value == "unsynced" and flagged.wall_ms >= last.wall_ms + 10_000
        # NTP comes back: the step is logged, then times are synced again.
        clock.set_wall(last.wall_ms + 2 * HOUR, synced=True)
        synced = vote(box)
        assert synced.tq.value == "synced" and synced.wall_ms == last.wall_ms + 2 * HOUR
        assert len(events(box, "clock_jump")) == 1
        assert walls_never_go_back(box)
        assert_intact(box, key)


def test_month_boundary_while_unsynced_waits_for_a_trusted_clock(
    ledger_path: Path, key: DeviceKey
) -> None:
    clock = FakeClock.at("2026-11-30T23:00:00", synced=True)
    with BallotBox.open(ledger_path, key, clock) as box:
        vote(box)
        clock.synced = False  # network lost before midnight
        clock.advance_to("2026-12-01T01:00:00")
        late = vote(box)
        assert late.box == "2026-11" and late.tq.value == "unsynced"  # kept, flagged
        assert box_of(late.wall_ms) == "2026-12"
        assert not [r for r in box.records_after(0) if r.kind is Kind.CLOSE]
        clock.synced = True
        written = box.tick()
        assert [r.kind for r in written] == [Kind.CLOSE, Kind.OPEN]
        assert written[0].box == "2026-11" and written[0].body["votes"] == 2
        assert written[1].box == "2026-12" and written[0].tq.value == "synced"
        assert_intact(box, key)


def test_server_anchor_makes_time_trusted_without_ntp(ledger_path: Path, key: DeviceKey) -> None:
    clock = FakeClock.at("2026-11-30T20:00:00", synced=False)
    with BallotBox.open(ledger_path, key, clock) as box:
        server_time = parse_iso_ms("2026-11-30T23:59:00")
        box.record_time_anchor(server_time, clock.mono_ns, server="https://admin.example")
        clock.advance(2 * 60_000)  # two minutes later: 00:01 on 1 December by the anchor
        ballot = vote(box)
        assert ballot.tq.value == "anchored" and ballot.box == "2026-12"
        assert ballot.wall_ms == server_time + 2 * 60_000
        assert [r.box for r in box.records_after(0) if r.kind is Kind.CLOSE] == ["2026-11"]
        assert_intact(box, key)


def test_first_start_with_a_clock_at_1970_uses_the_release_floor(
    ledger_path: Path, key: DeviceKey
) -> None:
    clock = FakeClock(wall_ms=0, synced=False)
    with BallotBox.open(ledger_path, key, clock) as box:
        ballot = vote(box)
        assert ballot.wall_ms >= EARLIEST_PLAUSIBLE_MS and ballot.tq.value == "unsynced"
        assert_intact(box, key)


def test_stamp_is_pure_and_monotone() -> None:
    state = TimeState(last_wall_ms=parse_iso_ms("2026-11-03T08:00:00"))
    clock = FakeClock.at("2026-11-03T07:00:00", synced=True)  # synced but behind the ledger
    first = stamp(state, clock.read())
    assert first.wall_ms == state.last_wall_ms and first.tq.value == "unsynced"
    assert stamp(state, clock.read()) == first  # same input, same answer


def test_an_unsynced_clock_far_ahead_at_boot_cannot_block_later_months(
    ledger_path: Path, key: DeviceKey, clock: FakeClock
) -> None:
    with BallotBox.open(ledger_path, key, clock) as box:
        last = vote(box)
    clock.reboot(wall_ms=parse_iso_ms("2031-05-01T08:00:00"), synced=False)  # garbage RTC
    with BallotBox.open(ledger_path, key, clock) as box:
        held = vote(box)
        assert held.wall_ms < last.wall_ms + 60_000 and held.tq.value == "unsynced"
    clock.reboot(wall_ms=parse_iso_ms("2026-12-02T08:00:00"), synced=True)  # NTP is back
    with BallotBox.open(ledger_path, key, clock) as box:
        december = vote(box)
        assert december.box == "2026-12" and december.tq.value == "synced"
        assert_intact(box, key)


def test_an_unsynced_clock_a_few_days_ahead_at_boot_is_believed(
    ledger_path: Path, key: DeviceKey, clock: FakeClock
) -> None:
    with BallotBox.open(ledger_path, key, clock) as box:
        last = vote(box)
    clock.reboot(wall_ms=last.wall_ms + 3 * 24 * HOUR, synced=False)  # an RTC after a weekend
    with BallotBox.open(ledger_path, key, clock) as box:
        later = vote(box)
        assert later.wall_ms >= last.wall_ms + 3 * 24 * HOUR and later.tq.value == "unsynced"
