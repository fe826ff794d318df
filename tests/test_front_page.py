"""The front page for the reader's units: the boxes due, overdue and newly opened, by the
server's clock (never today's date), with links that open; nothing of a sealed box's levels."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from tests.ceremony_helpers import enrolled_kiosk
from tests.report_helpers import open_directly, server_time
from tests.web_helpers import login
from web import db as web_db
from web.models import Holiday, Office, Opening, User


@pytest.fixture
def app(ceremony_app):
    return ceremony_app


@pytest.fixture
def client(app):
    return new_client(app)


def section(html: str, heading_id: str) -> str:
    """The part of the front page under one heading (up to the next heading)."""
    found = re.search(rf'<h2 id="{heading_id}">.*?(?=<h[12][ >])', html, re.S)
    assert found, heading_id
    return found.group(0)


def rows(html: str, heading_id: str) -> list[str]:
    """The rows of a section's table, as text without tags (whitespace collapsed)."""
    body = section(html, heading_id)
    found = re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>")[-1], re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in found]


def front(app, username: str, iso: str):
    """The front page as ``username`` sees it at ``iso`` (logged in then: a session idle
    across the clock's jumps would have ended), and that browser."""
    server_time(app, iso)
    client = new_client(app)
    login(client, username)
    page = client.get("/")
    assert page.status_code == 200
    return page.text, client


def new_client(app):
    """A browser over HTTPS (Secure cookies) reading English."""
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.set_cookie("lang", "en")
    return client


def test_due_overdue_and_newly_opened_follow_the_server_clock(app, client, tmp_path):
    """Đông Thanh: a kiosk from 05/09/2026, ballots in September and November (none in
    October); September opened on 01/10/2026; 30/10/2026 a holiday of Đông Thanh's unit."""
    office_id = app.config["OFFICE_ID"]
    server_time(app, "2026-09-05T07:00:00")
    kiosk = enrolled_kiosk(app, client, tmp_path / "k", "2026-09-05T08:00:00")
    kiosk.vote("lan", "rat_hai_long", 3)
    kiosk.vote("binh", "khong_hai_long", 1)
    kiosk.clock.advance_to("2026-10-01T07:00:00")
    kiosk.box.tick()
    kiosk.sync(client)
    server_time(app, "2026-10-01T08:00:00")
    open_directly(app, office_id, "2026-09")
    with app.app_context():
        session = web_db.session()
        unit_id = session.get(Office, office_id).unit_id
        session.add(Holiday(unit_id=unit_id, day=date(2026, 10, 30), name="Lễ xã"))  # a Friday
        session.commit()

    # A committee member of Đông Thanh: a reader of results.
    page, client = front(app, "chu-tich", "2026-10-20T09:00:00")
    assert rows(page, "due") == [] and "No box is due." in page
    opened = rows(page, "opened")
    assert len(opened) == 1 and opened[0].startswith("Bộ phận một cửa Xã Đông Thanh 09/2026")
    assert "01/10/2026" in opened[0]
    minutes = f"/offices/{office_id}/boxes/2026-09/minutes"
    assert minutes in section(page, "opened")
    assert client.get(minutes).status_code == 200
    assert "very satisfied" not in page.lower()  # no levels on the front page

    # The month's last working day, with the unit's holiday: Thursday 29/10.
    assert rows(front(app, "chu-tich", "2026-10-28T16:00:00")[0], "due") == []
    due = rows(front(app, "chu-tich", "2026-10-29T08:00:00")[0], "due")
    assert due == ["Bộ phận một cửa Xã Đông Thanh 10/2026 due: to be opened by 05/11/2026"]

    # Past its month, an empty month is still to be opened; overdue from the 6th.
    kiosk.clock.advance_to("2026-11-03T08:00:00")
    kiosk.vote("lan", "hai_long", 2)
    kiosk.sync(client)
    page = front(app, "chu-tich", "2026-11-05T23:00:00")[0]
    assert rows(page, "due") == [
        "Bộ phận một cửa Xã Đông Thanh 10/2026 due: to be opened by 05/11/2026"
    ]
    assert rows(page, "opened") == [] and "No box was opened in the last 30 days." in page
    page = front(app, "chu-tich", "2026-11-06T00:30:00")[0]
    assert rows(page, "due") == ["Bộ phận một cửa Xã Đông Thanh 10/2026 overdue since 06/11/2026"]

    # A ceremony under way is still due; an overdue box comes first; the current month
    # joins on its last working day (Monday 30/11).
    with app.app_context():
        session = web_db.session()
        secretary = session.scalar(select(User.id).where(User.username == "thu-ky"))
        session.add(Opening(office_id=office_id, box="2026-10", started_by=secretary))
        session.commit()
    page, client = front(app, "chu-tich", "2026-11-30T08:00:00")
    assert rows(page, "due") == [
        "Bộ phận một cửa Xã Đông Thanh 10/2026 overdue since 06/11/2026 · "
        "opening ceremony under way",
        "Bộ phận một cửa Xã Đông Thanh 11/2026 due: to be opened by 05/12/2026",
    ]
    for href in re.findall(r'href="([^"]+)"', section(page, "due")):
        assert client.get(href).status_code == 200, href
    # The old table of boxes is still there, with the ballots only.
    assert "Ballots received" in page
    assert re.search(r"11/2026</a></td>\s*<td>2</td>", page)
    assert re.search(r"09/2026</a></td>\s*<td>4</td>", page)

    # Another commune's viewer sees none of it.
    page = front(app, "xem-hac", "2026-11-30T08:00:00")[0]
    assert rows(page, "due") == [] and rows(page, "opened") == []
    assert "Đông Thanh" not in page


def test_newly_opened_links_by_role(app, client, tmp_path):
    """Readers of results get the minutes (and the reports page, where the server has
    one); a technician gets the box's page; every link opens."""
    office_id = app.config["OFFICE_ID"]
    server_time(app, "2026-09-05T07:00:00")
    kiosk = enrolled_kiosk(app, client, tmp_path / "k", "2026-09-05T08:00:00")
    kiosk.vote("lan", "hai_long", 2)
    kiosk.clock.advance_to("2026-10-01T07:00:00")
    kiosk.box.tick()
    kiosk.sync(client)
    open_directly(app, office_id, "2026-09")
    has_reports = "reports.index" in app.view_functions
    for username in ("admin", "chu-tich", "kt-dong"):
        page, client = front(app, username, "2026-10-02T09:00:00")
        links = re.findall(r'href="([^"]+)"', section(page, "opened"))
        if username == "kt-dong":
            assert links == [f"/offices/{office_id}/boxes/2026-09"]
        else:
            assert links[0] == f"/offices/{office_id}/boxes/2026-09/minutes"
            assert len(links) == (2 if has_reports else 1)
        for href in links:
            assert client.get(href.replace("&amp;", "&")).status_code == 200, href
