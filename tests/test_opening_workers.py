"""A large opening on PostgreSQL walks its devices in worker processes (web.opening_workers):
the very count one walk gives (checkpoints, supplements, sealed ballots, a fault named where
the walk names it), read from the opening's own snapshot; walked in the server's process when
its transaction has written, and when two devices let the same receipt ticket through."""

from __future__ import annotations

from pathlib import Path

import pytest

from hom_phieu.i18n import language
from hom_phieu.ledger.box_key import BoxPrivateKey, new_master
from hom_phieu.ledger.faults import Fault
from hom_phieu.ledger.opinion import KeyRing
from hom_phieu.ledger.records import decode
from tests.test_ceremony import tamper
from tests.test_opening_checkpoints import MONTHS, Server, figures
from web import db as web_db
from web import opening_count, opening_workers
from web.box_count import BoxCount, DeviceCheck, DeviceRef
from web.models import Office
from web.opening_rows import DeviceJob

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


def count(server: Server, box: str, keys, *, workers: bool) -> BoxCount:
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
