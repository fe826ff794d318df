"""Outputs and faults (issue 10): a full disk must not break the printer for good, and a
kiosk whose records the server refuses must say so at once, to staff and to the server.

Before: python-escpos' capability cache lay on the ledger's disk; a full disk cut it
short and every later start failed to print. The server answered a refused push 422 and
nothing else; the kiosk went on taking votes that would never sync, its screen normal.
"""

from __future__ import annotations

import errno
import os
import pickle
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from hardware import escpos_cache
from hom_phieu import paths
from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Kind, Level
from hom_phieu.ledger.verify import Row
from kiosk.ledger_report import inspect_ledger
from kiosk.loop_events import Accepted, Refused
from kiosk.provision import provision
from kiosk.sync_client import SyncClient
from tests.api_helpers import CODE, enroll, make_app, push, register, seed, serving
from tests.daemon_helpers import DaemonRig
from tests.polling import wait_for
from tests.web_process import free_port
from web import db as web_db
from web.models import Alert

TICKET = (
    "from PIL import Image; from hardware.printer import ticket_bytes;"
    "assert ticket_bytes(Image.new('1', (384, 8), 1), 'POS-5890')"
)


# --- the printer's capability cache ---------------------------------------------------------
def _print_in_a_new_process(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", TICKET], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
@pytest.mark.parametrize("where", ["state folder", "named folder"])
def test_a_damaged_capability_cache_never_breaks_the_printer(
    tmp_path: Path, damage: str, where: str
) -> None:
    """What a full disk left behind (a cache cut short) or any garbage, where the kiosk
    kept it (its state folder, on the ledger's disk) or where the environment names one."""
    home = tmp_path / "home"
    folder = home / "cache" / "escpos" if where == "state folder" else tmp_path / "named"
    folder.mkdir(parents=True)
    whole = pickle.dumps({"profiles": {"default": {}}, "encodings": {}}, protocol=2)
    cache = folder / f"{platform.python_version()}.capabilities.pickle"
    cache.write_bytes(whole[: len(whole) // 2] if damage == "truncated" else b"\x80garbage")
    env = {**os.environ, "HOM_PHIEU_HOME": str(home)}
    env.pop("ESCPOS_CAPABILITIES_PICKLE_DIR", None)
    if where == "named folder":
        env["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(folder)
    done = _print_in_a_new_process(env)
    assert done.returncode == 0, done.stderr
    assert cache.read_bytes()[:2] in (whole[:2], b"\x80g")  # left alone, and never read


def test_a_full_disk_where_the_cache_is_made_moves_it_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    full, free = tmp_path / "full", tmp_path / "free"
    full.mkdir()
    free.mkdir()
    monkeypatch.setattr(escpos_cache, "_memory_folders", lambda: [str(full), str(free)])
    real_write = Path.write_bytes

    def write_bytes(self: Path, data: bytes) -> int:
        if self.is_relative_to(full):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    folder = escpos_cache._capabilities_folder()
    try:
        assert folder.parent == free and list(full.iterdir()) == []  # nothing half-written
        (cache,) = folder.iterdir()
        assert "profiles" in pickle.loads(cache.read_bytes())
    finally:
        shutil.rmtree(folder)


# --- a refused push: the kiosk -------------------------------------------------------------
REFUSAL = Refused("record-refused", "record 11: replaced: it does not link to record 10", 11)


def test_a_refused_push_is_shown_to_staff_at_once_and_votes_go_on(
    tmp_path: Path, key: DeviceKey
) -> None:
    ledger = tmp_path / "ledger.sqlite3"
    rig = DaemonRig(ledger, key, FakeClock.at("2026-11-20T09:00:00"))
    try:
        rig.press()
        rig.kiosk.on_refusal(REFUSAL)  # (the sync thread, on the first refused push)
        rig.step(10)
        frame = rig.kiosk.current_frame
        assert "Server:" in frame.message and "record 11" in frame.message
        rig.kiosk.on_refusal(REFUSAL)  # every later try: written once
        rig.press()
        assert len(rig.events("sync_refused")) == 1
        assert len(rig.records(Kind.VOTE)) == 2  # taken and kept
        assert "Server:" in rig.kiosk.current_frame.message
        server = inspect_ledger(ledger).status()["faults"]["server"]
        assert server["error"] == "record-refused" and "record 11" in server["message"]
        rig.kiosk.on_refusal(Accepted())  # a round went through again
        head = rig.box.state.last_record
        rig.kiosk.on_ack(head.seq, head.hash, rig.clock.wall_ms, rig.clock.mono_ns)
        rig.step(10)
        assert "Server:" not in rig.kiosk.current_frame.message
        assert inspect_ledger(ledger).status()["faults"]["server"] is None
    finally:
        rig.close()


# --- a refused push: the server ------------------------------------------------------------
def _ledger(folder: Path, key: DeviceKey, buttons: str) -> list[Row]:
    """A kiosk's records, one vote per letter of ``buttons`` (r, h, k): two ledgers with the
    same key and the same first letters are one card, then a rewritten tail."""
    names = {"r": ("rat_hai_long", Level.VERY_SATISFIED), "h": ("hai_long", Level.SATISFIED),
             "k": ("khong_hai_long", Level.NOT_SATISFIED)}  # fmt: skip
    clock = FakeClock.at("2026-11-20T07:30:00")
    folder.mkdir(parents=True, exist_ok=True)
    with BallotBox.open(folder / "ballot-box.sqlite3", key, clock, kernel_boot_id="boot") as box:
        for letter in buttons:
            clock.advance(5 * 60_000)
            name, level = names[letter]
            box.cast_vote(clerk="lan", button=name, level=level)
        return box.store.rows()


def test_a_refused_push_raises_an_alert_naming_the_device(
    server_app, tmp_path: Path, key: DeviceKey
) -> None:
    seed(server_app)
    register(server_app)
    client = server_app.test_client()
    assert enroll(client, key).status_code == 200
    card = _ledger(tmp_path / "card", key, "rhkrhkrh")
    rewritten = _ledger(tmp_path / "rewritten", key, "rhkrhkkkkk")  # votes 7, 8… rewritten
    assert push(client, key, card).status_code == 200  # the server holds records 1–10
    assert rewritten[:8] == card[:8] and rewritten[9] != card[9]
    for _attempt in range(3):  # the kiosk tries again and again
        answer = push(client, key, rewritten[10:])
        assert answer.status_code == 422, answer.get_data(as_text=True)
    with server_app.app_context():
        alerts = list(web_db.session().scalars(select(Alert)))
    (alert,) = [a for a in alerts if a.kind == "records_refused"]
    assert key.device_id in alert.message and "record 11" in alert.message
    assert alert.device_pk is not None and alert.office_id is not None


def test_the_sync_client_reports_a_refusal_at_once(
    sqlite_database: Path, server_clock: FakeClock, tmp_path: Path
) -> None:
    app = make_app(sqlite_database, server_clock, migrate=False)
    seed(app)
    register(app)
    with serving(app, free_port()) as url:
        link = provision(url, CODE, echo=lambda _line: None)
        key = DeviceKey.load_or_create(paths.default_key_path())
        card = _ledger(tmp_path / "card", key, "rhkrhkrh")
        assert push(app.test_client(), key, card).status_code == 200
        _ledger(tmp_path / "rewritten", key, "rhkrhkkkkk")  # the card, its tail rewritten
        news: list[Refused | Accepted] = []
        client = SyncClient(
            server_url=url,
            key=key,
            server_public_key=link.server_public_raw,
            ledger_path=tmp_path / "rewritten" / "ballot-box.sqlite3",
            clock=FakeClock.at("2026-11-20T09:00:00"),
            acked_seq=len(card),
            on_ack=lambda *ack: None,
            on_refusal=news.append,
            backoff_initial_s=30.0,  # no second try during the test: the first one tells
        )
        client.start()
        try:
            assert wait_for(lambda: news, "a refusal reported")
        finally:
            client.stop()
    (refusal,) = news
    assert isinstance(refusal, Refused)
    assert (refusal.error, refusal.seq) == ("record-refused", len(card) + 1)
    assert client.status().state == "refused"
