"""Reports over opened results: a province report, a year ranking and a clerk's trend,
as ``web.report_query.run_report`` calls and as pages, each beside reading the same cells.

A province-year (``bench/report_seed.py``: 130 communes, 4 clerks and 3 counters each,
12 opened months, 10 M ballots) is seeded into PostgreSQL when one answers (its public
schema is DROPPED and recreated), and one commune's decade (120 opened months of one
office) into SQLite, a file on the measured disk. Seeding is not measured. Then, on each:

* **province report**: ``run_report`` of the province by commune (``Breakdown.UNIT``);
* **year ranking**: ``run_report`` by clerk over the province, then
  ``web.report_ranking.rank`` with the ranking minimum;
* **clerk's trend**: ``run_report`` of one clerk by month (on SQLite over the decade);
* the pages ``/reports``, ``/reports/ranking`` and ``/reports/trend`` of the same, through
  Flask's test client, logged in as a viewer of the province (those that exist).

Each is run 50 times (10 with ``--quick``) after 3 unrecorded runs, alternating with its
**floor**: the database reading the same cells (the unit in the province, the month in the
period, the official channels) and summing each level once, with no grouping and one row
back: the read no report of them can skip. p50 and p95 (nearest rank); the target is a
p95 ≤ 150 ms.
"""

from __future__ import annotations

import dataclasses
import gc
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bench.ingest import home, postgresql_url, reset_postgresql
from bench.report import Row, Settings, log, percentile, ratio
from bench.report_seed import COMMUNE_DECADE, PASSWORD, PROVINCE_YEAR, Scale, Seeded, seed
from web import create_app, db
from web.models_results import ResultCell
from web.report_period import Period
from web.report_query import Breakdown, Channels, ReportQuery, run_report
from web.report_settings import ranking_minimum
from web.services import close_app
from web.unit_tree import subtree

ORDER = 9
RUNS, RUNS_QUICK = 50, 10
WARMUP = 3
TARGET_MS = 150
QUICK_SHRINK = 10  # --quick seeds a tenth of the communes (and ballots)
LEVEL_COLUMNS = (ResultCell.very_satisfied, ResultCell.satisfied, ResultCell.not_satisfied)


@dataclass(frozen=True, slots=True)
class Case:
    label: str  # what is measured, for the table
    subject: Callable[[], object]
    floor: Callable[[], int]  # the number of cells it read


@dataclass(frozen=True, slots=True)
class Periods:
    report: Period  # the province report's
    ranking: Period
    trend: Period


def _rank():
    """``web.report_ranking.rank`` when it exists (another change brings it), else None."""
    try:
        from web.report_ranking import rank
    except ImportError:
        return None
    return rank


def floor_of(engine: Engine, units: list[int], period: Period, clerk: int | None = None):
    """Have the database read every cell a report of ``units`` over ``period`` (of one
    clerk) sums, and sum each level once: one query, no grouping, one row back.

    Not ``fetchall`` of the cells: bringing 38,870 rows into Python costs more than the
    whole report, which lets the database do the sums (bench/README.md)."""
    statement = select(*(func.sum(column) for column in LEVEL_COLUMNS), func.count()).where(
        ResultCell.unit_id.in_(units),
        ResultCell.box >= period.first,
        ResultCell.box <= period.last,
        ResultCell.channel.in_(Channels.OFFICIAL.values()),
    )
    if clerk is not None:
        statement = statement.where(ResultCell.clerk_id == clerk)

    def read() -> int:
        """The number of cells read."""
        with engine.connect() as connection:
            return connection.execute(statement).one()[3]

    return read


def report_cases(engine: Engine, seeded: Seeded, periods: Periods) -> list[Case]:
    """The three reports as ``run_report`` calls (the ranking with ``rank`` when it exists)."""
    province, clerk = seeded.province, seeded.clerks[0]
    with Session(engine) as session:
        units = subtree(session, province)
    rank = _rank()

    def report(query: ReportQuery) -> Callable[[], object]:
        def call() -> object:
            with Session(engine) as session:
                return run_report(session, query)

        return call

    def ranking() -> object:
        with Session(engine) as session:
            made = run_report(session, ReportQuery(province, periods.ranking, Breakdown.CLERK))
            return made if rank is None else rank(made, ranking_minimum(session))

    ranked = "run_report by clerk + rank" if rank else "run_report by clerk (no rank() yet)"
    return [
        Case(
            f"province report by commune, {_period(periods.report)} (run_report)",
            report(ReportQuery(province, periods.report, Breakdown.UNIT)),
            floor_of(engine, units, periods.report),
        ),
        Case(
            f"year ranking of clerks, {_period(periods.ranking)} ({ranked})",
            ranking,
            floor_of(engine, units, periods.ranking),
        ),
        Case(
            f"a clerk's trend by month, {_period(periods.trend)} (run_report)",
            report(ReportQuery(province, periods.trend, Breakdown.MONTH, clerk_id=clerk)),
            floor_of(engine, units, periods.trend, clerk),
        ),
    ]


def page_cases(
    app: Flask, engine: Engine, seeded: Seeded, periods: Periods
) -> tuple[list[Case], list[str]]:
    """The same three as pages, for those that exist; and the names of those that do not."""
    client = viewer_client(app, seeded.viewer)
    with Session(engine) as session:
        units = subtree(session, seeded.province)
    province, clerk = str(seeded.province), str(seeded.clerks[0])
    last = len(seeded.communes)  # what each page must show: the last commune, its last
    # clerk (the seed names them "… Bench 130", "Cán bộ 130-4") and the trend's clerk
    wanted = [
        ("/reports", {"unit": province, "by": "unit", **periods.report.to_args()},
         "province report page", f"Bench {last:03d}", floor_of(engine, units, periods.report)),
        ("/reports/ranking", {"unit": province, "who": "clerk", **periods.ranking.to_args()},
         "year ranking page", f"Cán bộ {last:03d}-", floor_of(engine, units, periods.ranking)),
        ("/reports/trend", {"clerk": clerk, **periods.trend.to_args()}, "clerk's trend page",
         "Cán bộ 001-1", floor_of(engine, units, periods.trend, seeded.clerks[0])),
    ]  # fmt: skip
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    cases, missing = [], []
    for path, args, name, expected, floor in wanted:
        if path not in routes:
            missing.append(path)
            continue
        label = f"{name} GET {path} ({_period_of(args)})"
        cases.append(Case(label, _get(client, path, args, expected), floor))
    return cases, missing


def viewer_client(app: Flask, username: str) -> FlaskClient:
    """A test client over HTTPS (the cookies are Secure), logged in as ``username``."""
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    if token is None:
        raise RuntimeError("no CSRF token on the login page")
    answer = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token[1]}
    )
    if answer.status_code != 302:
        raise RuntimeError(f"login refused ({answer.status_code})")
    return client


def _get(
    client: FlaskClient, path: str, args: dict[str, str], expected: str
) -> Callable[[], object]:
    """One GET of the page, which must be a 200 showing ``expected`` (not some default)."""
    wanted = expected.encode()

    def get() -> object:
        answer = client.get(path, query_string=args)
        if answer.status_code != 200 or wanted not in answer.data:
            raise RuntimeError(f"GET {path} {args}: {answer.status_code}, {expected!r} "
                               f"{'shown' if wanted in answer.data else 'not shown'}")  # fmt: skip
        return answer.data

    return get


def time_case(case: Case, runs: int) -> tuple[list[int], list[int]]:
    """Nanoseconds of each run of the subject and of the floor, alternating (which goes first
    alternating too), after WARMUP unrecorded runs of each."""
    for _ in range(WARMUP):
        case.subject()
        case.floor()
    gc.collect()  # as `hom-phieu web serve` does after start-up: the long-lived objects
    gc.freeze()  # kept out of the collector's full passes
    subject, floor = [], []
    for n in range(runs):
        pair = [(case.subject, subject), (case.floor, floor)]
        for call, samples in pair if n % 2 == 0 else reversed(pair):
            started = time.perf_counter_ns()
            call()
            samples.append(time.perf_counter_ns() - started)
    return subject, floor


def row(database: str, case: Case, subject: list[int], floor: list[int], cells: int) -> Row:
    s50, s95 = percentile(subject, 50), percentile(subject, 95)
    f50, f95 = percentile(floor, 50), percentile(floor, 95)
    verdict = "met" if s95 <= TARGET_MS * 1e6 else "MISSED"
    rows = case.floor()
    log(f"  {database}: {case.label}: p95 {_ms(s95)} (floor {_ms(f95)}), target {verdict}")
    return Row(
        f"Reports, {database}: {case.label} ({len(subject)} runs)",
        f"p50 {_ms(s50)}, p95 {_ms(s95)} (target p95 ≤ {TARGET_MS} ms: {verdict})",
        f"p50 {_ms(f50)}, p95 {_ms(f95)} (summing {rows:,} of {cells:,} cells)",
        f"{ratio(s95, f95)} at p95 ({ratio(s50, f50)} at p50)",
    )


def measure(
    database: str, url: str, scale: Scale, periods: Periods, runs: int, workdir: Path
) -> list[Row]:
    """Seed ``scale`` at ``url`` (migrated, empty) and measure every case on it."""
    db.upgrade(url)
    engine = db.make_engine(url)
    app = None
    try:
        log(f"  {database}: seeding {scale.communes} communes × {scale.months} months, "
            f"{scale.ballots:,} ballots")  # fmt: skip
        started = time.perf_counter()
        seeded = seed(engine, scale)
        log(f"  {database}: {seeded.cells:,} cells in {time.perf_counter() - started:.1f} s")
        communes = f"{scale.communes} commune{'s' if scale.communes > 1 else ''}"
        what = f"{communes} × {scale.months} months, {seeded.ballots:,} ballots"

        def timed(case: Case) -> Row:
            try:
                subject, floor = time_case(case, runs)
            except Exception as exc:  # a page still being written, say: the others still run
                log(f"  {database}: {case.label}: failed: {type(exc).__name__}: {exc}"[:400])
                return Row(f"Reports, {database}: {case.label}: failed (see stderr)", "—", "—", "—")
            labelled = dataclasses.replace(case, label=f"{case.label} [{what}]")
            return row(database, labelled, subject, floor, seeded.cells)

        rows = [timed(case) for case in report_cases(engine, seeded, periods)]
        try:
            with home(workdir / "home"):
                app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "bench"})
                pages, missing = page_cases(app, engine, seeded, periods)
        except Exception as exc:
            log(f"  {database}: the pages failed: {type(exc).__name__}: {exc}"[:400])
            return [*rows, Row(f"Reports, {database}: pages: failed (see stderr)", "—", "—", "—")]
        rows += [timed(case) for case in pages]
        rows += [Row(f"Reports, {database}: page {path}: not available", "—", "—", "—")
                 for path in missing]  # fmt: skip
        return rows
    finally:
        if app is not None:
            close_app(app)
        engine.dispose()


def run(settings: Settings) -> list[Row]:
    settings.workdir.mkdir(parents=True, exist_ok=True)
    runs = RUNS_QUICK if settings.quick else RUNS
    province, decade = PROVINCE_YEAR, COMMUNE_DECADE
    if settings.quick:
        province = dataclasses.replace(province, communes=province.communes // QUICK_SHRINK,
                                       ballots=province.ballots // QUICK_SHRINK)  # fmt: skip
    year = Period.year(int(province.boxes()[-1][:4]))
    boxes = decade.boxes()
    whole = Period.range(boxes[0], boxes[-1])
    last_year = Period.year(int(boxes[-1][:4]))
    rows = []
    pg_url, why = postgresql_url()
    if pg_url is None:
        log(f"  reports: PostgreSQL not available ({why})")
        rows.append(Row("Reports, PostgreSQL: not available", "—", "—", "—"))
    else:
        try:  # a shared test database may be dropped under us by a concurrent test run
            reset_postgresql(pg_url)
            rows += measure("PostgreSQL", pg_url, province, Periods(year, year, year), runs,
                            settings.workdir / "pg")  # fmt: skip
        except Exception as exc:
            log(f"  reports: PostgreSQL failed: {type(exc).__name__}: {str(exc)[:300]}")
            rows.append(Row("Reports, PostgreSQL: failed (the error is on stderr)", "—", "—", "—"))
        finally:
            reset_postgresql(pg_url)
    sqlite_url = f"sqlite:///{settings.workdir / 'reports.sqlite3'}"
    rows += measure("SQLite", sqlite_url, decade, Periods(whole, last_year, whole), runs,
                    settings.workdir / "sqlite")  # fmt: skip
    return rows


def _period(period: Period) -> str:
    return period.first[:4] if period.first[:4] == period.last[:4] else (
        f"{period.first}..{period.last}")  # fmt: skip


def _period_of(args: dict[str, str]) -> str:
    return args.get("year") or f"{args.get('from')}..{args.get('to')}"


def _ms(ns: float) -> str:
    return f"{ns / 1e6:.1f} ms"
