"""The kiosk's sync client and provisioning against a real server on 127.0.0.1.

The end-to-end test is the acceptance's: a kiosk offline for a simulated week keeps
voting while the client backs off, then the server comes back and the client catches
up; the server holds exactly the device's records, and the acks' server time reaches
the ballot box as a time anchor through the main loop (as the daemon does it).
"""

from __future__ import annotations

import queue
import random
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from hom_phieu import paths
from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Level, TimeQuality, decode, record_hash
from hom_phieu.protocol.models import DeviceConfig, HealthReport, OfficeRef
from hom_phieu.protocol.signing import UntrustedAnswer, verified_config
from kiosk.backoff import backoff_s
from kiosk.provision import ProvisionError, load_link, provision, remember_config, server_file
from kiosk.sync_client import SyncClient
from tests.api_helpers import CODE, make_app, register, seed, serving, stored_rows
from tests.polling import wait_for
from tests.web_process import free_port
from web import db as web_db
from web.models import Clerk, Device, Office


@pytest.fixture
def app(sqlite_database: Path, server_clock):
    """The server on SQLite at tmp_path / "server.sqlite3" (the test copies it as a backup)."""
    app = make_app(sqlite_database, server_clock, migrate=False)
    seed(app)
    register(app)
    return app


def vote(box: BallotBox, clock: FakeClock, n: int) -> None:
    clock.advance(10 * 60_000)
    level = (Level.VERY_SATISFIED, Level.SATISFIED, Level.NOT_SATISFIED)[n % 3]
    box.cast_vote(clerk="lan", button=level.value, level=level)


class MainLoop:
    """What the daemon does with the client's callbacks: queue them, apply them later."""

    def __init__(self) -> None:
        self.acks: queue.SimpleQueue[tuple[int, str, int, int]] = queue.SimpleQueue()
        self.configs: list[DeviceConfig] = []
        self.seen: list[tuple[int, str, int, int]] = []
        self.anchored: list[int] = []

    def on_ack(self, head_seq: int, head_hash: str, server_ms: int, mono_ns: int) -> None:
        assert threading.current_thread().name == "hom-phieu-sync"
        self.acks.put((head_seq, head_hash, server_ms, mono_ns))

    def apply(self, box: BallotBox, *, anchor: bool = True) -> None:
        """On the main loop: remember the ack, anchor the time on the newest one."""
        latest = None
        while not self.acks.empty():
            latest = self.acks.get()
            self.seen.append(latest)
        if latest is not None:
            head_seq, head_hash, server_ms, mono_ns = latest
            box.store.set_acked(head_seq, head_hash, server_ms)
            if anchor:
                box.record_time_anchor(server_ms, mono_ns)
                self.anchored.append(server_ms)


def client_for(
    url: str, key: DeviceKey, server_key: bytes, clock: FakeClock, loop: MainLoop, **options
) -> SyncClient:
    settings = {
        "interval_s": 60.0,
        "backoff_initial_s": 0.02,
        "backoff_max_s": 0.1,
        "on_config": loop.configs.append,
        **options,
    }
    return SyncClient(
        server_url=url,
        key=key,
        server_public_key=server_key,
        ledger_path=paths.default_ledger_path(),
        clock=clock,
        acked_seq=0,
        on_ack=loop.on_ack,
        **settings,
    )


def test_a_kiosk_offline_for_a_week_catches_up_without_loss(app, server_clock):
    port = free_port()
    with serving(app, port) as url:
        lines: list[str] = []
        link = provision(url, CODE, echo=lines.append)
    assert link.device_id in lines[0]
    key = DeviceKey.load_or_create(paths.default_key_path())
    clock = FakeClock.at("2026-11-26T07:30:00")
    loop = MainLoop()
    health = HealthReport(software="test", time_quality=TimeQuality.SYNCED)
    with BallotBox.open(paths.default_ledger_path(), key, clock) as box:
        client = client_for(
            url,
            key,
            link.server_public_raw,
            clock,
            loop,
            config_version=link.config.version,
            health=lambda: health,
        )
        client.start()
        try:
            for _day in range(7):  # eight hours of votes a day, across the end of November
                for n in range(48):
                    vote(box, clock, n)
                    client.wake()
                clock.advance(16 * 3600_000)
                box.tick()
            assert wait_for(lambda: client.status().state == "offline")
            assert client.status().error == "network" and loop.acks.empty()
            with serving(app, port):
                assert wait_for(lambda: client.acked_seq == box.state.head_seq)
                loop.apply(box)  # the anchor is a record too: it is pushed next
                client.wake()
                assert wait_for(lambda: client.acked_seq == box.state.head_seq)
                vote(box, clock, 0)  # one more: wake() sends it now, not in a minute
                client.wake()
                assert wait_for(lambda: client.acked_seq == box.state.head_seq, timeout_s=5)
                assert client.status().state == "ok"
        finally:
            client.stop()
        loop.apply(box, anchor=False)
        rows = box.store.rows()
        acked = box.store.acked()
    kinds = {decode(r.data).kind.value for r in rows}
    assert {"CLOSE", "EVENT"} <= kinds  # the month turned; the time anchor was recorded
    assert stored_rows(app, key.device_id) == rows  # exactly the device's records
    head_seq, head_hash, server_ms, mono_ns = loop.seen[-1]
    assert (head_seq, head_hash) == (rows[-1].seq, record_hash(rows[-1].data))
    assert acked == (rows[-1].seq, head_hash)
    assert server_ms == server_clock.wall_ms and mono_ns == clock.mono_ns
    anchor = next(decode(r.data) for r in rows if decode(r.data).body.get("type") == "time_anchor")
    assert [anchor.body["server_wall_ms"]] == loop.anchored
    assert loop.configs == []  # the configuration did not change
    with app.app_context():
        device = web_db.session().scalar(select(Device))
        assert device.health["software"] == "test" and device.health["unsynced"] >= 0


def test_a_server_restored_from_an_old_backup_is_refilled(app, tmp_path, server_clock):
    """The server lost records the kiosk had seen acknowledged: a gap, then a resend."""
    port = free_port()
    key = DeviceKey.load_or_create(paths.default_key_path())
    clock = FakeClock.at("2026-11-10T08:00:00")
    loop = MainLoop()
    backup = tmp_path / "backup.sqlite3"
    with BallotBox.open(paths.default_ledger_path(), key, clock) as box:
        with serving(app, port) as url:
            link = provision(url, CODE, echo=lambda _line: None)
            for n in range(30):
                vote(box, clock, n)
                if n == 9:
                    _sync(url, key, link.server_public_raw, clock, loop, box)
                    _backup(tmp_path / "server.sqlite3", backup)
            acked = _sync(url, key, link.server_public_raw, clock, loop, box)
        restored = make_app(backup, server_clock)  # the server comes back from last week's backup
        assert len(stored_rows(restored, key.device_id)) < acked
        for n in range(5):
            vote(box, clock, n)
        with serving(restored, port) as url:
            _sync(url, key, link.server_public_raw, clock, loop, box, acked_seq=acked)
        rows = box.store.rows()
    assert stored_rows(restored, key.device_id) == rows


def _sync(url, key, server_key, clock, loop, box, acked_seq: int = 0) -> int:
    client = client_for(url, key, server_key, clock, loop)
    client.set_acked(acked_seq)
    client.start()
    try:
        assert wait_for(lambda: client.acked_seq == box.state.head_seq)
    finally:
        client.stop()
    return client.acked_seq


def _backup(database: Path, target: Path) -> None:
    with sqlite3.connect(database) as source, sqlite3.connect(target) as copy:
        source.backup(copy)


def test_acks_not_signed_by_the_pinned_server_key_are_not_believed(app, tmp_path):
    port = free_port()
    key = DeviceKey.load_or_create(paths.default_key_path())
    impostor = DeviceKey.load_or_create(tmp_path / "impostor.pem")
    clock = FakeClock.at("2026-11-10T08:00:00")
    loop = MainLoop()
    with serving(app, port) as url, BallotBox.open(paths.default_ledger_path(), key, clock) as box:
        provision(url, CODE, echo=lambda _line: None)
        vote(box, clock, 0)
        client = client_for(url, key, impostor.public_raw, clock, loop)
        client.start()
        assert wait_for(lambda: client.status().error == "untrusted")
        client.stop()
    assert loop.acks.empty() and client.acked_seq == 0
    assert loop.configs == []


def test_a_changed_roster_reaches_the_kiosk_signed(app):
    port = free_port()
    key = DeviceKey.load_or_create(paths.default_key_path())
    clock = FakeClock.at("2026-11-10T08:00:00")
    loop = MainLoop()
    with serving(app, port) as url, BallotBox.open(paths.default_ledger_path(), key, clock):
        link = provision(url, CODE, echo=lambda _line: None)
        client = client_for(
            url,
            key,
            link.server_public_raw,
            clock,
            loop,
            config_version=link.config.version,
            health=HealthReport,
        )
        client.start()
        try:
            assert wait_for(lambda: client.status().state == "ok")
            with app.app_context():
                session = web_db.session()
                office = session.scalar(select(Office).where(Office.code == "demo"))
                session.add(Clerk(office_id=office.id, code="moi", name="Phạm Thị Mới"))
                session.commit()
            client.wake()
            assert wait_for(lambda: len(loop.configs) == 1)
        finally:
            client.stop()
    assert "moi" in [c.id for c in loop.configs[0].clerks]
    remember_config(loop.configs[0])
    assert load_link().config == loop.configs[0]
    envelope = {"config": {**loop.configs[0].to_json(), "counter": "Quầy 9"}, "sig": "AAAA"}
    with pytest.raises(UntrustedAnswer):
        verified_config(link.server_public_raw, key.device_id, envelope)


def test_provisioning_keeps_the_answer_private_and_explains_failures(app):
    port = free_port()
    with pytest.raises(ProvisionError, match="cannot reach") as unreachable:
        provision(f"http://127.0.0.1:{port}", CODE, echo=lambda _line: None)
    assert "connection refused: the server is not running there" in str(unreachable.value)
    assert "Errno" not in str(unreachable.value)
    with pytest.raises(ProvisionError, match="http"):
        provision("ftp://example.org", CODE)
    with serving(app, port) as url:
        with pytest.raises(ProvisionError, match=r"\(wrong enrollment code\)"):
            provision(url, "WRNG-WRNG-WRNG", echo=lambda _line: None)
        link = provision(url, CODE.lower(), echo=lambda _line: None)
        with pytest.raises(ProvisionError, match=r"\(enrollment code already used\)"):
            provision(url, CODE, echo=lambda _line: None)
    assert server_file().stat().st_mode & 0o777 == 0o600
    assert load_link() == link
    assert link.office == OfficeRef("demo", "UBND xã Demo") and link.counter == "Quầy 1"
    assert link.device_id == DeviceKey.load_or_create(paths.default_key_path()).device_id


def test_backoff_doubles_from_one_second_to_five_minutes_with_jitter():
    rng = random.Random(7)
    steps = [backoff_s(n, rng=rng) for n in range(1, 14)]
    for n, value in enumerate(steps, start=1):
        step = min(300.0, 2.0 ** (n - 1))
        assert step / 2 <= value <= step
    assert max(steps) <= 300.0 and backoff_s(1000, rng=rng) >= 150.0


def test_stop_ends_the_thread_promptly(tmp_path):
    key = DeviceKey.load_or_create(paths.default_key_path())
    clock = FakeClock.at("2026-11-10T08:00:00")
    with BallotBox.open(paths.default_ledger_path(), key, clock):
        client = client_for(
            f"http://127.0.0.1:{free_port()}",
            key,
            key.public_raw,
            clock,
            MainLoop(),
            backoff_initial_s=60,
            backoff_max_s=60,
        )
        client.start()
        assert wait_for(lambda: client.status().state == "offline")
        started = time.monotonic()
        client.stop()
        assert time.monotonic() - started < 2
