"""The public side: the results page with its filters, the office-month poster (HTML and
PDF) and the waiting room's screen, over a year of real openings. Every figure equals the
minutes; small cells vanish; sealed months never show; no clerk is named; bad filters are
a 400 page, never a 500."""

from __future__ import annotations

import base64
import io
import re
from collections import Counter

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from tests.ceremony_helpers import enrolled_kiosk
from tests.report_helpers import YearRig, minutes_by_box, opened_year, server_time
from web import db as web_db
from web.models import Clerk, Office
from web.report_settings import PUBLIC_MINIMUM, set_minimum

LEVELS = ("very_satisfied", "satisfied", "not_satisfied")
WORDS = {"very_satisfied": "Very satisfied", "satisfied": "Satisfied",
         "not_satisfied": "Not satisfied"}  # fmt: skip


@pytest.fixture
def app(ceremony_app):
    ceremony_app.config["SERVER_URL"] = "http://localhost"  # (the poster's QR names it)
    return ceremony_app


@pytest.fixture
def client(app):
    return app.test_client()


def expected(app, office_id: int) -> dict[str, Counter]:
    """Per month: the official ballots per level the minutes counted for it (its own count
    and the supplements later openings filed under it), and "votes"."""
    found: dict[str, Counter] = {}
    for box, minutes in minutes_by_box(app, office_id).items():
        counts = [(box, minutes.count)] + [(s.box, s.count) for s in minutes.supplements]
        for month, count in counts:
            tally = found.setdefault(month, Counter())
            tally.update({level: count.by_level[level] for level in LEVELS})
            tally["votes"] += count.votes
    return found


def minimum(app, value: int) -> None:
    with app.app_context():
        set_minimum(web_db.session(), PUBLIC_MINIMUM, value)
        web_db.session().commit()


def cards(html: str) -> dict[str, dict]:
    """The results page's cards by their heading: ballots, and levels (None: hidden)."""
    found = {}
    for block in re.findall(r'<(?:li|div) class="card[^"]*">(.*?)</(?:li|div)>', html, re.S):
        name = re.search(r"<h3>(.*?)</h3>", block).group(1)
        votes = int(re.search(r"Ballots: <strong>(\d+)</strong>", block).group(1))
        levels = {
            level: int(m.group(1))
            for level in LEVELS
            if (m := re.search(rf'<td>{WORDS[level]}</td><td class="num">(\d+)</td>', block))
        }
        found[name] = {"votes": votes, "levels": levels or None,
                       "hidden": "hidden" in block}  # fmt: skip
    return found


def get(client, url: str, status: int = 200) -> str:
    response = client.get(url + ("&" if "?" in url else "?") + "lang=en")
    assert response.status_code == status, (url, response.status_code)
    return response.text


def seal_january(app, client, tmp_path) -> None:
    """Ballots of January 2027 reach the server; the box stays sealed."""
    server_time(app, "2027-01-06T09:00:00")
    kiosk = enrolled_kiosk(app, client, tmp_path / "sealed", "2027-01-06T08:00:00",
                           code="SSSS-EFGH-JKMN")  # fmt: skip
    kiosk.vote("lan", "rat_hai_long", 40)
    kiosk.sync(client)


def clerk_names(app) -> list[str]:
    with app.app_context():
        return list(web_db.session().scalars(select(Clerk.name)))


def office_names(app, rig: YearRig) -> tuple[str, str]:
    with app.app_context():
        session = web_db.session()
        return session.get(Office, rig.dong).name, session.get(Office, rig.hac).name


def test_public_figures_are_the_minutes_and_small_cells_vanish(app, client, tmp_path):
    rig = opened_year(app, client, tmp_path)
    seal_january(app, client, tmp_path)
    dong_name, hac_name = office_names(app, rig)
    dong, hac = expected(app, rig.dong), expected(app, rig.hac)
    assert sum(dong["2026-03"].values()) > 0 and "2027-01" not in dong
    minimum(app, 1)
    pages = []
    for office, name, months in ((rig.dong, dong_name, dong), (rig.hac, hac_name, hac)):
        for box, tally in months.items():
            pages.append(get(client, f"/public/results?office={office}&period=month&month={box}"))
            card = cards(pages[-1])[name]
            assert card["votes"] == tally["votes"]
            assert card["levels"] == {level: tally[level] for level in LEVELS}
    year = get(client, "/public/results")  # the default: the province, its latest year
    pages.append(year)
    assert "Tỉnh Thanh Hóa: Year 2026" in year
    found = cards(year)
    for name, months in ((dong_name, dong), (hac_name, hac)):
        assert found[name]["votes"] == sum(t["votes"] for t in months.values())
        assert found[name]["levels"] == {lv: sum(t[lv] for t in months.values()) for lv in LEVELS}
    assert found["Total"]["votes"] == found[dong_name]["votes"] + found[hac_name]["votes"]
    assert "63,35%" not in year and re.search(r"\d+,\d\d%", year)  # decimal comma

    # Sealed: January 2027's 40 ballots appear nowhere.
    sealed = get(client, f"/public/results?unit={rig.province}&period=year&year=2027")
    assert "No opened results for this unit and period." in sealed
    assert "01/2027" not in year + sealed and "2027-01" not in year
    assert ">2027<" not in year  # (no such option either)

    # A quarter and a range of one commune.
    quarter = get(
        client, f"/public/results?unit={rig.dong_unit}&period=quarter&year=2026&quarter=1"
    )
    q1 = sum(dong[m]["votes"] for m in ("2026-01", "2026-02", "2026-03"))
    assert cards(quarter)["Total"]["votes"] == q1 and hac_name not in quarter
    ranged = get(
        client, f"/public/results?unit={rig.hac_unit}&period=range&from=2026-02&to=2026-04"
    )
    assert cards(ranged)[hac_name]["votes"] == sum(hac[m]["votes"] for m in
                                                    ("2026-02", "2026-03", "2026-04"))  # fmt: skip
    pages += [quarter, ranged]

    # Small cells: a month of Đông with V ballots shows its figures at V, none at V + 1.
    box = "2026-03"
    votes = dong[box]["votes"]
    url = f"/public/results?office={rig.dong}&period=month&month={box}"
    minimum(app, votes)
    assert cards(get(client, url))[dong_name]["levels"] is not None
    minimum(app, votes + 1)
    hidden = get(client, url)
    card = cards(hidden)[dong_name]
    assert card["votes"] == votes and card["levels"] is None
    assert (
        f"Fewer than {votes + 1} ballots: hidden so that no citizen can be singled out." in hidden
    )
    assert "Satisfaction rate: <span" not in hidden

    # Two offices in a month, one below the threshold: the other is hidden too (else the
    # total minus it would give the small one back); the total stays.
    box = next(m for m in sorted(hac) if hac[m]["votes"] < dong[m]["votes"])
    minimum(app, hac[box]["votes"] + 1)
    both = cards(get(client, f"/public/results?unit={rig.province}&period=month&month={box}"))
    assert both[hac_name]["levels"] is None and both[dong_name]["levels"] is None
    assert both["Total"]["levels"] == {lv: dong[box][lv] + hac[box][lv] for lv in LEVELS}
    pages.append(get(client, f"/public/tv?unit={rig.province}"))
    for page in pages:
        for name in clerk_names(app):
            assert name not in page


BAD_FILTERS = [
    ("unit=abc", "Unit: not a number: abc"),
    ("unit=999999", "No unit with opened results has the number 999999."),
    ("office=x1", "Office: not a number: x1"),
    ("office=999999", "No office with opened results has the number 999999."),
    ("period=decade", "Unknown period"),
    ("period=month&month=2026-13", "2026-13 is not a month (YYYY-MM)."),
    ("period=month", " is not a month (YYYY-MM)."),
    ("period=quarter&year=2026&quarter=5", "A quarter is 1, 2, 3 or 4."),
    ("period=year&year=99999999999999", "year: not a number"),
    ("period=year&year=1066", "1066 is not a year this system serves."),
    ("period=range&from=2026-05&to=2026-01", "The period ends before it starts."),
    ("unit=1234567890123456789012", "Unit: not a number"),
]


def test_poster_tv_and_bad_filters(app, client, tmp_path):
    rig = opened_year(app, client, tmp_path)
    seal_january(app, client, tmp_path)
    dong_name, _hac_name = office_names(app, rig)
    dong = expected(app, rig.dong)
    minimum(app, 1)
    public: list[str] = []

    # The poster of March (3 late ballots filed under it by May's supplement).
    box = "2026-03"
    tally = dong[box]
    html = get(client, f"/public/offices/{rig.dong}/boxes/{box}/poster")
    pdf = client.get(f"/public/offices/{rig.dong}/boxes/{box}/poster.pdf?lang=en")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    url = f"http://localhost/public/results?office={rig.dong}&period=month&month={box}"
    for shown in (html, text):
        assert f"Ballots counted: {tally['votes']}" in shown
        for level in LEVELS:
            share = f"{100 * tally[level] / tally['votes']:.2f}".replace(".", ",") + "%"
            assert re.search(rf"{WORDS[level]}(</td><td class=\"num\">| ){tally[level]}"
                             rf"(</td><td class=\"num\">| ){share}", shown), level  # fmt: skip
        assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in shown and "XÃ ĐÔNG THANH" in shown
        assert "Including 3 late ballots of this month counted at later openings." in shown
    data_url = re.search(r'<img src="data:image/png;base64,([^"]+)"', html).group(1)
    qr_in_page = Image.open(io.BytesIO(base64.b64decode(data_url)))
    qr_in_pdf = [image.image for page in reader.pages for image in page.images]
    assert len(qr_in_pdf) == 1
    for image in (qr_in_page, qr_in_pdf[0]):
        assert [code.text for code in zxingcpp.read_barcodes(image)] == [url]
    landing = get(client, url.removeprefix("http://localhost"))
    assert cards(landing)[dong_name]["votes"] == tally["votes"]
    public += [html, text, landing]

    # Hidden on the poster too.
    minimum(app, tally["votes"] + 1)
    html = get(client, f"/public/offices/{rig.dong}/boxes/{box}/poster")
    pdf = client.get(f"/public/offices/{rig.dong}/boxes/{box}/poster.pdf?lang=en").data
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    for shown in (html, text):
        assert f"Ballots counted: {tally['votes']}" in shown
        assert f"Fewer than {tally['votes'] + 1} ballots" in shown.replace("\n", " ")
        assert "Satisfaction rate" not in shown.replace("Satisfaction results", "")
    minimum(app, 1)

    # Unknown or sealed boxes do not exist.
    for path in (f"{rig.dong}/boxes/2027-01", f"{rig.dong}/boxes/2025-12",
                 f"{rig.dong}/boxes/2026-13", f"{rig.dong}/boxes/march", "999999/boxes/2026-03",
                 "99999999999999999999/boxes/2026-03"):  # fmt: skip
        for suffix in ("poster", "poster.pdf"):
            assert client.get(f"/public/offices/{path}/{suffix}").status_code == 404, path

    # The TV: Đông's last three opened months, newest first, each slide naming the next.
    slides = []
    for number in range(4):
        page = get(client, f"/public/tv?office={rig.dong}&slide={number}")
        following = (number + 1) % 3
        assert f'content="15;url=/public/tv?office={rig.dong}&amp;slide={following}"' in page
        assert f'href="/public/tv?office={rig.dong}&amp;slide={following}"' in page
        slides.append(re.search(r'<p class="place">.*?· (.*?)</p>', page).group(1))
        public.append(page)
    assert slides == ["Month 12/2026", "Month 11/2026", "Month 10/2026", "Month 12/2026"]
    december = get(client, f"/public/tv?office={rig.dong}")
    assert f"Ballots counted: {dong['2026-12']['votes']}" in december
    assert "01/2027" not in december
    province = [get(client, f"/public/tv?unit={rig.province}&slide={n}") for n in range(2)]
    assert "Phường Hạc Thành · Month 12/2026" in province[0]
    assert "Xã Đông Thanh · Month 12/2026" in province[1]
    assert 'slide=0"' in province[1]
    public += province

    # Bad filters: a 400 page naming the problem, the form kept; never a 500.
    for query, words in BAD_FILTERS:
        page = get(client, f"/public/results?{query}", 400)
        assert words in page and '<form method="get" class="filters"' in page, query
    page = get(client, f"/public/results?unit={rig.hac_unit}&office={rig.dong}", 400)
    assert "is not in Phường Hạc Thành" in page
    for query in ("slide=x", "slide=9999999", "office=abc", "unit=999999"):
        assert client.get(f"/public/tv?{query}").status_code == 400, query
    for page in public:
        for name in clerk_names(app):
            assert name not in page


def test_nothing_opened_yet(app, client):
    page = get(client, "/public/results")
    assert "No box has been opened yet." in page
    assert "No box has been opened yet." in get(client, "/public/tv")
    assert client.get("/public/results?unit=1&period=decade").status_code == 200
