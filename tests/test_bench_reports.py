"""The report benchmark's seed (bench/report_seed.py), at a tiny scale: what it writes is a
valid province of opened months, and every report figure equals the sums of the cells it
seeded. No timing is checked here (the bench measures; tests never assert on a time)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.report_seed import Scale, Seeded, apportion, seed
from web import db
from web.models import Opening
from web.models_results import ResultCell
from web.report_period import Period
from web.report_query import Breakdown, Channels, ReportQuery, run_report

TINY = Scale(communes=2, first_box="2025-11", months=2, ballots=12_345)
OFFICIAL = ("button", "phone_ticket")


def _sums(seeded: Seeded, key, channels=OFFICIAL) -> dict:
    """The seeded levels summed by ``key(unit, clerk, box)`` over ``channels``."""
    found: dict = defaultdict(lambda: [0, 0, 0])
    for (unit, clerk, box, channel), levels in seeded.figures.items():
        if channel in channels:
            for i, value in enumerate(levels):
                found[key(unit, clerk, box)][i] += value
    return dict(found)


def _levels(row) -> list[int]:
    return [row.levels.very_satisfied, row.levels.satisfied, row.levels.not_satisfied]


def test_apportion_sums_exactly_in_proportion() -> None:
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]
    assert sum(apportion(10_000_000, [0.3, 1.7, 2.9, 0.01])) == 10_000_000
    assert apportion(7, [0, 1]) == [0, 7]


def test_tiny_seed_reports_equal_the_seeded_cells(migrated_database_url: str) -> None:
    engine = db.make_engine(migrated_database_url)
    try:
        seeded = seed(engine, TINY)
        year = Period.range("2025-11", "2025-12")
        with Session(engine) as session:
            # What was written: every month of every office opened, the cells all there.
            openings = session.execute(select(Opening.status, func.count()).group_by(
                Opening.status)).all()  # fmt: skip
            assert openings == [(Opening.OPENED, TINY.communes * TINY.months)]
            assert session.scalar(select(func.count()).select_from(ResultCell)) == seeded.cells
            assert session.scalar(select(func.sum(ResultCell.votes))) == TINY.ballots
            assert seeded.ballots == TINY.ballots
            supplements = session.scalars(
                select(ResultCell.box).where(ResultCell.supplement).distinct()
            ).all()
            assert supplements == ["2025-11"]  # December's opening counted November's late

            # The province by commune: each commune and the total, dossiers included.
            report = run_report(session, ReportQuery(seeded.province, year, Breakdown.UNIT))
            by_unit = _sums(seeded, lambda unit, clerk, box: str(unit))
            assert {row.key: _levels(row) for row in report.rows} == by_unit
            assert _levels(report.total) == [sum(v[i] for v in by_unit.values()) for i in
                                             range(3)]  # fmt: skip
            assert report.total.dossiers == seeded.dossiers
            assert report.months == ("2025-11", "2025-12")

            # Every clerk of the province (the ranking's rows).
            clerks = run_report(session, ReportQuery(seeded.province, year, Breakdown.CLERK))
            by_clerk = _sums(seeded, lambda unit, clerk, box: f"k{clerk}")
            assert {row.key: _levels(row) for row in clerks.rows} == by_clerk
            assert len(clerks.rows) == TINY.communes * TINY.clerks

            # One clerk's months (the trend), and the phone answers without a ticket apart.
            clerk = seeded.clerks[0]
            trend = run_report(
                session, ReportQuery(seeded.province, year, Breakdown.MONTH, clerk_id=clerk)
            )
            by_month = _sums(seeded, lambda unit, c, box: box if c == clerk else None)
            by_month.pop(None)
            assert {row.key: _levels(row) for row in trend.rows} == by_month
            screen = run_report(session, ReportQuery(seeded.province, year, Breakdown.UNIT,
                                                     channels=Channels.PHONE_SCREEN))  # fmt: skip
            by_screen = _sums(seeded, lambda unit, clerk, box: str(unit), ("phone_screen",))
            assert {row.key: _levels(row) for row in screen.rows} == by_screen
            assert report.total.votes + screen.total.votes == TINY.ballots
    finally:
        engine.dispose()
