"""The presenter: what the kiosk shows and prints, from plain values (no device, no clock)."""

from __future__ import annotations

from typing import Any

import pytest

from hom_phieu import i18n
from hom_phieu.clock import ClockReading, parse_iso_ms
from hom_phieu.ledger.ballot_box import Receipt
from hom_phieu.ledger.records import Kind, Record, canonical_bytes
from hom_phieu.ledger.state import BoxTally, LedgerState
from hom_phieu.render.views import FrameKind
from kiosk import presenter
from kiosk.config import parse_config
from kiosk.identity import Identity, OfficeResults

ROSTER = """
[device]
office = "UBND xã Đông Thanh"
counter = "Quầy 2"

[[clerks]]
id = "lan"
name = "Nguyễn Thị Lan"
title = "Công chức một cửa"
survey_url = "https://example.gov.vn/s/dt/lan"

[[clerks]]
id = "binh"
name = "Trần Văn Bình"
"""
NOON_MS = parse_iso_ms("2026-11-22T12:05:30+07:00")


@pytest.fixture(autouse=True)
def english():
    before = i18n.current_language()
    i18n.set_language("en")
    yield
    i18n.set_language(before)


@pytest.fixture
def identity() -> Identity:
    return Identity.from_config(parse_config(ROSTER))


def record(kind: Kind, box: str, body: dict[str, Any], seq: int = 7) -> Record:
    fields = {"v": 1, "device": "hp-AAAAAAAAAAAAAAAA", "seq": seq, "prev": "0" * 64,
              "kind": kind.value, "box": box, "wall_ms": NOON_MS, "tq": "synced", "boot": 1,
              "mono_ns": 0, "body": body}  # fmt: skip
    return Record.of(canonical_bytes(fields), fields)


def test_a_frame_carries_who_the_kiosk_is(identity: Identity) -> None:
    scene = presenter.Scene(identity, "binh", selected=1, now_text="22/11/2026 12:05")
    frame = presenter.frame(scene, FrameKind.THANKS, receipt_code="ABCDE-FGHJK")
    assert (frame.office, frame.counter) == ("UBND xã Đông Thanh", "Quầy 2")
    assert frame.clerk is not None and frame.clerk.name == "Trần Văn Bình"
    assert [b.name for b in frame.buttons] == ["rat_hai_long", "hai_long", "khong_hai_long"]
    assert (frame.selected, frame.now_text, frame.receipt_code) == (
        1,
        "22/11/2026 12:05",
        "ABCDE-FGHJK",
    )


def test_an_unknown_clerk_shows_the_first_of_the_roster(identity: Identity) -> None:
    assert presenter.Scene(identity, "gone").clerk.id == "lan"


def test_the_resting_screen_says_why_votes_cannot_be_taken(identity: Identity) -> None:
    scene = presenter.Scene(identity, "lan")
    assert presenter.resting_frame(scene, None, None).kind is FrameKind.IDLE
    assert presenter.resting_frame(scene, None, None).message == ""
    idle = presenter.resting_frame(scene, None, "out of paper")
    assert (idle.kind, idle.message) == (FrameKind.IDLE, "Printer: out of paper")
    broken = presenter.resting_frame(scene, "disk full", "out of paper")
    assert (broken.kind, broken.message) == (FrameKind.OUT_OF_SERVICE, "disk full")


def test_choosing_the_clerk_says_how(identity: Identity) -> None:
    scene = presenter.Scene(identity, "lan")
    with_served = presenter.select_frame(scene, has_served=True)
    assert with_served.kind is FrameKind.CLERK_SELECT and "Hold served" in with_served.message
    assert "First button" in presenter.select_frame(scene, has_served=False).message


def test_the_clock_is_shown_only_when_trusted() -> None:
    assert presenter.clock_text(ClockReading(NOON_MS, 0, True)) == "22/11/2026 12:05"
    assert presenter.clock_text(ClockReading(NOON_MS, 0, False)) == ""


def test_the_status_line() -> None:
    assert presenter.status_text(LedgerState()) == "Box -: 0 ballots"
    state = LedgerState(open_box=BoxTally(box="2026-11", open_seq=2))
    state.open_box.votes = 12
    assert presenter.status_text(state) == "Box 2026-11: 12 ballots"


@pytest.mark.parametrize("quality, unsure", [("synced", False), ("unsynced", True)])
def test_the_ticket_never_names_the_level(identity: Identity, quality: str, unsure: bool) -> None:
    receipt = Receipt(seq=9, box="2026-11", counter=3, code="ABCDE-FGHJK", wall_ms=NOON_MS,
                      time_quality=quality)  # fmt: skip
    ticket = presenter.ticket(identity, identity.clerk("lan"), receipt)
    assert (ticket.date_text, ticket.time_text) == ("22/11/2026", "12:05")
    assert ticket.clerk_name == "Nguyễn Thị Lan" and ticket.clerk_title == "Công chức một cửa"
    assert ticket.survey_url == "https://example.gov.vn/s/dt/lan?t=ABCDE-FGHJK"
    assert ticket.time_unsure is unsure
    assert "satisf" not in repr(ticket)
    assert presenter.ticket(identity, identity.clerk("binh"), receipt).survey_url is None


def test_the_survey_url_keeps_its_query() -> None:
    assert presenter.ticket_survey_url("https://x.vn/s?a=1", "C") == "https://x.vn/s?a=1&t=C"
    assert presenter.ticket_survey_url(None, "C") is None


def test_month_change_slips_show_totals_never_levels(identity: Identity) -> None:
    close = record(Kind.CLOSE, "2026-10", {"votes": 15, "refused": 2, "last_hash": "ab" * 32,
                                           "counts": {}, "buttons": {}, "open_seq": 2})  # fmt: skip
    opened = record(Kind.OPEN, "2026-11", {"votes": 0, "refused": 0}, seq=8)
    vote = record(Kind.VOTE, "2026-11", {"counter": 1}, seq=9)
    seal, zero = presenter.box_slips(identity, [close, opened, vote], "hp-DEVICE")
    assert seal.title == "SEAL OF THE BALLOT BOX 10/2026"
    assert seal.lines == (("Ballots", "15"), ("Refused presses", "2"), ("Seal record", "7"),
                          ("Last record hash", "ab" * 8), ("Device", "hp-DEVICE"))  # fmt: skip
    assert zero.title == "ZERO REPORT OF THE BALLOT BOX 11/2026"
    assert zero.lines == (("Ballots", "0"), ("Opening record", "8"),
                          ("Box key", "no box key: the ballots are not sealed"),
                          ("Device", "hp-DEVICE"))  # fmt: skip
    assert (zero.office, zero.counter, zero.date_text, zero.time_text) == (
        "UBND xã Đông Thanh",
        "Quầy 2",
        "22/11/2026",
        "12:05",
    )


def test_the_results_slip_shows_office_totals(identity: Identity) -> None:
    results = OfficeResults("2026-10", "2026-11-05T09:30:00+07:00", 20,
                            {"very_satisfied": 10, "satisfied": 6, "not_satisfied": 4},
                            "0123456789abcdef" * 4)  # fmt: skip
    event = record(Kind.EVENT, "2026-11", {"type": "results_slip", "box": "2026-10"})
    slip = presenter.results_slip(identity, results, event)
    assert slip.title == "RESULTS OF THE BALLOT BOX OPENING 10/2026"
    assert slip.counter == "Office totals (all counters)"
    assert dict(slip.lines) == {
        "Box opened on": "05/11/2026 09:30",
        "Ballots": "20",
        "Very satisfied": "10 (50,00%)",
        "Satisfied": "6 (30,00%)",
        "Not satisfied": "4 (20,00%)",
        "Check code": "0123456789abcdef",
    }
