"""A clerk's own results (/my-results): their months equal the minutes' rows for them (the
box's count and the supplements), only their comments, nothing of anyone else whatever the
address says; an account linked to no clerk is told so; other roles get 403; every link a
clerk is shown opens. And the clerk's form that links a clerk to their account."""

from __future__ import annotations

import csv
import html
import io
import re
from collections import defaultdict
from urllib.parse import urljoin

import pytest
from sqlalchemy import select

from hom_phieu.ledger.records import Level
from tests.ceremony_helpers import enrolled_kiosk
from tests.report_helpers import (
    account_for_clerk,
    minutes_by_box,
    open_directly,
    opened_year,
    server_time,
)
from tests.web_helpers import create_account, csrf_token, login
from web import db as web_db
from web.ceremony_calendar import box_label
from web.minutes import Minutes
from web.minutes_count import Count
from web.models import AuditEntry, Clerk, Office, User
from web.report_stats import Rate
from web.services import services
from web.survey_box import cast

LEVELS = ("very_satisfied", "satisfied", "not_satisfied")
LAN_TICKET_COMMENT = "Chị Lan hướng dẫn rất tận tình"
LAN_SCREEN_COMMENT = "Lan trả lời hơi chậm"
OTHERS = {  # (office, clerk code, comment) that lan must never see
    "binh": ("demo", "binh", "Anh Bình vui vẻ"),
    "hac-lan": ("38-ht-1c", "lan", "Một chị Lan khác ở Hạc Thành"),
    "mai": ("38-ht-1c", "mai", "Chị Mai chu đáo"),
}


@pytest.fixture
def app(ceremony_app):
    return ceremony_app


def browser(app, lang: str = "en"):
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    client.set_cookie("lang", lang)
    return client


def _answer(app, office_code: str, clerk: str, comment: str, detail: dict) -> None:
    with app.app_context():
        session = web_db.session()
        office = session.scalar(select(Office).where(Office.code == office_code))
        cast(session, office, services().state_cache, clerk=clerk, button="hai_long",
             level=Level.SATISFIED, detail={**detail, "comment": comment})  # fmt: skip


def comments_month(app, rig, client, tmp_path) -> None:
    """January 2027: lan is commented on with her ticket and from the screen; binh, mai
    and a "lan" of Hạc Thành's office (a code of another office) too; both boxes opened."""
    server_time(app, "2027-01-05T07:00:00")
    kiosk = enrolled_kiosk(app, client, tmp_path / "comments", "2027-01-05T08:00:00")
    kiosk.vote("lan", "hai_long", 1)
    kiosk.sync(client)
    server_time(app, "2027-01-05T10:00:00")
    _answer(app, "demo", "lan", LAN_TICKET_COMMENT, {"source": "ticket",
                                                     "ticket": kiosk.receipts[0]})  # fmt: skip
    _answer(app, "demo", "lan", LAN_SCREEN_COMMENT, {"source": "screen"})
    for office, clerk, text in OTHERS.values():
        _answer(app, office, clerk, text, {"source": "screen"})
    kiosk.clock.advance_to("2027-02-01T07:00:00")
    kiosk.box.tick()
    kiosk.sync(client)
    server_time(app, "2027-02-01T08:00:00")
    open_directly(app, rig.dong, "2027-01")
    open_directly(app, rig.hac, "2027-01")


def expected_months(minutes: dict[str, Minutes], code: str) -> dict[str, tuple[list, int]]:
    """Per month: the clerk's levels (official: the box's count and every supplement filed
    under that month) and their phone answers without a ticket, from the minutes."""
    months: dict[str, tuple[list, list]] = defaultdict(lambda: ([0, 0, 0], [0]))

    def add(box: str, count: Count) -> None:
        for row in count.by_clerk:
            if row.key == code:
                for i, level in enumerate(LEVELS):
                    months[box][0][i] += row.by_level[level]
        if count.unverified is not None:
            months[box][1][0] += sum(r.votes for r in count.unverified.by_clerk if r.key == code)

    for box, opened in minutes.items():
        add(box, opened.count)
        for supplement in opened.supplements:
            add(supplement.box, supplement.count)
    return {box: (levels, unverified[0]) for box, (levels, unverified) in months.items()}


def expected_rows(months: dict[str, tuple[list, int]]) -> list[list[str]]:
    rows, totals, unverified_total = [], [0, 0, 0], 0
    for box in sorted(months):
        levels, unverified = months[box]
        rows.append(_row(box_label(box), levels, unverified))
        totals = [a + b for a, b in zip(totals, levels, strict=True)]
        unverified_total += unverified
    rows.append(_row("Total", totals, unverified_total))
    return rows


def _row(name: str, levels: list[int], unverified: int) -> list[str]:
    rate = Rate(levels[0] + levels[1], sum(levels))
    return [name, str(sum(levels)), *map(str, levels), rate.text(), rate.interval_text(),
            str(unverified)]  # fmt: skip


def page_rows(text: str) -> list[list[str]]:
    body = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        [html.unescape(cell.strip()) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def local_links(text: str, base: str) -> set[str]:
    """The page's links to this server, as paths (``?lang=en`` on ``base``'s path)."""
    return {
        urljoin(base, html.unescape(href))
        for href in re.findall(r'href="([^"]+)"', text)
        if href.startswith(("/", "?"))
    }


def test_a_clerk_sees_their_own_months_and_comments_and_nothing_else(app, tmp_path):
    client = browser(app)
    rig = opened_year(app, client, tmp_path)
    comments_month(app, rig, client, tmp_path)
    account_for_clerk(app, "lan", "lan-rieng")
    account_for_clerk(app, "binh", "binh-rieng")
    server_time(app, "2027-02-02T09:00:00")
    lan = browser(app)
    login(lan, "lan-rieng")
    page = lan.get("/my-results")
    assert page.status_code == 200
    minutes = minutes_by_box(app, rig.dong)
    expected = expected_rows(expected_months(minutes, "lan"))
    assert len(expected) == 14  # 2026's twelve months, January 2027 and the total
    assert page_rows(page.text) == expected
    assert "Nguyễn Thị Lan" in page.text and "Trần Văn Bình" not in page.text
    # The March supplement (a kiosk synced two months late) is filed under March.
    assert sum(1 for opened in minutes.values() for s in opened.supplements if s.box == "2026-03")

    # Her comments only: with the ticket, and the unverified one marked so.
    texts = re.findall(r"</span> (.*?)</li>", page.text)
    assert sorted(html.unescape(t) for t in texts) == sorted([LAN_TICKET_COMMENT,
                                                              LAN_SCREEN_COMMENT])  # fmt: skip
    for _office, _clerk, text in OTHERS.values():
        assert text not in page.text
    assert page.text.count("without a ticket (unverified)") == 1
    in_minutes = [c.text for m in minutes.values() for c in (m.count.comments or ())
                  if c.clerk == "lan"]  # fmt: skip
    assert in_minutes == [LAN_TICKET_COMMENT]

    # A year alone; a period that names nothing is a 400 saying why.
    year = lan.get("/my-results?period=year&year=2026")
    assert page_rows(year.text)[:-1] == expected[:12]
    assert LAN_TICKET_COMMENT not in year.text
    bad = lan.get("/my-results?period=year&year=20x6")
    assert bad.status_code == 400 and "not a number" in bad.text

    # No address shows another clerk's figures: the clerk is never a parameter.
    binh_id = rig.clerks["binh"]
    for query in (f"clerk={binh_id}", f"clerk_id={binh_id}", "code=binh", f"user={binh_id}",
                  f"office={rig.hac}&clerk=mai"):  # fmt: skip
        tampered = lan.get(f"/my-results?{query}")
        assert tampered.status_code == 200 and page_rows(tampered.text) == expected, query
    exported = lan.get(f"/my-results.csv?clerk={binh_id}")
    assert exported.status_code == 200
    written = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    for row in expected:
        assert row in written, row
    assert lan.get("/my-results.xlsx").status_code == 200
    assert lan.get("/my-results.pdf").status_code == 200
    assert lan.get("/my-results.doc").status_code == 404

    # Bình reads his own, not hers.
    binh = browser(app)
    login(binh, "binh-rieng")
    his = binh.get("/my-results")
    assert page_rows(his.text) == expected_rows(expected_months(minutes, "binh"))
    assert OTHERS["binh"][2] in his.text and LAN_TICKET_COMMENT not in his.text

    # Every link a clerk is shown opens (menu, front page, their results, their password).
    assert "My results" in lan.get("/").text.split("<main>")[0]  # in the menu
    seen, queue = set(), ["/", "/my-results", "/account/password"]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        shown = lan.get(url)
        assert shown.status_code == 200, url
        if url in ("/", "/my-results", "/account/password"):
            queue += sorted(local_links(shown.text, url) - seen)
    assert "/my-results" in local_links(lan.get("/").text, "/")
    assert "/devices" not in seen and not any(u.startswith("/manage") for u in seen)


def test_unlinked_clerks_and_other_roles(app):
    with app.app_context():
        create_account("thu-ly", "Vũ Thị Thư Lý", "clerk", None)
        web_db.session().commit()
    clerk = browser(app, "vi")
    login(clerk, "thu-ly")
    page = clerk.get("/my-results")
    assert page.status_code == 200
    assert "chưa được liên kết" in page.text and "quản trị viên" in page.text
    assert clerk.get("/my-results.csv").status_code == 404
    assert "Thiết bị" not in page.text.split("<main>")[0]  # no Devices in a clerk's menu
    for username in ("admin", "kt-dong", "chu-tich", "xem-hac"):
        other = browser(app)
        login(other, username)
        assert other.get("/my-results").status_code == 403, username
        assert other.get("/my-results.csv").status_code == 403, username
        assert "/my-results" not in other.get("/").text
    assert browser(app).get("/my-results").status_code == 302  # to the login page


def _clerk_form(client, clerk_id: int, **changes):
    page = client.get(f"/manage/clerks/{clerk_id}/edit")
    assert page.status_code == 200
    data = {"csrf_token": csrf_token(page.text), "name": "Nguyễn Thị Lan", "title": "Công chức",
            "procedure_field": "0", "counter": "0", "contact": "", **changes}  # fmt: skip
    return client.post(f"/manage/clerks/{clerk_id}/edit", data=data), page.text


def test_linking_a_clerk_to_their_account(app):
    with app.app_context():
        session = web_db.session()
        office = session.get(Office, app.config["OFFICE_ID"])
        ids = {
            "own": create_account("lan-tk", "Nguyễn Thị Lan", "clerk", office.unit_id).id,
            "other": create_account("binh-tk", "Trần Văn Bình", "clerk", office.unit_id).id,
            "far": create_account("hac-tk", "Người Hạc", "clerk", office.unit.parent_id).id,
            "gone": create_account("cu-tk", "Người Cũ", "clerk", office.unit_id).id,
            "viewer": create_account("xem-dong", "Người Xem", "viewer", office.unit_id).id,
        }
        session.get(User, ids["gone"]).active = False
        clerks = dict(session.execute(select(Clerk.code, Clerk.id)).all())
        session.get(Clerk, clerks["binh"]).user_id = ids["other"]
        session.commit()
    tech = browser(app)
    login(tech, "kt-dong")
    response, form = _clerk_form(tech, clerks["lan"], account="0")
    assert response.status_code == 302
    # Only the free, active clerk accounts of the office's unit are offered.
    offered = set(re.findall(r'<option[^>]*value="(\d+)"', form.split('id="account"')[1]
                             .split("</select>")[0]))  # fmt: skip
    assert offered == {"0", str(ids["own"])}
    for key, message in [("other", "linked to another clerk already"),
                         ("far", "belongs to another unit"),
                         ("gone", "does not exist or is deactivated"),
                         ("viewer", "only an account with the role clerk")]:  # fmt: skip
        refused, _form = _clerk_form(tech, clerks["lan"], account=str(ids[key]))
        assert refused.status_code == 400 and message in refused.text, key
    assert _clerk_form(tech, clerks["lan"], account="99999")[0].status_code == 400
    linked, _form = _clerk_form(tech, clerks["lan"], account=str(ids["own"]))
    assert linked.status_code == 302
    _again, form = _clerk_form(tech, clerks["lan"])  # the form keeps the link shown
    own = ids["own"]
    assert re.search(rf'<option[^>]*selected[^>]*value="{own}"|value="{own}"[^>]*selected', form)
    unlinked, _form = _clerk_form(tech, clerks["lan"], account="0")
    assert unlinked.status_code == 302
    with app.app_context():
        session = web_db.session()
        assert session.get(Clerk, clerks["lan"]).user_id is None
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "clerk_changed").order_by(AuditEntry.id)
        ).all()
    assert [e.detail["after"]["account"] for e in entries[-3:]] == ["lan-tk", "lan-tk", None]
    assert entries[-3].detail["before"]["account"] is None
    # A committee member may not link.
    member = browser(app)
    login(member, "chu-tich")
    assert member.get(f"/manage/clerks/{clerks['lan']}/edit").status_code == 403
