"""The report pages over a year of real openings (``tests.report_helpers.opened_year``):
every figure is the sum of the monthly minutes it covers, scope and roles hold, a sealed box
never appears, the files say what the page says, and no query reaches a 500."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from html import unescape
from html.parser import HTMLParser

import openpyxl
import pypdf
from sqlalchemy import func, select

from hom_phieu.i18n import language
from tests.report_helpers import account_for_clerk, minutes_by_box, opened_year
from tests.web_helpers import login
from web import db as web_db
from web.ceremony_calendar import box_label
from web.labels import CHANNEL_LABELS, label
from web.minutes import Count, Minutes
from web.models import LedgerRecord, Office
from web.models_results import ResultCell
from web.report_stats import Rate

LEVELS = ("very_satisfied", "satisfied", "not_satisfied")
BALLOTS, TOTAL, HASH = "Số phiếu", "Tổng cộng", "Mã kiểm tra nội dung (SHA-256)"
LEVEL_COLUMNS = ("Rất hài lòng", "Hài lòng", "Không hài lòng")
OFFICE = "Bộ phận một cửa"
Figures = tuple[int, int, int, int]  # ballots, then each level


class _Table(HTMLParser):
    """The cells of ``table#report``, and the links of its first column."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.links: dict[str, str] = {}
        self._in, self._cell, self._href = False, None, None

    def handle_starttag(self, tag: str, attrs) -> None:
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "report":
            self._in = True
        elif self._in and tag == "tr":
            self.rows.append([])
        elif self._in and tag in ("td", "th"):
            self._cell = ""
        elif self._in and tag == "a" and self._cell is not None:
            self._href = unescape(attrs["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in = False
        elif self._in and tag in ("td", "th") and self._cell is not None:
            text = " ".join(self._cell.split())
            if self._href and not self.rows[-1]:
                self.links[text] = self._href
            self.rows[-1].append(text)
            self._cell, self._href = None, None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data


class Page:
    def __init__(self, html: str) -> None:
        parser = _Table()
        parser.feed(html)
        self.html = html
        self.header, *self.rows = parser.rows
        self.links = parser.links
        found = re.search(r'id="content-hash">([0-9a-f]{64})<', html)
        self.hash = found.group(1) if found else None

    def figures(self) -> dict[str, Figures]:
        """Per row name (the total under "Tổng cộng"): ballots and each level. A counter's or
        a clerk's row is named with its office ("Quầy 1 · Bộ phận một cửa …")."""
        at = [self.header.index(BALLOTS), *(self.header.index(c) for c in LEVEL_COLUMNS)]
        with_office = self.header[1] == OFFICE
        return {
            f"{row[0]} · {row[1]}" if with_office and row[1] else row[0]: tuple(
                int(row[i]) for i in at
            )
            for row in self.rows
        }


def get_page(client, query: str) -> Page:
    response = client.get("/reports?" + query)
    assert response.status_code == 200, (query, response.text[:2000])
    return Page(response.text)


def _add(sums: dict[str, list[int]], key: str, levels, votes: int) -> None:
    summed = sums.setdefault(key, [0, 0, 0, 0])
    summed[0] += votes
    for i, level in enumerate(LEVELS, start=1):
        summed[i] += levels[level]


def counts(
    minutes: dict[int, dict[str, Minutes]], months: Iterable[str], *, unverified: bool = False
) -> list[tuple[int, str, Count]]:
    """(office, month, count) of every count filed under a month of ``months``: the box's own
    count and the late ballots of that box counted by later openings (supplements)."""
    wanted, found = set(months), []
    for office_id, by_box in minutes.items():
        for box, content in by_box.items():
            pieces = [(box, content.count)] + [(s.box, s.count) for s in content.supplements]
            for month, count in pieces:
                chosen = count.unverified if unverified else count
                if month in wanted and chosen is not None:
                    found.append((office_id, month, chosen))
    return found


def expected(pieces, key, rows: str | None = None) -> dict[str, Figures]:
    """Sums of the minutes' counts, per ``key(office, month, row)``, with the total."""
    sums: dict[str, list[int]] = {}
    for office_id, month, count in pieces:
        _add(sums, TOTAL, count.by_level, count.votes)
        if rows is None:
            _add(sums, key(office_id, month, None), count.by_level, count.votes)
        for row in getattr(count, rows) if rows else ():
            _add(sums, key(office_id, month, row), row.by_level, row.votes)
    return {name: tuple(values) for name, values in sums.items()}


def _browser(app):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"  # Secure cookies need HTTPS
    return client


def _year(app, client, tmp_path):
    rig = opened_year(app, client, tmp_path)
    minutes = {rig.dong: minutes_by_box(app, rig.dong), rig.hac: minutes_by_box(app, rig.hac)}
    with app.app_context():
        session = web_db.session()
        offices = {o.id: o.name for o in session.scalars(select(Office))}
        units = {o.id: o.unit.name for o in session.scalars(select(Office))}
    return rig, minutes, offices, units


MONTHS = tuple(f"2026-{m:02d}" for m in range(1, 13))


def test_every_figure_is_the_sum_of_the_minutes(ceremony_app, tmp_path) -> None:
    app = ceremony_app
    client = _browser(app)
    rig, minutes, offices, units = _year(app, client, tmp_path)
    assert any(s.box == "2026-03" for s in minutes[rig.dong]["2026-05"].supplements)
    login(client, "admin")
    province, year = f"unit={rig.province}", counts(minutes, MONTHS)

    # The default: the province, the latest year with opened results, by office.
    page = get_page(client, "")
    assert page.figures() == expected(year, lambda o, m, r: offices[o])
    assert "Năm 2026" in page.html
    by_unit = get_page(client, province + "&by=unit&period=year&year=2026")
    assert by_unit.figures() == expected(year, lambda o, m, r: units[o])
    assert len(by_unit.rows) == 3  # two communes and the total
    dong_row = next(row for row in by_unit.rows if row[0] == units[rig.dong])
    dossiers = sum(20 + n for n in range(1, 13) if n != 6)  # June's opening gave none
    assert dong_row[by_unit.header.index("Số hồ sơ đã trả kết quả")] == str(dossiers)
    by_month = get_page(client, province + "&by=month")
    assert by_month.figures() == expected(year, lambda o, m, r: box_label(m))
    assert [row[0] for row in by_month.rows[:-1]] == [box_label(m) for m in MONTHS]
    clerk_names = {"lan": "Nguyễn Thị Lan", "binh": "Trần Văn Bình", "mai": "Lê Thị Mai",
                   "tuan": "Đặng Văn Tuấn"}  # fmt: skip

    def clerk(office_id: int, _month: str, row) -> str:
        return f"{clerk_names[row.key]} · {offices[office_id]}"

    by_clerk = get_page(client, province + "&by=clerk")
    assert by_clerk.figures() == expected(year, clerk, "by_clerk")
    assert get_page(client, province + "&by=field").figures() == expected(
        year, lambda o, m, r: r.key, "by_field"
    )
    # The minutes list counters only (the phone survey is a channel); the report gives the
    # phone answers a row of their own beside the counters, which adds up to the total.
    by_counter = get_page(client, province + "&by=counter").figures()
    survey = {k: v for k, v in by_counter.items() if k.startswith("Khảo sát qua điện thoại")}
    assert survey and {k: v for k, v in by_counter.items() if k not in survey} == expected(
        year, lambda o, m, r: f"{r.name} · {offices[o]}", "by_counter"
    )
    counted = expected(year, lambda o, m, r: "counters", "by_counter")["counters"]
    assert [sum(column) for column in zip(*survey.values(), strict=True)] == [
        total - part for total, part in zip(by_counter[TOTAL], counted, strict=True)
    ]
    with language("vi"):
        channel = {key: label(CHANNEL_LABELS, key) for key in CHANNEL_LABELS}
    by_channel = get_page(client, province + "&by=channel")
    assert by_channel.figures() == expected(year, lambda o, m, r: channel[r.key], "by_channel")
    assert channel["phone_ticket"] in by_channel.figures()
    assert channel["phone_screen"] not in by_channel.figures()  # never mixed into official
    unverified = counts(minutes, MONTHS, unverified=True)
    assert unverified  # November's answer from the screen
    screen = get_page(client, province + "&by=clerk&channels=phone_screen")
    assert screen.figures() == expected(unverified, clerk,
                                        "by_clerk")  # fmt: skip
    buttons = get_page(client, province + "&by=office&channels=button")
    assert buttons.figures()[TOTAL][0] < page.figures()[TOTAL][0]

    # A quarter (March's late ballots, counted in May, are March's), a range, a month.
    first = [f"2026-0{m}" for m in (1, 2, 3)]
    quarter = get_page(client, province + "&by=office&period=quarter&year=2026&quarter=1")
    assert quarter.figures() == expected(counts(minutes, first), lambda o, m, r: offices[o])
    assert "Quý I/2026" in quarter.html
    spring = ("2026-03", "2026-04", "2026-05")
    ranged = get_page(client, province + "&by=clerk&period=range&from=2026-03&to=2026-05")
    assert ranged.figures() == expected(counts(minutes, spring),
                                        clerk, "by_clerk")  # fmt: skip
    march = get_page(client, f"unit={rig.dong_unit}&by=clerk&period=month&month=2026-03")
    assert march.figures() == expected(
        counts({rig.dong: minutes[rig.dong]}, ["2026-03"]),
        clerk, "by_clerk",
    )  # fmt: skip

    # Drilling down: the province's communes, then a commune's office, then its clerks.
    commune = Page(client.get(by_unit.links[units[rig.dong]]).text)
    assert set(commune.figures()) == {offices[rig.dong], TOTAL}
    clerks = Page(client.get(commune.links[offices[rig.dong]]).text)
    dong = offices[rig.dong]
    assert set(clerks.figures()) == {f"Nguyễn Thị Lan · {dong}", f"Trần Văn Bình · {dong}", TOTAL}
    assert clerks.figures()[TOTAL] == commune.figures()[TOTAL]
    assert TOTAL not in clerks.links

    # A sealed box never appears: January 2027 voted and synced, never opened.
    assert_sealed_box_never_appears(app, client, tmp_path, rig, page)


def assert_sealed_box_never_appears(app, client, tmp_path, rig, year_page: Page) -> None:
    from tests.ceremony_helpers import enrolled_kiosk

    kiosk = enrolled_kiosk(app, client, tmp_path / "sealed", "2027-01-01T07:00:00",
                           code="SSSS-EFGH-JKMN")  # fmt: skip
    kiosk.vote("lan", "hai_long", 4)
    kiosk.sync(client)
    with app.app_context():
        session = web_db.session()
        received = session.scalar(select(func.count()).select_from(LedgerRecord).where(
            LedgerRecord.box == "2027-01", LedgerRecord.kind == "VOTE"))  # fmt: skip
        assert received == 4
        assert not session.scalar(select(func.count()).where(ResultCell.box == "2027-01"))
    sealed = get_page(client, f"unit={rig.province}&period=year&year=2027")
    assert sealed.figures() == {TOTAL: (0, 0, 0, 0)}
    assert get_page(client, f"unit={rig.province}").figures() == year_page.figures()
    both = get_page(client, f"unit={rig.province}&by=month&period=range&from=2026-12&to=2027-01")
    assert [row[0] for row in both.rows] == ["12/2026", TOTAL]


def test_scope_roles_and_bad_queries(ceremony_app, tmp_path) -> None:
    app = ceremony_app
    client = _browser(app)
    rig, minutes, offices, units = _year(app, client, tmp_path)
    assert client.get("/reports").status_code == 302  # to the login page

    login(client, "xem-hac")  # a viewer of Hạc Thành
    own = get_page(client, "")
    assert set(own.figures()) == {offices[rig.hac], TOTAL}
    assert own.figures() == expected(counts({rig.hac: minutes[rig.hac]}, MONTHS),
                                     lambda o, m, r: offices[o])  # fmt: skip
    assert units[rig.dong] not in own.html and offices[rig.dong] not in own.html
    assert 'href="/reports"' in own.html  # the menu's entry
    for query in (f"unit={rig.dong_unit}", f"unit={rig.province}", "unit=999999",
                  f"unit={rig.hac_unit}&office={rig.dong}", f"office={rig.dong}"):  # fmt: skip
        assert client.get("/reports?" + query).status_code == 404, query
        assert client.get("/reports/table.xlsx?" + query).status_code == 404, query
    screen = get_page(client, "by=clerk&channels=phone_screen")  # Đông's answers are not here
    assert screen.figures() == {TOTAL: (0, 0, 0, 0)}

    account_for_clerk(app, "lan", "lan-rieng")
    for username in ("kt-dong", "kt-tinh", "lan-rieng"):  # technicians and a clerk: 403
        client = _browser(app)
        login(client, username)
        assert client.get("/reports").status_code == 403, username
        assert client.get("/reports/table.csv").status_code == 403, username
        assert 'href="/reports"' not in client.get("/").text

    client = _browser(app)
    login(client, "chu-tich")  # a committee member of Đông Thanh reads Đông's results
    committee = get_page(client, "by=clerk")
    dong = offices[rig.dong]
    assert set(committee.figures()) == {
        f"Nguyễn Thị Lan · {dong}",
        f"Trần Văn Bình · {dong}",
        TOTAL,
    }

    client = _browser(app)
    login(client, "admin")
    bad = {
        "period=month&month=2026-13": "2026-13",
        "period=quarter&year=2026&quarter=5": "1, 2, 3",
        "period=year&year=abc": "abc",
        "period=year&year=1999": "1999",
        "period=range&from=2026-05&to=2026-01": "",
        "period=range&from=2000-01&to=2026-01": "120",
        "period=decade": "",
        "by=zzz": "zzz",
        "channels=all": "all",
        "unit=abc": "abc",
        "unit=-1": "-1",
        "unit=²": "²",
        "unit=12345678901": "12345678901",
        "office=1x": "1x",
        "field=" + "x" * 300: "",
    }
    for query, named in bad.items():
        response = client.get("/reports?" + query)
        assert response.status_code == 400, query
        assert 'role="alert"' in response.text and named in response.text, query
        assert client.get("/reports/table.pdf?" + query).status_code == 400, query
    assert client.get("/reports?unit=1%00").status_code == 400
    assert client.get("/reports/table.docx").status_code == 404
    assert client.get(f"/reports?unit={rig.province}&field=không-có").status_code == 200


def _xlsx(body: bytes) -> tuple[list[list[object]], list[list[str]], dict[str, object]]:
    """The sheet's values, the same cells as text (a percentage as "63,35%"), its head."""
    sheet = openpyxl.load_workbook(io.BytesIO(body)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    texts = [[_xlsx_text(cell) for cell in row] for row in sheet.iter_rows()]
    head = {row[0]: row[1] for row in rows[:7] if row and row[0]}
    return rows, texts, head


def _xlsx_text(cell) -> str:
    if cell.number_format == "0.00%":
        assert isinstance(cell.value, int | float)  # a number a spreadsheet computes with
        return f"{100 * cell.value:.2f}".replace(".", ",") + "%"
    return "" if cell.value is None else str(cell.value)


def test_the_files_say_what_the_page_says(ceremony_app, tmp_path) -> None:
    app = ceremony_app
    client = _browser(app)
    rig, *_rest = _year(app, client, tmp_path)
    login(client, "admin")
    queries = (
        f"unit={rig.province}&by=unit",
        f"unit={rig.province}&by=clerk&channels=phone_screen",
        f"unit={rig.dong_unit}&by=month&period=quarter&year=2026&quarter=2",
    )
    for query in queries:
        page = get_page(client, query)
        table = [page.header, *page.rows]
        assert page.hash is not None

        response = client.get("/reports/table.xlsx?" + query)
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].startswith("attachment; filename=")
        rows, texts, head = _xlsx(response.data)
        assert head[HASH] == page.hash and head["Lập lúc"] == "01/01/2027 08:00"
        start = rows.index(page.header)
        assert texts[start : start + len(table)] == table
        assert any("%" in cell for cell in table[1]) and table[1][1:] != rows[start + 1][1:]

        text = client.get("/reports/table.csv?" + query).data.decode("utf-8-sig")
        lines = list(csv.reader(io.StringIO(text)))
        assert [HASH, page.hash] in lines
        start = lines.index(page.header)
        assert lines[start : start + len(table)] == table

        pdf = pypdf.PdfReader(io.BytesIO(client.get("/reports/table.pdf?" + query).data))
        pages = [" ".join(p.extract_text().split()) for p in pdf.pages]
        assert all(page.hash in text for text in pages)
        whole = " ".join(pages)
        for row in page.rows:
            assert " ".join(cell for cell in row if cell) in whole, row

    # Figures written as numbers: a spreadsheet can add them up.
    rows, _texts, _head = _xlsx(client.get(f"/reports/table.xlsx?unit={rig.province}&by=unit").data)
    start = next(i for i, row in enumerate(rows) if row[0] == "Đơn vị" and row[1] == BALLOTS)
    body = rows[start + 1 : start + 3]
    assert sum(row[1] for row in body) == rows[start + 3][1]
    assert rows[start + 3][0] == TOTAL
    rate = Rate(sum(row[2] + row[4] for row in body), rows[start + 3][1])
    assert abs(rows[start + 3][8] - rate.value) < 1e-12
