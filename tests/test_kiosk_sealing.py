"""Box keys from the signed configuration to every sealed opinion: the kiosk seals its votes
to each month's key (offline across a month change), to the province's escrow key when a
month has none (and says so), prints the key's fingerprint on the zero report slip; a
tampered key or fingerprint is refused; the server seals the phone answers too."""

from __future__ import annotations

import json
import socket
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory
from sqlalchemy import create_engine, text

from hardware.controls import Controls
from hardware.escpos_decode import decode as decode_print
from hardware.escpos_decode import page_image
from hardware.output import FrameDisplay, TicketPrinter
from hardware.printer import PrinterWorker
from hardware.screen import NullScreen
from hom_phieu import formatting
from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.box_key import BoxPrivateKey, new_master
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.opinion import opened_body
from hom_phieu.ledger.records import Kind, Record, decode
from hom_phieu.protocol.configuration import DeviceConfig, SealKeyRef
from hom_phieu.protocol.fields import ProtocolError
from hom_phieu.protocol.models import HealthReport, OfficeRef, RosterClerk
from hom_phieu.protocol.signing import UntrustedAnswer, sign_payload, verified_config
from hom_phieu.render.ticket_render import PAPER_WIDTH_PX, render_slip
from hom_phieu.render.views import Slip
from kiosk.config import parse_config
from kiosk.daemon import Kiosk
from kiosk.provision import ServerLink, load_link, save_link
from kiosk.sync_client import SyncClient
from tests.api_helpers import signed
from tests.ceremony_helpers import enrolled_kiosk, with_scale
from tests.kiosk_helpers import CONFIG, FlakyDummy
from tests.test_survey import answers, send, token_of
from web import db as web_db
from web.box_keys import Holder, deal_box_keys, deal_escrow_key, rebuild
from web.models import Office, Unit

ESCROW_NOTICE = "no box key for this month: ballots sealed with the province's escrow key"
OPINION_WORDS = ("very_satisfied", "not_satisfied", "satisfied", "rat_hai_long",
                 "khong_hai_long", "hai_long")  # fmt: skip
COMMENT = "Chị Lan hướng dẫn rất tận tình"


def private() -> BoxPrivateKey:
    return BoxPrivateKey.from_master(new_master())


def server_config(boxes: dict[str, BoxPrivateKey], escrow: BoxPrivateKey | None,
                  version: str = "v1") -> DeviceConfig:  # fmt: skip
    return DeviceConfig(
        device_id="hp-test",
        office=OfficeRef("demo", "UBND phường Bến Thành"),
        counter="Quầy 2",
        buttons=(),
        clerks=(RosterClerk("lan", "Nguyễn Thị Lan", "", None),),
        results=None,
        version=version,
        seal_keys=tuple(SealKeyRef.of(box, key.public) for box, key in sorted(boxes.items())),
        escrow_key=SealKeyRef.of(None, escrow.public) if escrow else None,
    )


def unreachable_url() -> str:
    """A server that is not there: a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


class Rig:
    """The kiosk as ``kiosk run`` puts it together from its enrollment (``server.json``):
    the ballot box opened with the saved configuration's keys, the daemon, a Dummy printer
    that prints the month-change slips, and the sync client talking to nobody."""

    def __init__(self, tmp_path: Path, key: DeviceKey, clock: FakeClock) -> None:
        self.config = parse_config(
            CONFIG.replace("print_box_slips = false", "print_box_slips = true")
        )
        self.clock = clock
        link = load_link()
        assert link is not None
        self.box = BallotBox.open(tmp_path / "ledger.sqlite3", key, clock,
                                  sealer=link.config.keyring())  # fmt: skip
        self.paper = FlakyDummy()
        self.worker = PrinterWorker(
            self.config.printer,
            lambda job, ok, error: self.kiosk.on_printed(job, ok, error),
            connect=lambda: self.paper,
        )
        factory = MockFactory()
        self.kiosk = Kiosk(
            config=self.config,
            box=self.box,
            clock=clock,
            controls_factory=lambda on_edge: Controls(self.config, on_edge, factory),
            display=FrameDisplay(NullScreen(), 480, 320),
            printer=TicketPrinter(self.worker, self.config.printer),
            server_config=link.config,
        )
        self.sync = SyncClient(
            server_url=link.server_url, key=key, server_public_key=link.server_public_raw,
            ledger_path=tmp_path / "ledger.sqlite3", clock=clock, acked_seq=0,
            on_ack=self.kiosk.on_ack, on_config=self.kiosk.on_config,
            health=lambda: HealthReport.from_json(self.kiosk.health()),
            on_refusal=self.kiosk.on_refusal, config_version=link.config.version,
            interval_s=0.05,
        )  # fmt: skip
        self.kiosk.sync_waker = self.sync.wake
        self.sync.start()

    def step(self, ms: int = 1000) -> None:
        self.clock.advance(ms)
        self.kiosk.pump()
        assert self.worker.wait_idle(10)
        self.kiosk.pump()

    def press(self, name: str) -> None:
        pin = self.kiosk.controls.buttons[name].pin
        pin.drive_low()
        self.step(120)
        pin.drive_high()
        self.step(40)
        self.step(5_000)

    def records(self, kind: Kind) -> list[Record]:
        return [r for r in self.box.records_after(0) if r.kind is kind]

    def close(self) -> None:
        self.sync.stop()
        self.kiosk.close()
        self.worker.close()
        self.box.close()


def enroll_offline(config: DeviceConfig, key: DeviceKey) -> None:
    """``server.json`` as provisioning left it: the configuration with its keys, from a
    server the kiosk can no longer reach."""
    save_link(ServerLink(server_url=unreachable_url(), server_public_key="A" * 43 + "=",
                         device_id=key.device_id, office=config.office, counter=config.counter,
                         config=replace(config, device_id=key.device_id),
                         enrolled_at="2026-08-01T08:00:00+07:00"))  # fmt: skip


def zero_slip(box: str, seq: int, wall_ms: int, device_id: str,
              key_lines: tuple[tuple[str, str], ...]) -> Slip:  # fmt: skip
    stamp = formatting.date_time(wall_ms)
    return Slip(
        title=f"ZERO REPORT OF THE BALLOT BOX {box[5:]}/{box[:4]}",
        office="UBND phường Bến Thành",
        counter="Quầy 2",
        lines=(
            ("Ballots", "0"),
            ("Opening record", str(seq)),
            *key_lines,
            ("Device", device_id),
        ),
        date_text=stamp[:10],
        time_text=stamp[11:16],
    )


def printed_pages(paper: FlakyDummy) -> list[bytes]:
    return [page_image(decode_print(job)).tobytes() for job in paper.jobs]


def ledger_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


# --- the kiosk ------------------------------------------------------------------------------
def test_offline_across_the_month_change_december_is_sealed_to_decembers_key(
    tmp_path: Path, key: DeviceKey
) -> None:
    keys = {box: private() for box in ("2026-11", "2026-12", "2027-01")}
    enroll_offline(server_config(keys, private()), key)
    clock = FakeClock.at("2026-11-30T16:00:00")
    rig = Rig(tmp_path, key, clock)
    try:
        rig.step()
        assert rig.box.sealing_key.public == keys["2026-11"].public
        assert rig.kiosk.current_frame.message == ""  # its own key: nothing to say
        for button in ("rat_hai_long", "khong_hai_long"):
            rig.press(button)
        clock.advance_to("2026-12-01T07:30:00")  # the month turns; still no server
        rig.step()
        rig.press("hai_long")
        rig.press("hai_long")
        rig.step()
        assert rig.sync.status().state == "offline"
        assert rig.box.sealing_key.public == keys["2026-12"].public
        (opened,) = [r for r in rig.records(Kind.OPEN) if r.box == "2026-12"]
        fingerprint = keys["2026-12"].public.fingerprint
        expected = zero_slip("2026-12", opened.seq, opened.wall_ms, key.device_id,
                             (("Box key", fingerprint),))  # fmt: skip
        width = PAPER_WIDTH_PX[58]
        assert render_slip(expected, width).tobytes() in printed_pages(rig.paper)
        votes = rig.records(Kind.VOTE)
    finally:
        rig.close()
    by_key = {k.public.fingerprint: k for k in keys.values()}
    sealed_to = [(v.box, v.body["sealed"]["key"]) for v in votes]
    assert (
        sealed_to
        == [("2026-11", keys["2026-11"].public.fingerprint)] * 2 + [("2026-12", fingerprint)] * 2
    )
    levels = Counter((v.box, opened_body(v, by_key)["level"]) for v in votes)
    assert levels == {("2026-11", "very_satisfied"): 1, ("2026-11", "not_satisfied"): 1,
                      ("2026-12", "satisfied"): 2}  # fmt: skip
    raw = ledger_bytes(tmp_path / "ledger.sqlite3")
    for word in OPINION_WORDS:
        assert word.encode() not in raw


def test_a_month_without_its_key_is_sealed_to_the_escrow_key_and_says_so(
    tmp_path: Path, key: DeviceKey
) -> None:
    escrow = private()
    enroll_offline(server_config({"2027-01": private()}, escrow), key)
    rig = Rig(tmp_path, key, FakeClock.at("2026-12-03T09:00:00"))
    try:
        rig.step()
        assert rig.box.sealing_key.escrow
        assert ESCROW_NOTICE in rig.kiosk.current_frame.message
        rig.press("khong_hai_long")
        (vote,) = rig.records(Kind.VOTE)
        assert vote.body["sealed"]["key"] == escrow.public.fingerprint
        assert opened_body(vote, {escrow.public.fingerprint: escrow})["button"] == "khong_hai_long"
        (opened,) = rig.records(Kind.OPEN)
        lines = (("Box key", ESCROW_NOTICE), ("Escrow key", escrow.public.fingerprint))
        expected = zero_slip("2026-12", opened.seq, opened.wall_ms, key.device_id, lines)
        assert render_slip(expected, PAPER_WIDTH_PX[58]).tobytes() in printed_pages(rig.paper)
    finally:
        rig.close()


def test_a_new_configuration_brings_the_key_and_an_empty_one_says_nothing_is_sealed(
    tmp_path: Path, key: DeviceKey
) -> None:
    escrow, december = private(), private()
    enroll_offline(server_config({}, None), key)  # a server that sends no keys
    rig = Rig(tmp_path, key, FakeClock.at("2026-12-03T09:00:00"))
    try:
        rig.step()
        assert rig.box.sealing_key is None
        assert "no box key: the ballots are not sealed" in rig.kiosk.current_frame.message
        rig.press("hai_long")
        assert "sealed" not in rig.records(Kind.VOTE)[0].body  # format 1, as ever
        rig.kiosk.on_config(server_config({"2026-12": december}, escrow, "v2"))
        rig.step()
        assert rig.box.sealing_key.public == december.public
        assert rig.kiosk.current_frame.message == ""
        rig.press("hai_long")
        assert rig.records(Kind.VOTE)[1].body["sealed"]["key"] == december.public.fingerprint
        assert load_link().config.keyring().boxes["2026-12"] == december.public  # kept
    finally:
        rig.close()


# --- the configuration -----------------------------------------------------------------------
def test_the_signed_configuration_with_keys_verifies_and_a_tampered_key_is_refused(
    key: DeviceKey, tmp_path: Path
) -> None:
    server = DeviceKey.load_or_create(tmp_path / "server.pem")
    keys, escrow = {"2026-12": private(), "2027-01": private()}, private()
    config = replace(server_config(keys, escrow), device_id=key.device_id).to_json()

    def envelope(doc: dict[str, Any]) -> dict[str, Any]:
        return {"config": doc, "sig": sign_payload(server, doc)}

    good = verified_config(server.public_raw, key.device_id, envelope(config))
    ring = good.keyring()
    assert ring.boxes == {box: k.public for box, k in keys.items()}
    assert ring.escrow == escrow.public
    # A key swapped after signing: the signature fails.
    swapped = {**config, "seal_keys": [dict(config["seal_keys"][0]), config["seal_keys"][1]]}
    swapped["seal_keys"][0]["public_key"] = SealKeyRef.of("2026-12", private().public).to_json()[
        "public_key"
    ]
    with pytest.raises(UntrustedAnswer, match="not signed"):
        verified_config(server.public_raw, key.device_id, {**envelope(config), "config": swapped})
    # Signed, but a fingerprint that is not its key's: refused all the same.
    with pytest.raises(UntrustedAnswer, match="fingerprint"):
        verified_config(server.public_raw, key.device_id, envelope(swapped))
    wrong_escrow = {**config, "escrow_key": {**config["escrow_key"], "box": "2026-12"}}
    with pytest.raises(UntrustedAnswer, match=r"escrow_key\.box"):
        verified_config(server.public_raw, key.device_id, envelope(wrong_escrow))
    twice = {**config, "seal_keys": [config["seal_keys"][0]] * 2}
    with pytest.raises(ProtocolError, match="twice"):
        DeviceConfig.from_json(twice)
    short = {**config, "escrow_key": {**config["escrow_key"], "public_key": "AAAA"}}
    with pytest.raises(ProtocolError, match="public_key"):
        DeviceConfig.from_json(short)
    older = {k: v for k, v in config.items() if k not in ("seal_keys", "escrow_key")}
    legacy = verified_config(server.public_raw, key.device_id, envelope(older))
    assert legacy.keyring().boxes == {} and legacy.keyring().escrow is None
    assert legacy.to_json() == older  # an older server's configuration, as it was


# --- the server ------------------------------------------------------------------------------
HOLDERS = [Holder(None, name, "member") for name in ("An", "Bình", "Chi")]


@pytest.fixture
def app(ceremony_app):
    return with_scale(ceremony_app)


@pytest.fixture
def client(app):
    return app.test_client()


def deal(app, boxes: list[str]) -> tuple[list, Any]:
    """Box keys for ``boxes`` of the office, and the province's escrow key."""
    with app.app_context():
        session = web_db.session()
        office = session.get(Office, app.config["OFFICE_ID"])
        province = session.get(Unit, office.unit_id)
        while province.parent is not None:
            province = province.parent
        escrow = deal_escrow_key(session, province, 2, HOLDERS, None)
        dealt = deal_box_keys(session, office, boxes, 2, HOLDERS, None)
        session.commit()
        return [(d.key.box, d.key.fingerprint, [c.mnemonic for c in d.cards]) for d in dealt], (
            escrow.key.fingerprint
        )


def test_the_server_sends_the_office_keys_months_ahead(app, client, tmp_path) -> None:
    dealt, escrow = deal(app, ["2026-11", "2026-12", "2027-01"])
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-11-20T08:00:00")
    answer = client.get("/api/v1/config", headers=signed(kiosk.key, "GET", "/api/v1/config", b""))
    assert answer.status_code == 200
    with app.app_context():
        from web.server_key import server_key

        server_raw = server_key().public_raw
    config = verified_config(server_raw, kiosk.key.device_id, answer.get_json())
    assert [(r.box, r.fingerprint) for r in config.seal_keys] == [(b, f) for b, f, _ in dealt]
    assert config.escrow_key is not None and config.escrow_key.fingerprint == escrow


def test_phone_answers_are_sealed_in_the_server_database(app) -> None:
    ((box, fingerprint, cards),), _escrow = deal(app, ["2026-11"])
    phone = app.test_client()
    assert send(phone, "/s/demo/lan", **answers("rat_hai_long", COMMENT)).status_code == 200
    token = token_of(phone, "/s/demo/binh")  # sent again anyway: refused (daily limit)
    again = phone.post("/s/demo/lan", data={**answers("khong_hai_long"), "csrf_token": token})
    assert again.status_code == 409
    with app.app_context():
        session = web_db.session()
        url = str(session.get_bind().url.render_as_string(hide_password=False))
        stored = [bytes(d) for d in session.execute(text("SELECT data FROM ledger_records"))
                  .scalars()]  # fmt: skip
        from web.box_keys import current_key

        rebuilt = rebuild(current_key(session, app.config["OFFICE_ID"], box), cards[:2])
    dump = b"\n".join(stored)
    if url.startswith("sqlite"):  # the file itself, as a copy of it shows: not the comment
        database = ledger_bytes(Path(url.removeprefix("sqlite:///")))
        assert COMMENT.encode() not in database
    else:  # what psql shows: the text of the column
        engine = create_engine(url)
        try:
            with engine.connect() as db:
                query = text("SELECT encode(data, 'escape') FROM ledger_records")
                dump += "\n".join(db.execute(query).scalars()).encode()
        finally:
            engine.dispose()
    for word in (*OPINION_WORDS, COMMENT, "Thái độ"):  # (the scale table names the levels)
        assert word.encode() not in dump, word
    records = [decode(d) for d in stored]
    keys = {fingerprint: rebuilt.private}
    (vote,) = [r for r in records if r.kind is Kind.VOTE]
    (refused,) = [r for r in records if r.kind is Kind.REFUSED]
    assert vote.body["sealed"]["key"] == fingerprint and refused.body["sealed"]["key"]
    opened = opened_body(vote, keys)
    assert opened["level"] == "very_satisfied" and opened["comment"] == COMMENT
    assert opened["criteria"] and opened_body(refused, keys)["button"] == "phone"


def test_kiosk_status_says_the_box_is_sealed_to_the_escrow_key(
    tmp_path: Path, key: DeviceKey, isolated_home: Path
) -> None:
    from tests.test_cli import run

    escrow, ledger = private(), tmp_path / "status.sqlite3"
    enroll_offline(server_config({"2027-01": private()}, escrow), key)
    with BallotBox.open(ledger, key, FakeClock.at("2026-12-03T09:00:00")) as box:
        box.cast_vote(clerk="lan", button="hai_long", level="satisfied")
    status = run("kiosk", "status", "--json", "--ledger", str(ledger), home=isolated_home)
    sealing = json.loads(status.stdout)["sealing"]
    vietnamese = "chưa có khóa hòm tháng này: phiếu niêm phong bằng khóa dự phòng của tỉnh"
    assert sealing == {"sealed": True, "escrow": True, "notice": vietnamese,
                       "fingerprint": escrow.public.fingerprint}  # fmt: skip
    text_vi = run("--lang", "vi", "kiosk", "status", "--ledger", str(ledger), home=isolated_home)
    assert f"Niêm phong: {vietnamese}" in text_vi.stdout
