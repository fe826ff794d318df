"""The cells the reports read: written with the minutes, equal to them, frozen, and filled
again for boxes opened before they existed."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import select, text

from tests.ceremony_helpers import (
    as_secretary,
    confirm,
    enrolled_kiosk,
    post_form,
)
from tests.db_snapshot import built_once
from web import db as web_db
from web.db import alembic_config
from web.minutes import Minutes
from web.models import Opening
from web.models_results import ResultCell
from web.report_period import Period
from web.report_query import Breakdown, ReportQuery, run_report
from web.result_cells import signed_figures, stored_figures


@pytest.fixture
def app(ceremony_app):
    return ceremony_app


@pytest.fixture
def client(app):
    return app.test_client()


def open_box(client, app, box: str, **reasons) -> None:
    post_form(
        client, app, box, "start", **{k: v for k, v in reasons.items() if k == "early_reason"}
    )
    for username in ("chu-tich", "mttq", "cong-doan"):
        confirm(client, app, box, username)
    opened = post_form(client, app, box, "open", warnings_reason="Họp sớm",
                       dossiers_returned="40")  # fmt: skip
    assert opened.status_code == 302, opened.text


def two_openings(app, client, tmp_path) -> None:
    """October opened; two late October ballots; November opened with its supplement.
    Through the ceremony's pages once per test session and database kind; later tests get
    a copy of that database (``tests.db_snapshot``)."""
    built_once(app, "two_openings", lambda: _two_openings(app, client, tmp_path))


def _two_openings(app, client, tmp_path) -> None:
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-10-20T08:00:00")
    kiosk.vote("lan", "rat_hai_long", 5)
    kiosk.vote("binh", "hai_long", 2)
    kiosk.sync(client)
    as_secretary(client)
    open_box(client, app, "2026-10")
    kiosk.vote("binh", "khong_hai_long", 2)
    kiosk.clock.advance_to("2026-11-03T08:00:00")
    kiosk.vote("lan", "hai_long", 3)
    kiosk.clock.advance_to("2026-12-01T07:00:00")
    kiosk.box.tick()
    kiosk.sync(client)
    open_box(client, app, "2026-11", early_reason="Chủ tịch đi công tác")


def all_figures(app) -> tuple[dict, dict, list]:
    with app.app_context():
        session = web_db.session()
        openings = session.scalars(select(Opening).where(Opening.status == "opened")).all()
        signed = {o.id: signed_figures(Minutes.from_bytes(o.minutes)) for o in openings}
        stored = {o.id: stored_figures(session, o.id) for o in openings}
        cells = sorted(
            (c.opening_id, c.box, c.supplement, c.clerk_code, c.clerk_id, c.counter_id,
             c.counter_name, c.field_name, c.channel, c.votes)
            for c in session.scalars(select(ResultCell))
        )  # fmt: skip
    return signed, stored, cells


def test_the_cells_are_the_minutes_figures_and_the_report_sums_them(app, client, tmp_path):
    two_openings(app, client, tmp_path)
    signed, stored, cells = all_figures(app)
    assert len(signed) == 2 and signed == stored
    assert any(cell[2] for cell in cells)  # the supplement's cells, filed under October
    with app.app_context():
        session = web_db.session()
        unit = session.get(Opening, next(iter(signed))).office.unit_id
        october = run_report(session, ReportQuery(unit, Period.month("2026-10"),
                                                  by=Breakdown.CLERK))  # fmt: skip
        year = run_report(session, ReportQuery(unit, Period.year(2026), by=Breakdown.MONTH))
    # October: its own 7 ballots and the 2 late ones counted by November's supplement.
    assert october.total.votes == 9
    assert {row.name: row.votes for row in october.rows} == {
        "Nguyễn Thị Lan": 5,
        "Trần Văn Bình": 4,
    }
    assert [(row.key, row.votes) for row in year.rows] == [("2026-10", 9), ("2026-11", 3)]
    assert year.total.dossiers == 80 and year.total.dossier_votes == 12


def test_the_cells_are_frozen(app, client, tmp_path):
    two_openings(app, client, tmp_path)
    for statement in ("UPDATE result_cells SET votes = votes + 1", "DELETE FROM result_cells"):
        with app.app_context(), pytest.raises(Exception, match=r"refused|append"):
            session = web_db.session()
            session.execute(text(statement))
            session.commit()


def test_boxes_opened_before_the_cells_get_them_from_a_recount(app, client, tmp_path):
    two_openings(app, client, tmp_path)
    before = all_figures(app)
    config = alembic_config(app.config["DATABASE_URL"])
    command.downgrade(config, "0009")
    command.upgrade(config, "head")
    assert all_figures(app) == before
