"""A year of opened boxes for the report tests: two communes' offices under one province,
real kiosks syncing signed records, a kiosk that syncs two months late (supplements), phone
answers with and without a ticket, and each month opened by ``web.opening.open_box`` with
its quorum (the ceremony's own code, without its pages: the pages have tests of their own).

Every figure a report shows must be the sum of these openings' minutes
(:func:`minutes_by_box` reads them back).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from hom_phieu.clock import TIMEZONE, FakeClock
from hom_phieu.ledger.records import Level
from tests import db_snapshot
from tests.ceremony_helpers import Kiosk, enrolled_kiosk, give_code
from tests.web_helpers import create_account
from web import db as web_db
from web.ceremony_calendar import next_box
from web.minutes import Minutes
from web.models import Clerk, CommitteeMember, Confirmation, Office, Opening, User
from web.opening import active_members, open_box
from web.services import services
from web.survey_box import cast

YEAR = 2026
MONTHS = tuple(f"{YEAR}-{month:02d}" for month in range(1, 13))


@dataclass(frozen=True)
class YearRig:
    province: int  # unit ids
    dong_unit: int
    hac_unit: int
    dong: int  # office ids
    hac: int
    clerks: dict[str, int]  # code -> clerk id (codes are unique across the two offices)


def open_directly(
    app, office_id: int, box: str, *, dossiers: int | None = None, keys=None
) -> Opening:
    """Open ``office_id``'s box of ``box`` as its committee would, on the day after the month
    (every active member confirms; warnings are answered with a reason); ``keys``: the box
    keys rebuilt from the members' shares (``web.opening.open_box``)."""
    now = datetime.fromisoformat(next_box(box) + "-01T09:00:00").replace(tzinfo=TIMEZONE)
    with app.app_context():
        session = web_db.session()
        members = active_members(session, office_id)
        opening = Opening(office_id=office_id, box=box, started_by=members[0].user_id,
                          started_at=now, early_reason="")  # fmt: skip
        session.add(opening)
        session.flush()
        for member in members:
            session.add(Confirmation(opening_id=opening.id, user_id=member.user_id,
                                     committee_role=member.committee_role, at=now))  # fmt: skip
        session.flush()
        session.refresh(opening)
        open_box(session, opening, members[0].user_id, warnings_reason="Kiểm thử báo cáo",
                 dossiers_returned=dossiers, now=now, keys=keys)  # fmt: skip
        session.commit()
        return opening


def _hac_office(app) -> int:
    """Hạc Thành's office gets two clerks and a committee of its own."""
    with app.app_context():
        session = web_db.session()
        office = session.scalar(select(Office).where(Office.code == "38-ht-1c"))
        session.add_all([
            Clerk(office_id=office.id, code="mai", name="Lê Thị Mai", title="Công chức"),
            Clerk(office_id=office.id, code="tuan", name="Đặng Văn Tuấn"),
        ])  # fmt: skip
        for username, name, role in [("hac-chu-tich", "Bùi Văn Chủ", "ubnd_leader"),
                                     ("hac-cong-doan", "Ngô Thị Đoàn", "union_rep")]:  # fmt: skip
            user = create_account(username, name, "committee", office.unit_id)
            session.add(CommitteeMember(office_id=office.id, user_id=user.id, committee_role=role))
            give_code(session, office.id, user.id)
        session.commit()
        return office.id


def _votes(kiosk: Kiosk, clerks: dict[str, tuple[int, int, int]]) -> None:
    for clerk, (very, satisfied, not_satisfied) in clerks.items():
        kiosk.vote(clerk, "rat_hai_long", very)
        kiosk.vote(clerk, "hai_long", satisfied)
        kiosk.vote(clerk, "khong_hai_long", not_satisfied)


def _phone_answers(app, office_id: int, ticket: str) -> None:
    """One answer with the ticket (about lan: counts) and one from the screen (unverified)."""
    with app.app_context():
        session = web_db.session()
        office = session.get(Office, office_id)
        cache = services().state_cache
        cast(session, office, cache, clerk="lan", button="khong_hai_long",
             level=Level.NOT_SATISFIED, detail={"source": "ticket", "ticket": ticket})  # fmt: skip
        cast(session, office, cache, clerk="binh", button="rat_hai_long",
             level=Level.VERY_SATISFIED, detail={"source": "screen"})  # fmt: skip


def server_time(app, iso: str) -> None:
    """The server's clock (a ``FakeClock`` in the tests) set to ``iso``, Vietnam time."""
    moment = datetime.fromisoformat(iso).replace(tzinfo=TIMEZONE)
    services(app).clock.set_wall(int(moment.timestamp() * 1000))


def opened_year(app, client, tmp_path: Path) -> YearRig:
    """``ceremony_app`` (Đông Thanh's office "demo", clerks lan and binh) plus Hạc Thành's
    office (clerks mai and tuan); 2026 voted month by month and every month opened in both.
    A second Đông kiosk votes in March and syncs only in May: May's opening counts its
    March ballots as a supplement. Phone answers in November (the server's clock month).
    Đông's openings give the dossiers returned (20 + month), except in June; Hạc's never.
    The server's clock follows the months: it is left at 01/01/2027 08:00.

    Built for real once per test session, database kind and starting database (the rows
    ``ceremony_app`` seeded): every later call on the same start gets a copy of that
    database, the server key its phone answers were signed with and the clock it left
    (``tests.db_snapshot``). ``client`` and ``tmp_path`` serve the build only."""
    return db_snapshot.built_once(app, "year", lambda: _open_the_year(app, client, tmp_path))


def _open_the_year(app, client, tmp_path: Path) -> YearRig:
    server_time(app, "2026-01-05T07:00:00")
    hac = _hac_office(app)
    dong_kiosk = enrolled_kiosk(app, client, tmp_path / "dong", "2026-01-05T08:00:00",
                                code="DDDD-EFGH-JKMN")  # fmt: skip
    late = enrolled_kiosk(app, client, tmp_path / "late", "2026-01-05T08:00:00",
                          code="PPPP-EFGH-JKMN")  # fmt: skip
    from tests.api_helpers import register

    hac_kiosk = Kiosk(tmp_path / "hac", "2026-01-05T08:00:00")
    register(app, "HHHH-EFGH-JKMN", office="38-ht-1c")
    from tests.api_helpers import enroll

    assert enroll(client, hac_kiosk.key, "HHHH-EFGH-JKMN").status_code == 200
    for number, box in enumerate(MONTHS, start=1):
        if box == "2026-11":
            dong_kiosk.clock.advance_to("2026-11-16T08:00:00")
        lan_ticket = len(dong_kiosk.receipts)  # lan votes first: this is her first ticket
        _votes(dong_kiosk, {"lan": (number % 3 + 1, 2, number % 2),
                            "binh": (1, number % 4 + 1, int(number % 5 == 0))})  # fmt: skip
        _votes(hac_kiosk, {"mai": (3, number % 3, 1), "tuan": (0, 2, number % 2)})
        if box == "2026-03":
            late.clock.advance_to("2026-03-10T08:00:00")
            _votes(late, {"lan": (0, 0, 2), "binh": (1, 0, 0)})
        if box == "2026-05":
            server_time(app, "2026-05-10T09:00:00")
            late.clock.advance_to("2026-05-10T08:00:00")
            late.box.tick()
            late.sync(client)
        if box == "2026-11":
            server_time(app, "2026-11-20T09:00:00")
            _phone_answers(app, app.config["OFFICE_ID"], dong_kiosk.receipts[lan_ticket])
        first = next_box(box) + "-01T07:00:00"
        server_time(app, next_box(box) + "-01T08:00:00")
        for kiosk in (dong_kiosk, hac_kiosk):
            kiosk.clock.advance_to(first)
            kiosk.box.tick()
            kiosk.sync(client)
        open_directly(app, app.config["OFFICE_ID"], box,
                      dossiers=None if box == "2026-06" else 20 + number)  # fmt: skip
        open_directly(app, hac, box)
    with app.app_context():
        session = web_db.session()
        dong = session.get(Office, app.config["OFFICE_ID"])
        hac_office = session.get(Office, hac)
        clerks = dict(session.execute(select(Clerk.code, Clerk.id)).all())
        return YearRig(dong.unit.parent_id, dong.unit_id, hac_office.unit_id, dong.id, hac,
                       clerks)  # fmt: skip


@contextmanager
def year_at_home(home: Path, sqlite_template: Path, tmp_path: Path) -> Iterator[tuple]:
    """The opened year (:func:`opened_year`) in the server's own SQLite file under ``home``,
    the one ``tests.web_process.WebProcess(home)`` serves: this app and the rig, the app
    closed afterwards (before the real process starts)."""
    from tests.ceremony_helpers import seed_ceremony
    from tests.conftest import SERVER_TIME
    from tests.server_db import copy_sqlite
    from web import create_app
    from web.services import close_app

    target = home / "server" / "hom-phieu.sqlite3"
    target.parent.mkdir(parents=True, exist_ok=True)
    app = create_app({"DATABASE_URL": copy_sqlite(sqlite_template, target), "TESTING": True,
                      "SECRET_KEY": "test"}, clock=FakeClock.at(SERVER_TIME))  # fmt: skip
    try:
        seed_ceremony(app)  # what ``ceremony_app`` starts from: the year is copied, not built
        yield app, opened_year(app, app.test_client(), tmp_path)
    finally:
        close_app(app)


def minutes_by_box(app, office_id: int) -> dict[str, Minutes]:
    """The office's opened minutes, by box."""
    with app.app_context():
        openings = web_db.session().scalars(
            select(Opening).where(Opening.office_id == office_id, Opening.status == "opened")
        )
        return {o.box: Minutes.from_bytes(o.minutes or b"") for o in openings}


def account_for_clerk(app, code: str, username: str) -> int:
    """A clerk's own account (role clerk, in the office's unit), linked to the clerk."""
    with app.app_context():
        session = web_db.session()
        clerk = session.scalar(select(Clerk).where(Clerk.code == code))
        user = create_account(username, clerk.name, "clerk", clerk.office.unit_id)
        clerk.user_id = user.id
        session.commit()
        return session.scalar(select(User.id).where(User.username == username))
