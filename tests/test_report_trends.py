"""Trends and comparisons over a year of real openings: every figure is a sum of the monthly
minutes (each box's count and the supplements filed under it), the same period last year
beside them, the SVG chart valid and escaped, the reader's scope kept, and the files saying
what the page says."""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pypdf
import pytest
from sqlalchemy import select

from tests.browser import chromium_page, needs_chromium
from tests.report_helpers import minutes_by_box, opened_year, year_at_home
from tests.web_helpers import PASSWORD, create_account, login
from web import db as web_db
from web.box_count import LEVELS
from web.ceremony_calendar import box_label
from web.models import Clerk, Unit
from web.report_charts import percent_short
from web.report_stats import Rate

SVG = "{http://www.w3.org/2000/svg}"
HASH = "Mã kiểm tra nội dung (SHA-256)"


@pytest.fixture
def app(ceremony_app):
    return ceremony_app


class _Tables(HTMLParser):
    """Every table's rows of cell texts, by the table's id; the first column's links."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.links: dict[str, str] = {}
        self._table: str | None = None
        self._cell: str | None = None
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs) -> None:
        attrs = dict(attrs)
        if tag == "table":
            self._table = attrs.get("id") or ""
            self.tables[self._table] = []
        elif self._table is not None and tag == "tr":
            self.tables[self._table].append([])
        elif self._table is not None and tag in ("td", "th"):
            self._cell = ""
        elif self._cell is not None and tag == "a":
            self._href = unescape(attrs["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif self._table is not None and tag in ("td", "th") and self._cell is not None:
            text = " ".join(self._cell.split())
            row = self.tables[self._table][-1]
            if self._href and not row:
                self.links[text] = self._href
            row.append(text)
            self._cell, self._href = None, None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data


class Page:
    def __init__(self, html: str, table_id: str) -> None:
        parser = _Tables()
        parser.feed(html)
        self.html = html
        self.header, *self.rows = parser.tables[table_id]
        self.links = parser.links
        svg = re.search(r"<svg.*?</svg>", html, re.S)
        self.svg = svg.group(0) if svg else ""
        found = re.search(r"<code[^>]*>([0-9a-f]{64})</code>", html)
        self.hash = found.group(1) if found else None


def get(client, url: str, table_id: str) -> Page:
    response = client.get(url)
    assert response.status_code == 200, (url, response.text[:1500])
    return Page(response.text, table_id)


def figures(levels: list[int]) -> list[str]:
    """A row's cells as the page shows them: ballots, levels, rate, interval."""
    votes = sum(levels)
    if not votes:
        return ["—", "—", "—", "—", "—", "—"]
    rate = Rate(levels[0] + levels[1], votes)
    return [str(votes), *map(str, levels), rate.text(), rate.interval_text()]


def monthly(app, office_id: int, clerk: str | None = None) -> dict[str, list[int]]:
    """Per month: the office's (or one clerk's) ballots per level, summed from the minutes:
    the box's own count and every later opening's supplement filed under that box."""
    sums: dict[str, list[int]] = {}
    for box, minutes in minutes_by_box(app, office_id).items():
        pieces = [(box, minutes.count)] + [(s.box, s.count) for s in minutes.supplements]
        for month, count in pieces:
            rows = [count] if clerk is None else [r for r in count.by_clerk if r.key == clerk]
            summed = sums.setdefault(month, [0, 0, 0])
            for row in rows:
                for i, level in enumerate(LEVELS):
                    summed[i] += row.by_level[level]
    return dict(sorted(sums.items()))


def total(by_month: dict[str, list[int]]) -> list[int]:
    return [sum(levels[i] for levels in by_month.values()) for i in range(3)]


def year_with_readers(app, tmp_path: Path):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    rig = opened_year(app, client, tmp_path)
    with app.app_context():
        create_account("xem-tinh", "Người xem tỉnh", "viewer", rig.province)
        web_db.session().commit()
    return client, rig


def check_svg(svg: str, title_part: str) -> ET.Element:
    root = ET.fromstring(svg)  # valid XML
    assert root.tag == SVG + "svg" and root.get("role") == "img" and root.get("viewBox")
    title, desc = root.find(SVG + "title"), root.find(SVG + "desc")
    assert title is not None and title_part in title.text
    assert desc is not None and desc.text
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert "<script" not in svg and "http://" not in svg.replace('xmlns="http://www.w3.org', "")
    return root


def test_trends_and_comparisons_are_sums_of_the_minutes(app, tmp_path) -> None:
    client, rig = year_with_readers(app, tmp_path)
    assert login(client, "xem-tinh").status_code == 302
    dong, hac = monthly(app, rig.dong), monthly(app, rig.hac)
    assert sum(total(dong)) and "2026-03" in dong

    # An office's months: by default the year of the latest opened results (2026), though
    # the server's clock is in 2027; nothing a year earlier.
    page = get(client, f"/reports/trend?office={rig.dong}", "trend-table")
    expected = [[box_label(box), *figures(levels)] for box, levels in dong.items()]
    assert page.rows[:-2] == expected
    assert page.rows[-2] == ["Tổng cộng", *figures(total(dong))]
    assert page.rows[-1][1:] == ["—"] * 6  # no 2025 results: "—", not an error
    assert "2025" in page.rows[-1][0]
    root = check_svg(page.svg, "Bộ phận một cửa Xã Đông Thanh")
    texts = [t.text for t in root.iter(SVG + "text")]
    assert "03/2026" in texts and "12/2026" in texts
    march = Rate(dong["2026-03"][0] + dong["2026-03"][1], sum(dong["2026-03"]))
    assert march.value is not None and percent_short(march.value) in texts

    # A clerk's months (lan's March includes the late kiosk's ballots, filed under March).
    lan = monthly(app, rig.dong, "lan")
    page = get(client, f"/reports/trend?clerk={rig.clerks['lan']}", "trend-table")
    assert page.rows[:-2] == [[box_label(b), *figures(v)] for b, v in lan.items() if sum(v)]
    assert page.rows[-2] == ["Tổng cộng", *figures(total(lan))]
    check_svg(page.svg, "Nguyễn Thị Lan")
    mai = monthly(app, rig.hac, "mai")
    page = get(client, f"/reports/trend?clerk={rig.clerks['mai']}&period=quarter&year=2026"
               "&quarter=2", "trend-table")  # fmt: skip
    quarter = {box: mai[box] for box in ("2026-04", "2026-05", "2026-06")}
    assert page.rows[:-2] == [[box_label(b), *figures(v)] for b, v in quarter.items()]
    assert page.rows[-2][1:] == figures(total(quarter))

    # The same period last year: 2027 has nothing yet, 2026 is its last year.
    page = get(client, f"/reports/trend?office={rig.dong}&period=year&year=2027", "trend-table")
    assert page.rows[0] == ["Tổng cộng", *["—"] * 6]
    assert page.rows[1][1:] == figures(total(dong))
    assert page.svg.count("—") >= 12  # every month drawn, empty

    # Communes of the province compared, then the offices of a commune.
    page = get(client, f"/reports/compare?unit={rig.province}", "compare-table")
    assert [row[0] for row in page.rows] == ["Phường Hạc Thành", "Xã Đông Thanh", "Tổng cộng"]
    assert page.rows[0][1:] == [*figures(total(hac)), "—"]
    assert page.rows[1][1:] == [*figures(total(dong)), "—"]
    both = [a + b for a, b in zip(total(dong), total(hac), strict=True)]
    assert page.rows[2][1:] == [*figures(both), "—"]
    assert f"unit={rig.dong_unit}" in page.links["Xã Đông Thanh"]
    check_svg(page.svg, "Tỉnh Thanh Hóa")
    page = get(client, f"/reports/compare?unit={rig.province}&period=year&year=2027",
               "compare-table")  # fmt: skip
    dong_rate = Rate(total(dong)[0] + total(dong)[1], sum(total(dong)))
    hac_rate = Rate(total(hac)[0] + total(hac)[1], sum(total(hac)))
    assert page.rows[0][1:] == [*["—"] * 6, hac_rate.text()]
    assert page.rows[1][1:] == [*["—"] * 6, dong_rate.text()]
    root = check_svg(page.svg, "Tỉnh Thanh Hóa")
    assert root.find(f"{SVG}defs/{SVG}pattern") is not None  # last year: hatched bars
    page = get(client, f"/reports/compare?unit={rig.dong_unit}", "compare-table")
    assert page.rows == [["Bộ phận một cửa Xã Đông Thanh", *figures(total(dong)), "—"],
                         ["Tổng cộng", *figures(total(dong)), "—"]]  # fmt: skip
    assert f"office={rig.dong}" in page.links["Bộ phận một cửa Xã Đông Thanh"]

    # Names are text, never markup: in the page, the table and the chart.
    with app.app_context():
        session = web_db.session()
        session.get(Clerk, rig.clerks["lan"]).name = "<script>alert(1)</script> Lan"
        session.get(Unit, rig.hac_unit).name = 'Hạc "<b>&amp;'
        session.commit()
    page = get(client, f"/reports/trend?clerk={rig.clerks['lan']}", "trend-table")
    assert "<script>alert" not in page.html and "&lt;script&gt;alert(1)" in page.html
    check_svg(page.svg, "<script>alert(1)</script> Lan")
    page = get(client, f"/reports/compare?unit={rig.province}", "compare-table")
    assert "<b>" not in page.html and page.rows[0][0] == 'Hạc "<b>&amp;'
    root = check_svg(page.svg, "Tỉnh Thanh Hóa")
    assert 'Hạc "<b>&amp;' in [t.text for t in root.iter(SVG + "text")]


def test_scope_roles_and_bad_queries(app, tmp_path) -> None:
    client, rig = year_with_readers(app, tmp_path)
    lan, mai = rig.clerks["lan"], rig.clerks["mai"]
    assert login(client, "xem-hac").status_code == 302  # a viewer of Hạc Thành
    for url in (f"/reports/trend?clerk={lan}", f"/reports/trend?office={rig.dong}",
                f"/reports/trend.csv?clerk={lan}", f"/reports/compare?unit={rig.province}",
                f"/reports/compare?unit={rig.dong_unit}",
                f"/reports/compare.xlsx?unit={rig.dong_unit}",
                "/reports/trend?office=99999", "/reports/trend?clerk=99999",
                "/reports/compare?unit=99999", "/reports/trend?office=99999999999",
                f"/reports/trend.docx?clerk={mai}"):  # fmt: skip
        assert client.get(url).status_code == 404, url
    page = get(client, f"/reports/trend?clerk={mai}", "trend-table")
    assert "Lê Thị Mai" in page.html and len(page.rows) == 12 + 2
    page = get(client, f"/reports/compare?unit={rig.hac_unit}", "compare-table")
    assert page.rows[0][0] == "Bộ phận một cửa Phường Hạc Thành"
    assert f"unit={rig.province}" not in page.html  # no link to a level out of scope
    bad = {
        "trend?office=x": "office",
        f"trend?office={rig.hac}&clerk={mai}": "office",
        "trend": "clerk",
        f"trend?office={rig.hac}&period=year&year=abc": "abc",
        f"trend?office={rig.hac}&period=year&year=1999": "1999",
        f"trend?office={rig.hac}&period=month&month=2026-13": "2026-13",
        f"trend?office={rig.hac}&period=range&from=2026-05&to=2026-01": "",
        f"trend?office={rig.hac}&period=week": "",
        f"trend?office={rig.hac}&period=year&year=²⁰²⁶": "",
        "trend?office=²": "office",
        "compare": "unit",
        "compare?unit=-1": "-1",
        f"compare?unit={rig.hac_unit}&period=quarter&year=2026&quarter=5": "",
    }
    for query, named in bad.items():
        response = client.get("/reports/" + query)
        assert response.status_code == 400, query
        assert 'role="alert"' in response.text and named in response.text, query
        path, _sep, args = query.partition("?")
        assert client.get(f"/reports/{path}.pdf?{args}").status_code == 400, query
    assert client.get("/reports/trend?office=1%00").status_code == 400
    for username in ("kt-dong", "ngoai"):  # a technician; a committee member of Đông
        client.post("/logout")
        login(client, username)
        expected = 403 if username == "kt-dong" else 200
        assert client.get(f"/reports/trend?office={rig.dong}").status_code == expected
    assert client.get(f"/reports/trend?office={rig.hac}").status_code == 404


def _xlsx_text(value: object, shown: str) -> str:
    """An XLSX cell as the page shows it (a rate is a number: 1.0 may come back as 1)."""
    if isinstance(value, int | float) and shown.endswith("%"):
        return f"{100 * value:.2f}".replace(".", ",") + "%"
    return "—" if value is None else str(value)


def test_the_files_say_what_the_page_says(app, tmp_path) -> None:
    client, rig = year_with_readers(app, tmp_path)
    login(client, "xem-tinh")
    for path, args, table_id in (
        ("trend", f"office={rig.dong}", "trend-table"),
        ("trend", f"clerk={rig.clerks['binh']}&period=range&from=2026-02&to=2026-07",
         "trend-table"),
        ("compare", f"unit={rig.province}&period=year&year=2027", "compare-table"),
        ("compare", f"unit={rig.province}", "compare-table"),
    ):  # fmt: skip
        page = get(client, f"/reports/{path}?{args}", table_id)
        table = [page.header, *page.rows]
        assert page.hash is not None

        response = client.get(f"/reports/{path}.xlsx?{args}")
        assert response.status_code == 200
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith('attachment; filename="') and disposition.isascii()
        sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert [HASH, page.hash] in [row[:2] for row in rows]
        start = rows.index(page.header)
        written = rows[start : start + len(table)]
        assert [[_xlsx_text(v, shown) for v, shown in zip(row, page_row, strict=True)]
                for row, page_row in zip(written, table, strict=True)] == table  # fmt: skip
        assert all(
            isinstance(v, int) for row in written[1:] for v in row[1:5] if v not in (None, "—")
        )

        text = client.get(f"/reports/{path}.csv?{args}").data.decode("utf-8-sig")
        lines = list(csv.reader(io.StringIO(text)))
        assert [HASH, page.hash] in lines
        start = lines.index(page.header)
        assert lines[start : start + len(table)] == table

        pdf = pypdf.PdfReader(io.BytesIO(client.get(f"/reports/{path}.pdf?{args}").data))
        whole = "".join("".join(p.extract_text().split()) for p in pdf.pages)
        assert page.hash in whole
        for row in page.rows:  # (a narrow column may wrap a cell: compared without spaces)
            assert "".join("".join(row).split()) in whole, row


@pytest.fixture
def year_server(isolated_home: Path, sqlite_template: Path, tmp_path: Path):
    """The opened year on the server's own SQLite, served by a real process."""
    from tests.web_process import WebProcess

    with year_at_home(isolated_home, sqlite_template, tmp_path) as (app, rig), app.app_context():
        create_account("xem-tinh", "Người xem tỉnh", "viewer", rig.province)
        web_db.session().commit()
        dong_total = sum(total(monthly(app, rig.dong)))
        office_name = web_db.session().scalar(select(Unit.name).where(Unit.id == rig.dong_unit))
    server = WebProcess(isolated_home, clock="2027-01-05T09:00:00+07:00")
    yield server, rig, dong_total, office_name
    server.stop()


@needs_chromium
def test_a_province_official_opens_a_commune_trend(year_server) -> None:
    server, rig, dong_total, commune = year_server
    with chromium_page(width=390, height=844) as page:
        page.goto(server.url + "login")
        page.get_by_label("Tên tài khoản").fill("xem-tinh")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.get_by_role("heading", name="Hòm phiếu", exact=True).wait_for()
        # From the province's comparison down to the commune, then to its office's months.
        page.goto(f"{server.url}reports/compare?unit={rig.province}")
        page.locator("#compare-table").get_by_role("link", name=commune).click()
        page.locator("#compare-table").get_by_role(
            "link", name=f"Bộ phận một cửa {commune}"
        ).click()
        page.locator("#trend-table").wait_for()
        assert page.url.endswith(f"trend?office={rig.dong}&period=year&year=2026")
        chart = page.locator("svg[role=img]")
        assert chart.count() == 1 and chart.is_visible()
        assert chart.bounding_box()["width"] > 300
        assert "Bộ phận một cửa " + commune in chart.locator("title").text_content()
        named = page.get_by_role("img", name=re.compile("Bộ phận một cửa " + commune))
        assert named.count() == 1  # its accessible name: the title (and the description)
        assert chart.locator("rect").count() >= 12
        total_row = page.locator("#trend-table tr.total")
        assert total_row.locator("td").first.inner_text() == str(dong_total)
        # A phone's width: the page itself does not scroll sideways (the table does, inside).
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
