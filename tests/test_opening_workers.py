"""A large opening on PostgreSQL walks its devices in worker processes (web.opening_workers):
the very count one walk gives (checkpoints, supplements, sealed ballots, a fault named where
the walk names it), read from the opening's own snapshot; walked in the server's process when
its transaction has written, and when two devices let the same receipt ticket through."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest
from flask import Flask
from sqlalchemy import create_engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from hom_phieu.clock import parse_iso_ms
from hom_phieu.i18n import language
from hom_phieu.ledger.box_key import BoxPrivateKey, new_master
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.faults import Fault
from hom_phieu.ledger.opinion import KeyRing
from hom_phieu.ledger.records import decode
from tests.ceremony_helpers import enrolled_kiosk, with_scale
from tests.test_ceremony import tamper
from tests.test_clock_attacks import roll_into_2100
from tests.test_forks import (
    copied_card,
    damage,
    decide,
    device_pk_of,
    fork_id_of,
    kiosk_at,
    recover,
    repair_upload,
    votes_by_clerk,
)
from tests.test_opening_checkpoints import MONTHS, Server, figures
from tests.test_survey import answers, send
from web import db as web_db
from web import opening_count, opening_workers
from web.box_count import BoxCount, DeviceCheck, DeviceRef
from web.models import Device, LedgerRecord, Office
from web.opening_rows import DeviceJob
from web.tally import Tally

on_postgresql = pytest.mark.parametrize("migrated_database_url", ["postgresql"], indirect=True)


class Spy:
    """Which way each count went: the workers' count, or None (walked here)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answers: list[BoxCount | None] = []
        real = opening_workers.count_in_workers

        def spied(*args, **kwargs):
            answer = real(*args, **kwargs)
            self.answers.append(answer)
            return answer

        monkeypatch.setattr(opening_count, "count_in_workers", spied)


class Place(NamedTuple):
    """An office on a server (what ``count`` needs of a :class:`Server`)."""

    app: Flask
    office_id: int


def count(server: Server | Place, box: str, keys, *, workers: bool) -> BoxCount:
    with server.app.app_context(), pytest.MonkeyPatch.context() as patch, language("vi"):
        patch.setattr(opening_workers, "PARALLEL_FROM", 0 if workers else 10**9)
        session = web_db.session()
        found = opening_count.count_box(session, session.get(Office, server.office_id), box, keys)
        session.rollback()
        return found


@on_postgresql
def test_devices_walked_in_workers_count_exactly_as_one_walk(
    ceremony_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = {month: BoxPrivateKey.from_master(new_master()) for month in MONTHS}
    ring = KeyRing({month: key.public for month, key in keys.items()})
    server = Server(ceremony_app, tmp_path, devices=3, sealer=ring)
    server.sync("2026-08-03T09:00:00")
    server.open("2026-07", "2026-08-03T10:00:00")  # checkpoints to resume from
    server.sync("2026-08-20T09:00:00", only=1)  # kiosk 1 offline from 20 August
    server.sync("2026-09-03T09:00:00", only=0)
    server.sync("2026-09-03T09:00:00", only=2)
    server.open("2026-08", "2026-09-03T10:00:00")
    server.sync("2026-10-03T09:00:00")  # kiosk 1's late August ballot, and September
    last = max(r.seq for r in server.ledgers[2][1] if decode(r.data).box == "2026-09")
    tamper(server.app, "UPDATE ledger_records SET sig = :sig WHERE device_pk = :d AND seq = :s",
           sig=bytes(64), d=server.devices[2], s=last - 1)  # fmt: skip
    given = {key.public.fingerprint: key for month, key in keys.items() if month != "2026-08"}
    spy = Spy(monkeypatch)

    here = count(server, "2026-09", given, workers=False)
    there = count(server, "2026-09", given, workers=True)

    assert spy.answers[0] is None and spy.answers[1] is there  # each went its way
    assert figures(there) == figures(here)
    assert [(c.resumed_from, c.checkpoint) for c in there.devices] == [
        (c.resumed_from, c.checkpoint) for c in here.devices
    ]
    assert there.answer_times == here.answer_times and there.keys is not None
    assert all(check.resumed_from > 0 for check in there.devices)
    assert [(u.device_pk, u.box) for u in there.unreadable] == [(server.devices[1], "2026-08")]
    problem = there.devices[2].problem
    assert problem is not None and problem.fault is Fault.ALTERED and problem.seq == last - 1
    assert "không khớp với chữ ký" in problem.message  # in the opening's language, Vietnamese


@on_postgresql
def test_the_workers_read_the_openings_snapshot_and_a_transaction_that_wrote_walks_here(
    ceremony_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Server(ceremony_app, tmp_path, devices=2)
    server.sync("2026-08-03T09:00:00")
    spy = Spy(monkeypatch)
    monkeypatch.setattr(opening_workers, "PARALLEL_FROM", 0)
    with server.app.app_context():
        session = web_db.session()
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        office = session.get(Office, server.office_id)  # the opening's snapshot is taken
        server.sync("2026-09-03T09:00:00")  # August arrives in another transaction, later
        assert opening_count.count_box(session, office, "2026-08").main.votes == 0
        assert spy.answers[-1] is not None  # walked in workers, in the opening's snapshot
        session.rollback()  # (a new transaction: read committed, the default)
        august = opening_count.count_box(session, office, "2026-08")
        assert spy.answers[-1] is not None and august.main.votes == 6
        session.rollback()
        office.name = office.name + " "  # the caller wrote: workers would not see it
        session.flush()
        assert opening_count.count_box(session, office, "2026-08").main.votes == 6
        assert spy.answers[-1] is None
        session.rollback()


def test_a_ticket_let_through_in_two_parts_sends_the_count_back_to_one_walk() -> None:
    def part(pk: int) -> BoxCount:
        found = BoxCount("2026-09")
        found.devices.append(DeviceCheck(DeviceRef(pk, f"d{pk}", b"k", f"Kiosk {pk}", None, None)))
        found.main.add_ballot(pk, {"clerk": "lan", "level": "hai_long"}, _button())
        return found

    apart = opening_workers.merged("2026-09", None, [(part(1), frozenset({"A"})),
                                                     (part(2), frozenset({"B"}))])  # fmt: skip
    assert apart is not None and apart.main.votes == 2
    assert [c.device.pk for c in apart.devices] == [1, 2]
    assert apart.main.by_cell == {("lan", 1, "button"): {"hai_long": 1},
                                  ("lan", 2, "button"): {"hai_long": 1}}  # fmt: skip
    both = [(part(1), frozenset({"A"})), (part(2), frozenset({"A", "B"}))]
    assert opening_workers.merged("2026-09", None, both) is None


def _button():
    from web.ballot_channels import BallotChannel

    return BallotChannel.BUTTON


def test_the_worker_refuses_a_snapshot_name_that_is_not_one() -> None:
    shared = opening_workers._Shared("postgresql://x", "1'; DROP TABLE x; --", 1, "2026-09",
                                     frozenset(), None, "vi")  # fmt: skip
    job = DeviceJob(DeviceRef(1, "d", b"k", "K", None, None), None, {}, 0)
    with pytest.raises(ValueError, match="snapshot"):
        opening_workers._count_part(shared, job)


# --- every edge case: the workers' count is the single walk's, to the order of its lists ----


def in_order(tally: Tally | None) -> object:
    """A tally as the lists it is read in (``==`` on its dicts ignores their order)."""
    if tally is None:
        return None
    return (
        tally.votes,
        [(cell, list(levels.items())) for cell, levels in tally.by_cell.items()],
        [(name, list(levels.items())) for name, levels in tally.by_criterion.items()],
        tally.comments,
        in_order(tally.unverified),
    )


def both_ways(
    place: Server | Place, box: str, monkeypatch: pytest.MonkeyPatch, keys=None
) -> tuple[BoxCount, BoxCount]:
    """``box`` counted by the single walk and by the workers (asserted to have gone their
    ways): the same figures, in the same order, and the same checkpoints left."""
    spy = Spy(monkeypatch)
    here = count(place, box, keys, workers=False)
    there = count(place, box, keys, workers=True)
    assert spy.answers == [None, there] and there is not None
    assert figures(there) == figures(here)
    assert in_order(there.main) == in_order(here.main)
    assert [(b, in_order(t)) for b, t in there.supplements.items()] == [
        (b, in_order(t)) for b, t in here.supplements.items()
    ]
    assert list(there.answer_times.items()) == list(here.answer_times.items())
    assert list(there.keys_used.items()) == list(here.keys_used.items())
    assert [(c.resumed_from, c.checkpoint) for c in there.devices] == [
        (c.resumed_from, c.checkpoint) for c in here.devices
    ]
    return here, there


def place_of(app: Flask) -> Place:
    return Place(app, app.config["OFFICE_ID"])


def https_client(app: Flask):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    return client


@on_postgresql
def test_the_phone_surveys_answers_count_alike_to_the_order_of_comments_and_times(
    ceremony_app, server_clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = with_scale(ceremony_app)
    client = app.test_client()
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-11-18T08:00:00")
    kiosk.vote("lan", "hai_long", 3)
    kiosk.vote("binh", "rat_hai_long", 2)
    kiosk.sync(client)
    sent = [  # (clerk, ticket, answers): tickets of both clerks, and the screen's QR
        ("lan", kiosk.receipts[0], answers("rat_hai_long", "Chị Lan rất tận tình")),
        ("binh", None, answers("khong_hai_long", "Phải chờ lâu", c0="not_satisfied")),
        ("binh", kiosk.receipts[4], answers("hai_long", "Anh Bình giải thích rõ")),
        ("lan", None, answers("hai_long", "", c1="not_satisfied")),
        ("lan", kiosk.receipts[2], answers("khong_hai_long", "Thiếu giấy tờ mẫu")),
        ("binh", None, answers("rat_hai_long", "Nhanh gọn")),
    ]
    for clerk, ticket, fields in sent:
        server_clock.advance(7 * 60_000)
        path = f"/s/demo/{clerk}" + (f"?t={ticket}" if ticket else "")
        assert send(app.test_client(), path, **fields).status_code == 200

    _here, there = both_ways(place_of(app), "2026-11", monkeypatch)

    unverified = there.main.unverified
    assert unverified is not None and unverified.votes == 3
    assert there.main.by_channel["phone_ticket"].total() == 3
    assert [text for _clerk, text in there.main.comments] == [
        "Chị Lan rất tận tình", "Anh Bình giải thích rõ", "Thiếu giấy tờ mẫu"
    ]  # fmt: skip
    assert list(there.answer_times) == ["lan", "binh"] and len(there.answer_times["binh"]) == 3


@on_postgresql
def test_a_held_fork_branch_then_adopted_counts_alike(
    ceremony_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = ceremony_app, https_client(ceremony_app)
    original, copy, seq, pk = copied_card(app, client, tmp_path)
    recover(app, pk, seq, copy, client, approver=None)  # held apart, not approved yet
    original.vote("lan", "khong_hai_long", 1)
    original.sync(client)

    _here, held = both_ways(place_of(app), "2026-11", monkeypatch)
    assert held.main.votes == 6 and len(held.devices) == 2  # (the new identity: no records)

    assert decide(app, "admin", pk, fork_id_of(app, pk)).status_code == 302
    _here, adopted = both_ways(place_of(app), "2026-11", monkeypatch)
    assert votes_by_clerk(adopted) == {"lan": 6, "binh": 4}
    assert [c.votes for c in adopted.devices if c.device.signer] == [4]  # the branch's
    assert all(check.problem is None for check in adopted.devices)


@on_postgresql
def test_a_record_damaged_then_repaired_on_the_server_counts_alike(
    ceremony_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = ceremony_app, https_client(ceremony_app)
    kiosk = kiosk_at(app, client, tmp_path / "a", "2026-11-02T08:00:00")
    kiosk.vote("lan", "hai_long", 4)
    kiosk.sync(client)
    other = enrolled_kiosk(app, client, tmp_path / "b", "2026-11-03T08:00:00", "PQRS-TUVW-XYZA")
    other.vote("binh", "rat_hai_long", 2)
    other.sync(client)
    pk = device_pk_of(app, kiosk)
    with app.app_context():
        session = web_db.session()
        seq = list(session.scalars(select(LedgerRecord.seq).where(
            LedgerRecord.device_pk == pk, LedgerRecord.kind == "VOTE")))[1]  # fmt: skip
        damage(session, pk, seq)

    _here, damaged = both_ways(place_of(app), "2026-11", monkeypatch)
    problem = damaged.devices[0].problem
    assert problem is not None and problem.seq == seq and damaged.devices[0].uncounted > 0

    repaired = repair_upload(app, pk, kiosk)
    assert repaired.status_code == 302
    _here, mended = both_ways(place_of(app), "2026-11", monkeypatch)
    assert [c.problem for c in mended.devices] == [None, None] and mended.main.votes == 6


@on_postgresql
def test_a_kiosk_whose_clock_ran_ahead_counts_alike(
    ceremony_app, server_clock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, client = ceremony_app, https_client(ceremony_app)
    ahead = enrolled_kiosk(app, client, tmp_path / "a", "2026-11-20T08:00:00")
    normal = enrolled_kiosk(app, client, tmp_path / "b", "2026-11-20T08:00:00", "PQRS-TUVW-XYZA")
    normal.vote("binh", "hai_long", 2)
    normal.sync(client)
    ahead.vote("lan", "hai_long")
    roll_into_2100(ahead.box, ahead.clock)
    ahead.clock.set_wall(parse_iso_ms("2026-11-20T08:10:00"), synced=True)
    ahead.vote("lan", "rat_hai_long", 3)  # held at 2100-01-01, in box 2100-01
    ahead.sync(client)
    ahead.box.record_time_anchor(server_clock.wall_ms, ahead.clock.mono_ns)  # the recovery
    ahead.vote("lan", "khong_hai_long")
    ahead.sync(client)

    _here, november = both_ways(place_of(app), "2026-11", monkeypatch)
    assert november.main.votes == 7 and november.devices[0].ahead_votes == {"2100-01": 3}
    _here, bogus = both_ways(place_of(app), "2100-01", monkeypatch)
    assert bogus.main.votes == 0


@on_postgresql
def test_a_device_with_no_records_and_ballots_of_boxes_nobody_opened_count_alike(
    ceremony_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Server(ceremony_app, tmp_path, devices=2)
    server.sync("2026-11-03T09:00:00")
    server.open("2026-07", "2026-08-03T10:00:00")
    silent = DeviceKey.load_or_create(tmp_path / "silent.pem")
    with server.app.app_context():
        session = web_db.session()
        session.add(Device(office_id=server.office_id, label="Kiosk im lặng", status="active",
                           device_id=silent.device_id, public_key=silent.public_raw))  # fmt: skip
        session.commit()

    _here, october = both_ways(server, "2026-10", monkeypatch)
    assert october.main.votes == 6 and len(october.devices) == 3
    assert [dict(c.unopened_votes) for c in october.devices] == [
        {"2026-08": 3, "2026-09": 3}, {"2026-08": 3, "2026-09": 3}, {}
    ]  # fmt: skip
    assert october.devices[2].records == 0 and october.devices[2].last_verified_seq == 0


class KilledPool(ProcessPoolExecutor):
    """The opening's pool, one of whose workers is killed (SIGKILL) while it reads a chain:
    the ledger is locked from another connection (queued behind the opening's own read),
    so the workers wait inside their walk's first query; one is killed there, then the
    lock is given up."""

    def __init__(self, url: str, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.url = url
        self.killed: list[bool] = []
        self.locker = threading.Thread(target=self._lock_and_kill, daemon=True)
        self.locker.start()

    def _lock_and_kill(self) -> None:
        engine = create_engine(self.url, poolclass=NullPool)
        with engine.connect() as watcher, engine.connect() as locker:
            locker_pid = locker.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            waiting = threading.Thread(target=_lock_ledger, args=(locker,), daemon=True)
            waiting.start()
            for _try in range(600):
                reading = watcher.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND pid <> %(pid)s AND query LIKE '%%ledger_records%%'",
                    {"pid": locker_pid},
                ).scalar()
                watcher.rollback()
                if reading:
                    break
                time.sleep(0.05)
            child = multiprocessing.active_children()[0]
            self.killed.append(bool(reading))  # (True: killed while a worker waited inside)
            os.kill(child.pid, signal.SIGKILL)
            watcher.exec_driver_sql("SELECT pg_cancel_backend(%(pid)s)", {"pid": locker_pid})
            waiting.join()
        engine.dispose()


def _lock_ledger(connection) -> None:
    try:
        connection.exec_driver_sql("SET lock_timeout = '30s'")
        connection.exec_driver_sql("LOCK TABLE ledger_records IN ACCESS EXCLUSIVE MODE")
    except DBAPIError:
        pass  # cancelled once the worker is dead
    connection.rollback()


@on_postgresql
def test_a_worker_killed_mid_opening_sends_the_count_back_to_the_single_walk(
    ceremony_app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Server(ceremony_app, tmp_path, devices=2)
    server.sync("2026-09-03T09:00:00")
    here = count(server, "2026-08", None, workers=False)
    with server.app.app_context():
        url = web_db.session().get_bind().url.render_as_string(hide_password=False)
    pools: list[KilledPool] = []

    def killing(*args, **kwargs) -> KilledPool:
        pools.append(KilledPool(url, *args, **kwargs))
        return pools[-1]

    monkeypatch.setattr(opening_workers, "ProcessPoolExecutor", killing)
    spy = Spy(monkeypatch)
    after_kill = count(server, "2026-08", None, workers=True)
    pools[0].locker.join()
    assert pools[0].killed == [True] and spy.answers == [None]  # the workers' count given up
    assert figures(after_kill) == figures(here) and after_kill.main.votes == 6
