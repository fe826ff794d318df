"""Opening from the checkpoint of the previous opening: the same count as a walk of the
whole chain (months opened in order and out of order, late ballots after a checkpoint),
without reading the history again; and the parallel opening of sealed ballots."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.box_key import BoxPrivateKey, new_master
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.faults import Fault
from hom_phieu.ledger.opinion import KeyRing
from hom_phieu.ledger.records import Level, decode
from hom_phieu.ledger.verify import Row
from tests.test_ceremony import tamper
from web import db as web_db
from web import opening_count
from web.box_count import BoxCount, DeviceRef, HeldRow, count_device
from web.device_state import insert_rows, row_of
from web.models import Confirmation, Device, Office, Opening, User
from web.models_checkpoints import ChainCheckpoint
from web.opening import count_box, open_box

MONTHS = ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11", "2026-12"]
QUORUM = [("chu-tich", "ubnd_leader"), ("mttq", "mttq_chair"), ("thu-ky", "secretary")]
LEVELS = [
    ("green", Level.VERY_SATISFIED),
    ("yellow", Level.SATISFIED),
    ("red", Level.NOT_SATISFIED),
]


def ledger(folder: Path, index: int, sealer: KeyRing | None = None) -> tuple[DeviceKey, list[Row]]:
    """A kiosk's ledger from July to December 2026: three ballots and a refused press a
    month, each month closed by the first reading of the next."""
    folder.mkdir(parents=True, exist_ok=True)
    key = DeviceKey.load_or_create(folder / "key.pem")
    clock = FakeClock.at(f"2026-07-0{index + 1}T08:00:00", synced=True)
    with BallotBox.open(folder / "box.sqlite3", key, clock, sealer=sealer) as box:
        for month in MONTHS:
            for n, day in enumerate((5, 15, 25)):
                clock.advance_to(f"{month}-{day:02d}T09:0{index}:00")
                box.tick()
                button, level = LEVELS[(n + index + len(month)) % 3]
                box.cast_vote(clerk=("lan", "binh")[n % 2], button=button, level=level)
            box.refuse(button="red", reason="min_gap", clerk="lan")
        clock.advance_to("2027-01-02T08:00:00")
        box.tick()
        return key, box.store.rows()


class Server:
    """The office's server: its devices, the records they synced, its openings."""

    def __init__(
        self, app, tmp_path: Path, devices: int = 2, sealer: KeyRing | None = None
    ) -> None:
        self.app, self.office_id = app, app.config["OFFICE_ID"]
        self.ledgers = [ledger(tmp_path / f"kiosk-{i}", i, sealer) for i in range(devices)]
        self.sent = [0] * devices
        with app.app_context():
            session = web_db.session()
            self.devices = []
            for i, (key, _rows) in enumerate(self.ledgers):
                device = Device(office_id=self.office_id, label=f"Kiosk {i}", status="active",
                                device_id=key.device_id, public_key=key.public_raw)  # fmt: skip
                session.add(device)
                session.flush()
                self.devices.append(device.id)
            session.commit()

    def sync(self, until: str, only: int | None = None) -> None:
        """Every record written up to ``until`` reaches the server at ``until``."""
        at = datetime.fromisoformat(until).replace(tzinfo=UTC)
        until_ms = at.timestamp() * 1000
        with self.app.app_context():
            session = web_db.session()
            for i, (_key, rows) in enumerate(self.ledgers):
                if only is not None and i != only:
                    continue
                device = session.get(Device, self.devices[i])
                due = [r for r in rows[self.sent[i] :] if decode(r.data).wall_ms <= until_ms]
                if due:
                    insert_rows(session, [row_of(device, decode(r.data), r.sig, at) for r in due])
                self.sent[i] += len(due)
            session.commit()

    def open(self, box: str, at: str) -> BoxCount:
        """Open ``box`` at ``at``, after checking its count against a walk of every whole
        chain (no checkpoint)."""
        now = datetime.fromisoformat(at).replace(tzinfo=UTC)
        with self.app.app_context():
            session = web_db.session()
            office = session.get(Office, self.office_id)
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(opening_count, "usable_checkpoints", lambda *_args: {})
                whole = count_box(session, office, box)
            users = [
                (session.scalar(select(User).where(User.username == name)), role)
                for name, role in QUORUM
            ]
            secretary = users[-1][0]
            opening = Opening(office_id=self.office_id, box=box, started_at=now,
                              started_by=secretary.id)  # fmt: skip
            session.add(opening)
            session.flush()
            for user, role in users:
                session.add(Confirmation(opening_id=opening.id, user_id=user.id,
                                         committee_role=role, at=now))  # fmt: skip
            session.flush()
            count, _checks = open_box(session, opening, user.id, warnings_reason="test", now=now)
            session.commit()
        assert figures(count) == figures(whole)
        return count


def figures(count: BoxCount) -> dict:
    """Everything a count says (but where its walks started)."""
    skipped = ("resumed_from", "checkpoint")
    devices = [
        {f.name: getattr(check, f.name) for f in fields(check) if f.name not in skipped}
        for check in count.devices
    ]
    return {
        "main": count.main,
        "supplements": count.supplements,
        "devices": devices,
        "sealed": count.sealed,
        "unreadable": count.unreadable,
        "keys_used": count.keys_used,
    }


def resumed(count: BoxCount) -> list[int]:
    return [check.resumed_from for check in count.devices]


def later(these: list[int], those: list[int]) -> bool:
    return all(a > b for a, b in zip(these, those, strict=True))


@pytest.fixture
def server(ceremony_app, tmp_path: Path) -> Server:
    return Server(ceremony_app, tmp_path)


def test_months_opened_in_order_and_out_of_order_count_as_the_whole_chain(server) -> None:
    server.sync("2026-08-03T09:00:00")
    server.sync("2026-08-03T09:00:00")
    july = server.open("2026-07", "2026-08-03T10:00:00")
    assert resumed(july) == [0, 0] and july.main.votes == 6
    server.sync("2026-09-03T09:00:00")
    august = server.open("2026-08", "2026-09-03T10:00:00")
    assert all(seq > 0 for seq in resumed(august)) and august.main.votes == 6
    assert all(check.first_seq > check.resumed_from for check in august.devices)
    server.sync("2026-11-03T09:00:00")  # October opened before September
    october = server.open("2026-10", "2026-11-03T10:00:00")
    assert later(resumed(october), resumed(august)) and october.main.votes == 6
    assert {c.unopened_votes["2026-09"] for c in october.devices} == {3}
    september = server.open("2026-09", "2026-11-04T10:00:00")
    assert september.main.votes == 6 and later(resumed(september), resumed(august))
    server.sync("2027-01-03T09:00:00")
    november = server.open("2026-11", "2027-01-03T10:00:00")
    assert november.main.votes == 6
    assert later(resumed(november), resumed(september))


def test_late_ballots_after_a_checkpoint_go_to_the_supplement(server) -> None:
    server.sync("2026-07-20T09:00:00", only=1)  # kiosk 1 is offline from 20 July
    server.sync("2026-08-03T09:00:00", only=0)
    july = server.open("2026-07", "2026-08-03T10:00:00")
    assert july.main.votes == 5
    with server.app.app_context():
        stored = web_db.session().scalars(
            select(ChainCheckpoint.seq).order_by(ChainCheckpoint.device_pk)
        )
        late_from = list(stored)[1]  # kiosk 1's checkpoint: the last record it had sent
    server.sync("2026-09-03T09:00:00")
    august = server.open("2026-08", "2026-09-03T10:00:00")
    assert august.supplements["2026-07"].votes == 1
    assert august.devices[1].resumed_from == late_from
    server.sync("2026-10-03T09:00:00")
    september = server.open("2026-09", "2026-10-03T10:00:00")
    assert september.supplements == {} and september.main.votes == 6


def test_a_record_altered_before_the_checkpoint_is_not_read_again_but_one_after_it_is(
    server,
) -> None:
    server.sync("2026-09-03T09:00:00")
    server.open("2026-07", "2026-08-03T10:00:00")
    server.open("2026-08", "2026-09-03T10:00:00")
    server.sync("2026-10-03T09:00:00")
    device = server.devices[0]
    tamper(
        server.app,
        "UPDATE ledger_records SET sig = :sig WHERE device_pk = :d AND seq = 3",
        sig=bytes(64),
        d=device,
    )  # fmt: skip  (a July ballot: before the checkpoint)
    with server.app.app_context():
        session = web_db.session()
        office = session.get(Office, server.office_id)
        september = count_box(session, office, "2026-09")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(opening_count, "usable_checkpoints", lambda *_args: {})
            whole = count_box(session, office, "2026-09")
        assert [c.problem for c in september.devices] == [None, None]
        assert september.main.votes == 6
        assert whole.devices[0].problem.fault is Fault.BAD_SIGNATURE  # a whole walk sees it
        last_september = max(r.seq for r in server.ledgers[0][1] if decode(r.data).box == "2026-09")
        session.rollback()
    tamper(server.app, "UPDATE ledger_records SET sig = :sig WHERE device_pk = :d AND seq = :s",
           sig=bytes(64), d=device, s=last_september - 2)  # fmt: skip
    with server.app.app_context():
        session = web_db.session()
        september = count_box(session, session.get(Office, server.office_id), "2026-09")
        problem = september.devices[0].problem
        assert problem is not None and problem.seq == last_september - 2
        assert problem.position == problem.seq  # named as a whole walk would name it
        assert september.main.votes < 6


def test_sealed_ballots_count_with_the_keys_given_and_name_the_others(tmp_path: Path) -> None:
    keys = {month: BoxPrivateKey.from_master(new_master()) for month in MONTHS}
    ring = KeyRing({month: key.public for month, key in keys.items()})
    key, rows = ledger(tmp_path / "sealed", 0, sealer=ring)
    held = [HeldRow(r.seq, r.data, r.sig, decode(r.data).box, 1, None, decode(r.data).kind.value)
            for r in rows]  # fmt: skip
    device = DeviceRef(1, key.device_id, key.public_raw, "kiosk", None, None)
    given = {k.public.fingerprint: k for k in keys.values()}
    del given[keys["2026-09"].public.fingerprint]  # one box sealed to a key not given

    count = BoxCount("2026-10", keys=given)
    count_device(count, device, held, office_id=1, next_box="2026-11",
                 opened_boxes=frozenset({"2026-08", "2026-09"}),
                 already_counted={"2026-08": 5}, held_in_box=0)  # fmt: skip
    assert count.main.votes == 3 and count.supplements["2026-08"].votes == 3
    assert len(count.unreadable) == 3  # 2026-09's late ballots: its key was not given
    assert {u.key for u in count.unreadable} == {keys["2026-09"].public.fingerprint}
    assert count.keys_used == {
        keys["2026-10"].public.fingerprint: 3,
        keys["2026-08"].public.fingerprint: 3,
    }


def test_signatures_checked_by_worker_processes_name_a_bad_one_as_the_walk_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The opening's worker processes (spawned, stopped with the opening) find the same
    fault as a walk checking every signature itself."""
    from hom_phieu.ledger.verify import LedgerWalk
    from web import parallel

    monkeypatch.setattr(parallel, "PARALLEL_FROM", 4)  # this short ledger: chunks of 16
    monkeypatch.setattr(parallel, "SPAWN_AFTER", 16)  # the first chunk on threads, then processes
    monkeypatch.setattr(parallel.AheadVerifier, "CHUNK", 16)
    key, rows = ledger(tmp_path / "k", 0)
    bad = rows[30]
    rows[30] = Row(bad.seq, bad.data, bytes([bad.sig[0] ^ 1]) + bad.sig[1:])

    def walked(workers: parallel.SignatureWorkers | None) -> tuple[int, object]:
        verifier = parallel.AheadVerifier(key.public_raw, key.device_id, workers)
        walk = LedgerWalk(verifier.checking_ahead(rows), key.public_raw, key.device_id,
                          verifier=verifier)  # fmt: skip
        records = sum(1 for _record in walk)
        assert walk.problem is not None
        return records, (walk.problem.seq, walk.problem.fault)

    with parallel.SignatureWorkers(2) as workers:
        in_processes = walked(workers)
        assert workers._executor is not None  # the chunks did go to the processes
    assert in_processes == walked(None) == (30, (bad.seq, Fault.BAD_SIGNATURE))
