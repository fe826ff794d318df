"""The results slip: the office totals of an opened box, from the server's configuration to
one printed slip per box (``printer.results_slip = "once"``), remembered in the ledger.

The server side runs a real opening ceremony (as ``tests/test_ceremony.py`` does); the
kiosk side runs the real daemon with a python-escpos Dummy printer whose bytes are decoded
back into the printed page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from sqlalchemy import select

from hardware.controls import Controls
from hardware.escpos_decode import decode, page_image
from hardware.output import FrameDisplay, TicketPrinter
from hardware.printer import PrinterWorker
from hardware.screen import NullScreen
from hom_phieu import formatting
from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Kind
from hom_phieu.protocol.configuration import DeviceConfig, OfficeResults
from hom_phieu.render.ticket_render import PAPER_WIDTH_PX, render_slip
from hom_phieu.render.views import Slip
from kiosk.config import ConfigError, parse_config
from kiosk.daemon import Kiosk
from tests import ceremony_helpers as ceremony
from tests.api_helpers import signed
from tests.kiosk_helpers import CONFIG, FlakyDummy
from web import clock
from web import db as web_db
from web.models import Office, Opening, User


@pytest.fixture
def app(ceremony_app):
    """The ceremony's seeded server: an office, its clerks and committee (conftest)."""
    return ceremony_app


@pytest.fixture
def client(app):
    return app.test_client()


RESULT_KEYS = {"box", "opened_at", "votes", "by_level", "minutes_hash"}
HASH = "3f9a0c5be81d47a2c6e05b9d13f7a8e4" * 2
OCTOBER = {
    "box": "2026-10",
    "opened_at": "2026-11-05T09:30:12+07:00",
    "votes": 161,
    "by_level": {"very_satisfied": 102, "satisfied": 47, "not_satisfied": 12},
    "minutes_hash": HASH,
}


# --- the server ---------------------------------------------------------------------------
def device_config(client, key: DeviceKey) -> dict[str, Any]:
    response = client.get("/api/v1/config", headers=signed(key, "GET", "/api/v1/config", b""))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["config"]


def all_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in all_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in all_keys(v)}
    return set()


def open_another_office(app) -> None:
    """An opened box of another office, written straight into the database."""
    with app.app_context():
        session = web_db.session()
        other = session.scalar(select(Office).where(Office.id != app.config["OFFICE_ID"]))
        secretary = session.scalar(select(User).where(User.username == "hac-mttq"))
        by_level = {"very_satisfied": 9, "satisfied": 0, "not_satisfied": 0}
        minutes = {"opened_at": "2026-11-02T10:00:00+07:00",
                   "count": {"votes": 9, "by_level": by_level}}  # fmt: skip
        session.add(
            Opening(office_id=other.id, box="2026-10", status=Opening.OPENED,
                    started_by=secretary.id, opened_at=clock.now(),
                    minutes=json.dumps(minutes).encode(), minutes_hash="ab" * 32)
        )  # fmt: skip
        session.commit()


def test_the_config_carries_the_office_totals_only_once_the_box_is_opened(app, client, tmp_path):
    kiosk = ceremony.october_kiosk(app, client, tmp_path)
    open_another_office(app)
    sealed = device_config(client, kiosk.key)
    assert sealed["results"] is None  # ballots are in, but the box is sealed
    ceremony.as_secretary(client)
    assert ceremony.post_form(client, app, "2026-10", "start").status_code == 302
    for username in ("chu-tich", "mttq", "thu-ky"):
        assert ceremony.confirm(client, app, "2026-10", username).status_code == 302
    started = device_config(client, kiosk.key)
    assert started["results"] is None  # a quorum confirmed, but nothing is counted yet
    assert started["version"] == sealed["version"]
    opened = ceremony.post_form(client, app, "2026-10", "open", dossiers_returned="20",
                                warnings_reason="Bấm liên tục một lần")  # fmt: skip
    assert opened.status_code == 302

    config = device_config(client, kiosk.key)
    with app.app_context():
        office_id = app.config["OFFICE_ID"]
        opening = web_db.session().scalar(
            select(Opening).where(Opening.box == "2026-10", Opening.office_id == office_id)
        )
        minutes, minutes_hash = json.loads(opening.minutes), opening.minutes_hash
    results = config["results"]
    assert results == {
        "box": "2026-10",
        "opened_at": minutes["opened_at"],
        "votes": 15,  # October's ballots; November's two stay sealed
        "by_level": {"very_satisfied": 7, "satisfied": 7, "not_satisfied": 1},
        "minutes_hash": minutes_hash,
    }
    assert results["opened_at"].endswith("+07:00")
    assert results["by_level"] == minutes["count"]["by_level"]
    assert config["version"] != sealed["version"]  # the kiosk notices the opening
    # Office totals only: no clerk, counter or field anywhere in what the kiosk gets.
    assert set(results) == RESULT_KEYS
    assert not all_keys(results) & {"by_clerk", "by_counter", "by_field", "clerk", "counts"}
    assert "lan" not in json.dumps(results) and "binh" not in json.dumps(results)
    assert all_keys(config) - all_keys(sealed) == RESULT_KEYS | set(results["by_level"])


# --- the kiosk ----------------------------------------------------------------------------
def server_config(results: Any, version: str) -> DeviceConfig:
    """The server's configuration as the sync client hands it over (read strictly from the
    JSON the server signs: ``results`` not well formed are ``None``)."""
    return DeviceConfig.from_json(
        {
            "device_id": "hp-test",
            "office": {"code": "demo", "name": "UBND phường Bến Thành"},
            "counter": "Quầy 2",
            "buttons": [],
            "clerks": [{"id": "lan", "name": "Nguyễn Thị Lan", "title": "", "survey_url": None}],
            "results": results,
            "version": version,
        }
    )


def kiosk_text(mode: str | None, paper_mm: int = 58) -> str:
    extra = f'results_slip = "{mode}"\n' if mode else ""
    if paper_mm == 80:
        extra += 'paper_width_mm = 80\nprofile = "TM-T20II"\n'
    return CONFIG.replace("print_box_slips = false\n", "print_box_slips = false\n" + extra)


class Rig:
    """The daemon as ``tests/test_daemon.py`` builds it, plus the server configuration a
    start-up reads back (what ``kiosk run`` passes from the enrollment)."""

    def __init__(self, tmp_path: Path, key: DeviceKey, text: str, clock: FakeClock,
                 server: DeviceConfig | None = None) -> None:  # fmt: skip
        self.config = parse_config(text)
        self.clock = clock
        self.factory = MockFactory()
        self.box = BallotBox.open(tmp_path / "ledger.sqlite3", key, clock)
        self.paper = FlakyDummy()
        self.worker = PrinterWorker(
            self.config.printer,
            lambda job, ok, error: self.kiosk.on_printed(job, ok, error),
            connect=lambda: self.paper,
        )
        self.kiosk = Kiosk(
            config=self.config,
            box=self.box,
            clock=clock,
            controls_factory=lambda on_edge: Controls(self.config, on_edge, self.factory),
            display=FrameDisplay(NullScreen(), 480, 320),
            printer=TicketPrinter(self.worker, self.config.printer),
            server_config=server,
        )

    def step(self, ms: int = 1000) -> None:
        self.clock.advance(ms)
        self.kiosk.pump()
        assert self.worker.wait_idle(10)
        self.kiosk.pump()

    def configure(self, results: dict | None, version: str) -> None:
        self.kiosk.on_config(server_config(results, version))
        self.step()

    def events(self, event_type: str) -> list:
        events = [r for r in self.box.records_after(0) if r.kind is Kind.EVENT]
        return [r for r in events if r.body["type"] == event_type]

    def close(self) -> None:
        self.kiosk.close()
        self.worker.close()
        self.box.close()


def expected_slip(results: dict, wall_ms: int) -> Slip:
    """The slip as it must read, built here from the results (English, the tests' language)."""
    stamp = formatting.date_time(wall_ms)
    month = f"{results['box'][5:]}/{results['box'][:4]}"
    votes = results["votes"]

    def share(level: str) -> str:
        count = results["by_level"][level]
        return f"{count} ({formatting.percent(count, votes)})"

    return Slip(
        title=f"RESULTS OF THE BALLOT BOX OPENING {month}",
        office="UBND phường Bến Thành",
        counter="Office totals (all counters)",
        lines=(
            ("Box opened on", "05/11/2026 09:30"),
            ("Ballots", str(votes)),
            ("Very satisfied", share("very_satisfied")),
            ("Satisfied", share("satisfied")),
            ("Not satisfied", share("not_satisfied")),
            ("Check code", results["minutes_hash"][:16]),
        ),
        date_text=stamp[:10],
        time_text=stamp[11:16],
    )


@pytest.mark.parametrize("paper_mm", [58, 80])
def test_a_newly_opened_box_prints_one_results_slip_and_never_again(
    tmp_path: Path, key: DeviceKey, paper_mm: int
) -> None:
    clock = FakeClock.at("2026-11-05T10:00:00")
    text = kiosk_text("once", paper_mm)
    rig = Rig(tmp_path, key, text, clock)
    try:
        rig.step()
        assert rig.paper.jobs == []  # nothing opened yet
        rig.configure(None, "v0")
        assert rig.paper.jobs == []
        rig.configure(OCTOBER, "v1")
        (job,) = rig.paper.jobs
        (event,) = rig.events("results_slip")
        assert event.body == {"type": "results_slip", "box": "2026-10", "minutes_hash": HASH}
        printed = decode(job)
        assert printed.cuts == 1 and printed.text.strip() == ""  # one image, nothing in text
        page = page_image(printed)
        assert page.width == PAPER_WIDTH_PX[paper_mm]
        expected = render_slip(expected_slip(OCTOBER, event.wall_ms), PAPER_WIDTH_PX[paper_mm])
        assert page.tobytes() == expected.tobytes()  # office, title, totals and shares, code
        rig.configure(OCTOBER, "v2")  # the roster changed: same box, no second slip
        rig.step(5000)
        assert len(rig.paper.jobs) == 1 and len(rig.events("results_slip")) == 1
    finally:
        rig.close()
    again = Rig(tmp_path, key, text, clock, server=server_config(OCTOBER, "v2"))
    try:
        again.step()
        again.configure(OCTOBER, "v3")
        assert again.paper.jobs == []  # the ledger remembers the printed slip
        assert len(again.events("results_slip")) == 1
        november = {**OCTOBER, "box": "2026-11", "minutes_hash": "c0ffee" * 10 + "abcd"}
        again.configure(november, "v4")  # the next month's opening: its own slip
        assert len(again.paper.jobs) == 1
        assert [e.body["box"] for e in again.events("results_slip")] == ["2026-10", "2026-11"]
    finally:
        again.close()


def test_a_slip_due_when_the_kiosk_stopped_is_printed_at_the_next_start(
    tmp_path: Path, key: DeviceKey
) -> None:
    """The configuration arrived (and was kept) but the kiosk stopped before its next look:
    the start-up prints the slip from the kept configuration, once."""
    clock = FakeClock.at("2026-11-05T10:00:00")
    rig = Rig(tmp_path, key, kiosk_text("once"), clock, server=server_config(OCTOBER, "v1"))
    try:
        rig.step()
        rig.step()
        assert len(rig.paper.jobs) == 1 and len(rig.events("results_slip")) == 1
    finally:
        rig.close()


def test_never_prints_no_results_slip(tmp_path: Path, key: DeviceKey) -> None:
    for mode in ("never", None):  # said, or left at the default
        folder = tmp_path / str(mode)
        folder.mkdir()
        rig = Rig(folder, key, kiosk_text(mode), FakeClock.at("2026-11-05T10:00:00"),
                  server=server_config(OCTOBER, "v1"))  # fmt: skip
        try:
            rig.step()
            rig.configure(OCTOBER, "v2")
            assert rig.paper.jobs == [] and rig.events("results_slip") == []
        finally:
            rig.close()


def test_a_printer_fault_on_the_slip_is_shown_and_never_blocks_votes(
    tmp_path: Path, key: DeviceKey
) -> None:
    rig = Rig(tmp_path, key, kiosk_text("once"), FakeClock.at("2026-11-05T10:00:00"))
    try:
        rig.paper.fail_next = True
        rig.configure(OCTOBER, "v1")
        assert rig.kiosk.printing.fault and len(rig.events("printer_fault")) == 1
        assert len(rig.events("results_slip")) == 1  # asked once: not reprinted by itself
        rig.configure(OCTOBER, "v2")
        assert rig.paper.jobs == []
        pin = rig.kiosk.controls.buttons["hai_long"].pin
        pin.drive_low()
        rig.step(120)
        pin.drive_high()
        rig.step(40)
        assert len([r for r in rig.box.records_after(0) if r.kind is Kind.VOTE]) == 1
        assert len(rig.paper.jobs) == 1  # the citizen's ticket
    finally:
        rig.close()


def test_the_config_key_is_checked() -> None:
    with pytest.raises(ConfigError, match=r'printer\.results_slip: "always" .*never, once'):
        parse_config('[printer]\nresults_slip = "always"')
    assert parse_config("").printer.results_slip == "never"


@pytest.mark.parametrize(
    "broken",
    [
        {k: v for k, v in OCTOBER.items() if k != "minutes_hash"},
        {**OCTOBER, "box": "2026-13"},
        {**OCTOBER, "votes": -1},
        {**OCTOBER, "votes": True},
        {**OCTOBER, "opened_at": "2026-11-05T09:30:12"},  # no offset: which time?
        {**OCTOBER, "by_level": {"very_satisfied": 102, "satisfied": 47}},
        {**OCTOBER, "minutes_hash": "not hex"},
        "2026-10",
    ],
)
def test_malformed_results_print_nothing(broken: Any) -> None:
    assert server_config(broken, "v1").results is None
    assert server_config(OCTOBER, "v1").results == OfficeResults.from_json(OCTOBER)
