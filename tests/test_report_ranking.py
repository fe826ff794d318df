"""The emulation table (thi đua): the ranking rule (pure), the year ranking over a real year
of openings equal to the minutes, its files equal to the page, the settings page, and a
province official reading it in a real Chromium."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from fractions import Fraction
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pypdf
import pytest
from sqlalchemy import select

from tests.report_helpers import minutes_by_box, opened_year, year_at_home
from tests.web_helpers import create_account, csrf_token, login
from web import db as web_db
from web.minutes_count import LevelCounts
from web.models import AuditEntry
from web.report_period import Period
from web.report_query import Breakdown, Report, ReportQuery, ReportRow
from web.report_ranking import rank
from web.report_settings import public_minimum, ranking_minimum

# --- the rule, pure ---------------------------------------------------------------------


def report(by: Breakdown, *rows: tuple[str, int, int, int]) -> Report:
    """A report of rows (name, very satisfied, satisfied, not satisfied)."""
    made = tuple(
        ReportRow(
            f"k{i}",
            name,
            LevelCounts(very, sat, not_sat),
            very + sat + not_sat,
            office="Bộ phận một cửa",
        )
        for i, (name, very, sat, not_sat) in enumerate(rows)
    )
    total = ReportRow("total", "Total", LevelCounts(0, 0, 0), 0)
    return Report(ReportQuery(1, Period.year(2026), by=by), "Tỉnh", made, total)


def test_ties_share_a_rank_listed_by_name_and_the_next_rank_is_skipped() -> None:
    ranking = rank(
        report(
            Breakdown.CLERK,
            ("Bình", 6, 2, 2),  # 8/10
            ("An", 3, 1, 1),  # 4/5: the same rate exactly
            ("Chi", 9, 0, 1),  # 9/10
            ("Dũng", 2, 4, 3),  # 6/9
            ("Em", 1, 0, 1),  # 2 ballots: below the minimum
            ("Giang", 0, 0, 0),  # no ballot
            ("Hà", 1, 1, 1),  # 2/3 = 6/9: a tie with Dũng
        ),
        minimum=3,
    )
    assert [(p.row.name, p.rank, p.tied) for p in ranking.ranked] == [
        ("Chi", 1, False),
        ("An", 2, True),  # equal rates: by name, the same rank
        ("Bình", 2, True),
        ("Dũng", 4, True),  # 1, 2, 2, 4
        ("Hà", 4, True),
    ]
    assert [(p.row.name, p.rank) for p in ranking.unranked] == [("Em", None), ("Giang", None)]
    assert ranking.minimum == 3
    assert all(p.interval is not None for p in ranking.ranked)
    assert ranking.unranked[1].interval is None  # nothing to say of no ballots
    # Few ballots: every interval overlaps the next rank's; the last rank has no next.
    assert [p.close_to_next for p in ranking.ranked] == [True, True, True, False, False]
    notes = " ".join(ranking.notes())
    assert "at least 3 ballots" in notes and "(1, 2, 2, 4)" in notes and "95%" in notes


def test_intervals_tell_clear_differences_from_chance() -> None:
    ranking = rank(
        report(
            Breakdown.OFFICE,
            ("Một cửa A", 900, 90, 10),  # 99,0 % of 1000
            ("Một cửa B", 300, 300, 400),  # 60,0 % of 1000
            ("Một cửa C", 3, 2, 5),  # 50 % of 10: wide
            ("Một cửa D", 400, 0, 600),  # 40 % of 1000
        ),
        minimum=10,
    )
    by_name = {p.row.name: p for p in ranking.ranked}
    assert [p.rank for p in ranking.ranked] == [1, 2, 3, 4]
    assert by_name["Một cửa A"].close_to_next is False  # 98,3–99,5 % against 57–63 %
    assert by_name["Một cửa B"].close_to_next is True  # overlaps C's 23,7–76,3 %
    assert by_name["Một cửa C"].close_to_next is True
    assert by_name["Một cửa D"].close_to_next is False  # the last
    low, high = by_name["Một cửa B"].interval
    assert 0.5693 < low < 0.5694 and 0.6299 < high < 0.63  # Wilson, z = 1,96
    # Exact fractions, never rounded percentages: 2/3 and 666 666/1 000 000 differ.
    close = rank(report(Breakdown.CLERK, ("X", 2, 0, 1), ("Y", 666_666, 0, 333_334)), 1)
    assert [(p.row.name, p.rank, p.tied) for p in close.ranked] == [
        ("X", 1, False), ("Y", 2, False)
    ]  # fmt: skip
    # Rows of one rank are each flagged against the next rank, not against each other.
    tie = rank(report(Breakdown.CLERK, ("P", 1000, 0, 0), ("Q", 1000, 0, 0), ("R", 0, 0, 1000)), 1)
    assert [(p.rank, p.close_to_next) for p in tie.ranked] == [(1, False), (1, False), (3, False)]


def test_zero_ballots_and_what_a_ranking_refuses() -> None:
    nobody = rank(report(Breakdown.CLERK, ("An", 0, 0, 0)), minimum=0)
    assert nobody.ranked == () and nobody.minimum == 1  # no ballot, no rate: never ranked
    assert rank(report(Breakdown.CLERK), 30).ranked == ()
    # Within a tie, the Vietnamese alphabet: Đ after D, before E (not after Z).
    tied = rank(report(Breakdown.CLERK, ("Lê Thị Mai", 4, 0, 1), ("Đặng Văn Tuấn", 0, 8, 2),
                       ("Dương Văn An", 8, 0, 2), ("Ếch Văn Bé", 1, 3, 1)), 1)  # fmt: skip
    assert [p.row.name for p in tied.ranked] == [
        "Dương Văn An", "Đặng Văn Tuấn", "Ếch Văn Bé", "Lê Thị Mai"
    ]  # fmt: skip
    assert {p.rank for p in tied.ranked} == {1}
    with pytest.raises(ValueError):
        rank(report(Breakdown.MONTH, ("2026-01", 1, 0, 0)), 1)


# --- pages, files and settings over a real year -----------------------------------------


@pytest.fixture
def app(ceremony_app):
    return ceremony_app


class _Rows(HTMLParser):
    """Every table row's cells (header and body), as texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def page_tables(html: str) -> list[list[list[str]]]:
    parser = _Rows()
    parser.feed(html)
    return parser.tables


def browser(app, username: str):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    assert login(client, username).status_code == 302
    return client


def clerk_sums(app, offices: tuple[int, ...]) -> dict[str, LevelCounts]:
    """Each clerk's official ballots of 2026 summed over the minutes (main counts and the
    supplements they carry)."""
    found: dict[str, Counter] = {}
    for office in offices:
        for minutes in minutes_by_box(app, office).values():
            counts = [(minutes.box, minutes.count)]
            counts += [(s.box, s.count) for s in minutes.supplements]
            for box, count in counts:
                assert box.startswith("2026-")
                for row in count.by_clerk:
                    levels = found.setdefault(row.name, Counter())
                    levels.update(row.by_level.to_json())
    return {name: LevelCounts(c["very_satisfied"], c["satisfied"], c["not_satisfied"])
            for name, c in found.items()}  # fmt: skip


def test_the_year_ranking_is_the_minutes_and_its_files_say_the_same(app, tmp_path) -> None:
    rig = opened_year(app, app.test_client(), tmp_path)
    with app.app_context():
        create_account("xem-tinh", "Người xem tỉnh", "viewer", rig.province)
        create_account("ky-thuat-tinh", "Kỹ thuật viên", "technician", None)
        create_account("quan-tri-xa", "Quản trị xã", "admin", rig.dong_unit)
        web_db.session().commit()
    sums = clerk_sums(app, (rig.dong, rig.hac))
    assert len(sums) == 4 and all(sum(c.to_json().values()) > 0 for c in sums.values())

    # The settings page: an administrator over the whole tree sets the minimum.
    admin = browser(app, "admin")
    form = admin.get("/manage/report-settings?lang=en")
    assert form.status_code == 200 and 'value="30"' in form.text and 'value="10"' in form.text
    assert "/manage/report-settings" in admin.get("/manage/units").text  # in the navigation
    fewest = min(sums, key=lambda name: sum(sums[name].to_json().values()))
    minimum = sum(sums[fewest].to_json().values()) + 1  # excludes exactly the fewest
    assert sorted(sum(c.to_json().values()) for c in sums.values())[1] >= minimum
    for wrong in ("0", "abc", "100001", "", "1e3", "٣"):
        refused = admin.post("/manage/report-settings?lang=vi", data={
            "csrf_token": csrf_token(form.text), "ranking_minimum": wrong, "public_minimum": "5",
        })  # fmt: skip
        assert refused.status_code == 400
        assert "nhập một số nguyên từ 1 đến 100.000" in refused.text
    saved = admin.post("/manage/report-settings", data={
        "csrf_token": csrf_token(form.text), "ranking_minimum": str(minimum),
        "public_minimum": "5",
    }, follow_redirects=True)  # fmt: skip
    assert saved.status_code == 200
    assert f"ít nhất {minimum} phiếu" in saved.text  # the confirmation
    assert f'value="{minimum}"' in saved.text
    with app.app_context():
        session = web_db.session()
        assert (ranking_minimum(session), public_minimum(session)) == (minimum, 5)
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "report_settings_changed")
        ).one()
        assert entry.detail == {
            "before": {"ranking_minimum": 30, "public_minimum": 10},
            "after": {"ranking_minimum": minimum, "public_minimum": 5},
        }
    for username, status in (("xem-tinh", 403), ("ky-thuat-tinh", 403), ("quan-tri-xa", 403)):
        other = browser(app, username)
        assert other.get("/manage/report-settings").status_code == status
        token = csrf_token(other.get("/").text)  # (the logout form's)
        tried = other.post("/manage/report-settings", data={
            "csrf_token": token, "ranking_minimum": "1", "public_minimum": "1"})  # fmt: skip
        assert tried.status_code == status

    # The province official's year ranking: by default the year of the latest results.
    viewer = browser(app, "xem-tinh")
    page = viewer.get(f"/reports/ranking?unit={rig.province}&who=clerk&lang=en")
    assert page.status_code == 200, page.text
    assert "Year 2026" in page.text
    ranked, unranked = page_tables(page.text)
    header = ranked[0]
    assert header == ["Rank", "Clerk", "Office", "Ballots", "Very satisfied", "Satisfied",
                      "Not satisfied", "Satisfaction rate", "95% interval", "Note"]  # fmt: skip
    assert unranked[0] == header
    shown = {row[1]: row for row in ranked[1:] + unranked[1:]}
    assert set(shown) == set(sums)
    for name, levels in sums.items():
        row = shown[name]
        ballots = sum(levels.to_json().values())
        assert row[3:7] == [str(ballots), str(levels.very_satisfied), str(levels.satisfied),
                            str(levels.not_satisfied)]  # fmt: skip
        happy = levels.very_satisfied + levels.satisfied
        assert row[7] == f"{100 * happy / ballots:.2f}".replace(".", ",") + "%"
        assert re.fullmatch(r"\d+,\d\d% – \d+,\d\d%", row[8])
    assert [row[1] for row in unranked[1:]] == [fewest]
    assert unranked[1][0] == "—" and f"not ranked: fewer than {minimum} ballots" in unranked[1][9]
    rates = [Fraction(sums[row[1]].very_satisfied + sums[row[1]].satisfied,
                      sum(sums[row[1]].to_json().values())) for row in ranked[1:]]  # fmt: skip
    assert rates == sorted(rates, reverse=True)
    assert [row[0] for row in ranked[1:]] == [str(1 + sum(r > mine for r in rates))
                                              for mine in rates]  # fmt: skip
    assert f"Only clerks with at least {minimum} ballots" in page.text  # the rule under it
    rule = page.text.index("How the ranking is made")
    assert rule > page.text.index(unranked[1][1])

    # The files: the same table.
    query = f"unit={rig.province}&who=clerk&period=year&year=2026&lang=en"
    assert page_tables(viewer.get(f"/reports/ranking?{query}").text) == [ranked, unranked]
    body = ranked[1:] + unranked[1:]
    workbook = openpyxl.load_workbook(io.BytesIO(viewer.get(f"/reports/ranking.xlsx?{query}").data))
    sheet = [list(r) for r in workbook.active.iter_rows(values_only=True)]
    start = sheet.index(header)
    for got, want in zip(sheet[start + 1 : start + 1 + len(body)], body, strict=True):
        assert isinstance(got[7], float)  # a rate a spreadsheet computes with
        texts = [f"{100 * v:.2f}".replace(".", ",") + "%" if isinstance(v, float)
                 else "—" if v is None else str(v) for v in got]  # fmt: skip
        assert texts == [cell or "—" for cell in want]
    assert any(f"at least {minimum} ballots" in str(r[0]) for r in sheet[start + len(body) :])
    lines = list(csv.reader(io.StringIO(viewer.get(f"/reports/ranking.csv?{query}").text)))
    start = lines.index(header)
    assert [[c or "—" if i == 0 else c for i, c in enumerate(r)]
            for r in lines[start + 1 : start + 1 + len(body)]] == body  # fmt: skip
    pdf = viewer.get(f"/reports/ranking.pdf?{query}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf.data)).pages)
    flat = "".join(text.split())
    assert "CỘNGHÒAXÃHỘICHỦNGHĨAVIỆTNAM" in flat and "TỈNHTHANHHÓA" in flat
    for row in body:
        for cell in (row[1], row[7], row[8]):
            assert "".join(cell.split()) in flat, cell
    assert f"Onlyclerkswithatleast{minimum}ballots" in flat

    # Offices too; scope, roles and bad input.
    offices = viewer.get(f"/reports/ranking?unit={rig.province}&who=office&lang=en")
    assert offices.status_code == 200 and "Emulation ranking of offices" in offices.text
    commune = browser(app, "xem-hac")  # a viewer of Hạc Thành
    assert commune.get(f"/reports/ranking?unit={rig.province}").status_code == 404
    assert commune.get(f"/reports/ranking.xlsx?unit={rig.dong_unit}").status_code == 404
    own = commune.get("/reports/ranking?lang=en")  # their own unit by default
    assert own.status_code == 200 and "Đông" not in own.text and "Lê Thị Mai" in own.text
    assert browser(app, "kt-tinh").get("/reports/ranking").status_code == 403
    for wrong, words in [
        ("unit=abc", "not a unit number"),
        ("who=everyone", "who: rank either clerks"),
        ("period=year&year=1999", "1999 is not a year"),
        ("period=month&month=2026-13", "2026-13 is not a month"),
        ("period=week", "Unknown period"),
        ("unit=99999999999999", "not a unit number"),
    ]:
        for path in ("/reports/ranking", "/reports/ranking.pdf"):
            answer = viewer.get(f"{path}?{wrong}&lang=en")
            assert answer.status_code == 400 and words in answer.text, (wrong, answer.text)
    assert viewer.get("/reports/ranking?unit=987654").status_code == 404
    assert viewer.get(f"/reports/ranking.docx?unit={rig.province}").status_code == 404


# --- a province official in a real Chromium ---------------------------------------------

from tests.browser import chromium_page, needs_chromium  # noqa: E402


@pytest.fixture
def year_server(isolated_home: Path, sqlite_template: Path, tmp_path: Path):
    """The real server (its own process) over a year of openings, on 05/01/2027."""
    from tests.web_process import WebProcess

    with year_at_home(isolated_home, sqlite_template, tmp_path) as (app, rig), app.app_context():
        create_account("xem-tinh", "Người xem tỉnh", "viewer", rig.province)
        web_db.session().commit()
    server = WebProcess(isolated_home, clock="2027-01-05T09:00:00+07:00")
    yield server
    server.stop()


@needs_chromium
def test_a_province_official_reads_the_year_ranking_and_its_rule(year_server) -> None:
    from tests.web_helpers import PASSWORD

    with chromium_page(width=1200) as page:
        page.goto(year_server.url + "login")
        page.get_by_label("Tên tài khoản").fill("xem-tinh")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.get_by_role("heading", name="Hòm phiếu", exact=True).wait_for()
        page.goto(year_server.url + "reports/ranking")  # their province, the latest year
        title = "Bảng xếp hạng thi đua công chức theo tỷ lệ hài lòng"
        assert page.get_by_role("heading", name=title).is_visible()
        assert "Tỉnh Thanh Hóa · Năm 2026" in page.locator("main").inner_text()
        table = page.get_by_role("table").first
        assert table.get_by_role("row", name="Nguyễn Thị Lan").is_visible()
        assert table.get_by_role("row").count() == 5  # the header and four clerks
        rule = page.get_by_role("region", name="Cách xếp hạng")
        assert rule.is_visible()
        words = rule.inner_text()
        assert "Chỉ xếp hạng công chức có ít nhất 30 phiếu trong kỳ" in words
        assert "(1, 2, 2, 4)" in words and "khoảng tin cậy Wilson 95%" in words
        below = table.bounding_box()
        assert rule.bounding_box()["y"] > below["y"] + below["height"]  # under the table
        with page.expect_download() as download:
            page.get_by_role("link", name="XLSX").click()
        assert download.value.suggested_filename == "xep-hang-clerk-2026-01-2026-12.xlsx"
        sheet = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes())).active
        page.screenshot(path="/tmp/h3-ranking.png", full_page=True)
        cells = [str(c) for row in sheet.iter_rows(values_only=True) for c in row if c]
        assert title in cells and "Nguyễn Thị Lan" in cells
        page.get_by_label("Đối tượng xếp hạng").select_option("office")  # offices instead
        page.get_by_role("button", name="Xem bảng xếp hạng").click()
        offices = "Bảng xếp hạng thi đua bộ phận một cửa theo tỷ lệ hài lòng"
        page.get_by_role("heading", name=offices).wait_for()
