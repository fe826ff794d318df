"""An installation of wave 1 upgraded to sealed boxes (ledger format 2).

Before: a kiosk writes format 1 (the opinion in clear) and syncs; October is opened the
old way, without a key. Wave 1's server code is gone (today's reads the key tables on every
sync), so today's server writes those rows without any key (the rows wave 1 wrote), and
the database is then taken back to revision 0010, as wave 1 left it. Then the upgrade: the
real migrations bring that database from 0010 to head, the committee is dealt keys,
the kiosk reopens its ledger with the key ring and seals from there on (its chain, format
1 then 2, still verifies end to end), November (clear ballots from before the upgrade,
sealed ones after) opens with three members' shares. Both months' figures are exact, and
October recounted after the upgrade still equals its minutes.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, select

from hom_phieu.clock import TIMEZONE, FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.records import Kind, decode
from hom_phieu.ledger.verify import verify_rows
from tests.ceremony_helpers import Kiosk, enrolled_kiosk, seed_ceremony
from tests.report_helpers import open_directly
from tests.seal_helpers import deal, keyring, opening_keys
from web import create_app
from web import db as web_db
from web.ballot_channels import BallotChannel
from web.db import alembic_config
from web.minutes import Minutes
from web.models import Office, Opening
from web.opening import count_box
from web.result_cells import signed_figures
from web.services import close_app, services

LEVELS = ("very_satisfied", "satisfied", "not_satisfied")


@pytest.fixture
def wave_one_app(database_url: str):
    """The server on a clean database (SQLite, PostgreSQL), no box keys dealt."""
    web_db.upgrade(database_url)
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test"},
                     clock=FakeClock.at("2026-10-20T08:00:00"))  # fmt: skip
    seed_ceremony(app)
    yield app
    close_app(app)


def at(app, kiosk: Kiosk, iso: str) -> None:
    """Time passes on the kiosk and on the server alike, to ``iso`` (Vietnam time)."""
    kiosk.clock.advance_to(iso)
    moment = datetime.fromisoformat(iso).replace(tzinfo=TIMEZONE)
    services(app).clock.set_wall(int(moment.timestamp() * 1000))


def tables(app) -> set[str]:
    with app.app_context():
        session = web_db.session()
        names = set(inspect(session.get_bind()).get_table_names())
        session.rollback()
        return names


def pressed(kiosk: Kiosk, box: str) -> dict[str, tuple[int, ...]]:
    """What the kiosk's citizens pressed in ``box``: clerk -> (very, satisfied, not)."""
    clerks = {clerk for (b, clerk, _level) in kiosk.pressed if b == box}
    return {c: tuple(kiosk.pressed[box, c, level] for level in LEVELS) for c in clerks}


def minutes_figures(app, box: str) -> dict[str, tuple[int, ...]]:
    """The opened box's official figures per clerk, as its signed minutes give them."""
    with app.app_context():
        opening = web_db.session().scalar(select(Opening).where(Opening.box == box))
        figures = signed_figures(Minutes.from_bytes(opening.minutes))
    assert all(channel == BallotChannel.BUTTON.value and not unverified
               for (_b, unverified, _c, channel) in figures)  # fmt: skip
    return {clerk: levels for (b, _u, clerk, _ch), levels in figures.items() if b == box}


def recount(app, box: str) -> dict[str, tuple[int, ...]]:
    """``box`` counted again from the server's records, without any key."""
    with app.app_context():
        session = web_db.session()
        count = count_box(session, session.get(Office, app.config["OFFICE_ID"]), box)
        assert [check.problem for check in count.devices] == [None]
        assert count.sealed == 0 and not count.unreadable
        by_clerk = count.main.by_clerk
        return {clerk: tuple(by_clerk[clerk][level] for level in LEVELS) for clerk in by_clerk}


def test_a_wave_one_installation_upgrades_to_sealed_boxes(wave_one_app, tmp_path: Path) -> None:
    app, client = wave_one_app, wave_one_app.test_client()
    office_id = app.config["OFFICE_ID"]
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-10-20T08:00:00")
    # Wave 1: October and the start of November in clear, October opened without a key.
    kiosk.vote("lan", "rat_hai_long", 5)
    kiosk.vote("binh", "hai_long", 2)
    kiosk.box.refuse(button="hai_long", reason="burst")
    kiosk.vote("binh", "khong_hai_long", 1)
    at(app, kiosk, "2026-11-01T07:00:00")
    kiosk.box.tick()  # October closes (format 1: its counts in clear), November opens
    kiosk.sync(client)
    open_directly(app, office_id, "2026-10")
    october = minutes_figures(app, "2026-10")
    assert october == pressed(kiosk, "2026-10") == {"lan": (5, 0, 0), "binh": (0, 2, 1)}
    at(app, kiosk, "2026-11-03T08:00:00")
    kiosk.vote("lan", "hai_long", 3)
    kiosk.sync(client)
    wave_one = len(kiosk.rows())
    assert {decode(row.data).fields["v"] for row in kiosk.rows()} == {1}

    # The database as wave 1 left it (revision 0010: no key tables), then the upgrade:
    # migrated from 0010 to head, keys dealt.
    config = alembic_config(app.config["DATABASE_URL"])
    command.downgrade(config, "0010")
    assert not {"box_keys", "key_shares"} & tables(app)
    at(app, kiosk, "2026-11-10T09:00:00")
    command.upgrade(config, "head")
    assert {"box_keys", "key_shares"} <= tables(app)
    dealt = deal(app, office_id, ["2026-11", "2026-12"])
    ring = keyring(app, office_id)
    assert ring.boxes["2026-11"].fingerprint == dealt["2026-11"].key.fingerprint

    # The kiosk reopens its ledger with the key ring: everything from here on is format 2.
    path = kiosk.box.store.path
    kiosk.box.close()
    kiosk.box = BallotBox.open(path, kiosk.key, kiosk.clock, kernel_boot_id="b", sealer=ring)
    assert kiosk.box.sealing_key is not None and not kiosk.box.sealing_key.escrow
    kiosk.vote("lan", "khong_hai_long", 2)
    kiosk.vote("binh", "rat_hai_long", 4)
    kiosk.box.refuse(button="khong_hai_long", reason="burst")
    at(app, kiosk, "2026-12-01T07:00:00")
    kiosk.box.tick()  # November (clear, then sealed) closes; December opens sealed
    kiosk.sync(client)
    records = [decode(row.data) for row in kiosk.rows()]
    assert {r.fields["v"] for r in records[:wave_one]} == {1}
    assert {r.fields["v"] for r in records[wave_one:]} == {2}
    sealed_votes = [r for r in records[wave_one:] if r.kind is Kind.VOTE]
    assert len(sealed_votes) == 6 and all("level" not in r.body for r in sealed_votes)
    close = next(r for r in records[wave_one:] if r.kind is Kind.CLOSE)
    assert close.box == "2026-11" and close.body.keys() == {"votes", "refused", "open_seq",
                                                             "last_hash"}  # fmt: skip
    assert close.body["votes"] == 9 and records[-1].box == "2026-12"
    problem, _verifier = verify_rows(kiosk.rows(), kiosk.key.public_raw, kiosk.key.device_id)
    assert problem is None  # one chain, format 1 then 2, end to end

    # Before the opening the server numbers the sealed ballots and reads none of them.
    with app.app_context():
        session = web_db.session()
        preview = count_box(session, session.get(Office, office_id), "2026-11")
        assert preview.sealed == 6 and preview.main.votes == 3
    # November opens with three members' shares: clear and sealed ballots counted alike.
    open_directly(app, office_id, "2026-11", keys=opening_keys(app, dealt["2026-11"]))
    november = minutes_figures(app, "2026-11")
    assert november == pressed(kiosk, "2026-11") == {"lan": (0, 3, 2), "binh": (4, 0, 0)}
    assert sum(map(sum, november.values())) == 9
    # October, opened the old way before the upgrade, recounts to its minutes.
    assert recount(app, "2026-10") == minutes_figures(app, "2026-10") == october
    assert Counter(r.box for r in sealed_votes) == {"2026-11": 6}
