"""Issue 10, the phone survey: one person with a phone (and fresh browsers, and other
addresses) must not move a clerk's official result. Only an answer backed by the clerk's
printed ticket counts; the rest is kept apart as unverified opinions; bursts of accepted
answers are named; a flood of refusals is summed, not written one by one."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hom_phieu.ledger.records import Level, decode
from tests.ceremony_helpers import (
    as_secretary,
    box_url,
    confirm,
    enrolled_kiosk,
    minutes_of,
    post_form,
    with_scale,
)
from tests.web_helpers import csrf_token
from web import db as web_db
from web.models import Alert, Device, LedgerRecord, Office
from web.services import services
from web.survey import RATE_LIMIT
from web.survey_box import cast
from web.survey_criteria import DEFAULT_CRITERIA
from web.survey_flood import REFUSED_PER_MINUTE


@pytest.fixture
def app(ceremony_app):
    return with_scale(ceremony_app)


@pytest.fixture
def client(app):
    return app.test_client()


def answers(level: str) -> dict[str, str]:
    found = {"level": level, "comment": ""}
    found.update({f"c{n}": "not_satisfied" for n in range(len(DEFAULT_CRITERIA))})
    return found


def answer(app, path: str, level: str, address: str):
    """A fresh browser (no cookies) at ``address`` opens the page and sends an answer."""
    phone = app.test_client()
    environ = {"REMOTE_ADDR": address}
    page = phone.get(path, environ_base=environ)
    if page.status_code != 200:
        return page
    data = {**answers(level), "csrf_token": csrf_token(page.text)}
    return phone.post(path, data=data, environ_base=environ)


def open_november(client, app) -> dict:
    as_secretary(client)
    post_form(client, app, "2026-11", "start", early_reason="Kiểm tra")
    for username in ("chu-tich", "mttq", "cong-doan"):
        assert confirm(client, app, "2026-11", username).status_code == 302
    opened = post_form(client, app, "2026-11", "open", warnings_reason="Kiểm tra")
    assert opened.status_code == 302, opened.get_data(as_text=True)
    return minutes_of(app, "2026-11")


def clerk_row(rows: list[dict], clerk: str) -> dict:
    return next(row for row in rows if row["key"] == clerk)


def test_answers_without_a_ticket_never_move_a_clerks_official_result(app, client, tmp_path):
    """Clear the cookies, open the clerk's page, send "Không hài lòng"; again and again,
    from a few addresses: the answers are kept, but only as unverified opinions."""
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-11-16T08:00:00")
    kiosk.vote("lan", "rat_hai_long", 3)
    kiosk.sync(client)
    sent = [answer(app, "/s/demo/lan", "khong_hai_long", f"10.0.0.{n % 2}") for n in range(12)]
    assert all(response.status_code == 200 for response in sent)

    minutes = open_november(client, app)
    count = minutes["count"]
    lan = clerk_row(count["by_clerk"], "lan")
    assert lan["votes"] == 3 and lan["by_level"]["very_satisfied"] == 3
    assert lan["by_level"]["not_satisfied"] == 0  # the official result did not move
    assert count["votes"] == 3 and count["by_level"]["not_satisfied"] == 0
    channels = [(r["key"], r["channel"], r["votes"]) for r in count["by_clerk_channel"]]
    assert channels == [("lan", "button", 3)]
    unverified = count["unverified"]
    assert clerk_row(unverified["by_clerk"], "lan")["by_level"]["not_satisfied"] == 12
    assert [r["channel"] for r in unverified["by_clerk_channel"]] == ["phone_screen"]
    page = client.get(box_url(app, "2026-11") + "?lang=en")
    assert "Unverified opinions from the phone survey (not counted)" in page.text
    assert "not part of the official result above" in page.text


def test_a_ticket_answer_counts_once_for_its_own_clerk_as_the_records_say(app, client, tmp_path):
    """A ticket's answer counts for its clerk; the opening checks each ticket again from the
    records (its ballot, its clerk, its age, used once), not from the server's bookkeeping,
    so that survey records written around the checks (by whoever holds the server key)
    cannot count either."""
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-11-16T08:00:00")
    kiosk.vote("lan", "hai_long", 2)
    kiosk.vote("binh", "hai_long", 1)
    kiosk.sync(client)
    lan_ticket, lan_other, binh_ticket = kiosk.receipts
    sent = answer(app, f"/s/demo/lan?t={lan_ticket}", "khong_hai_long", "10.0.0.1")
    assert sent.status_code == 200
    with app.app_context():  # written past the web page's checks, straight into the box
        session = web_db.session()
        office = session.get(Office, app.config["OFFICE_ID"])
        for ticket in (lan_ticket, binh_ticket, "ABCDE-FGHJK"):  # used, another's, unknown
            detail = {"source": "ticket", "ticket": ticket}
            cast(session, office, services().state_cache, clerk="lan", button="khong_hai_long",
                 level=Level.NOT_SATISFIED, detail=detail)  # fmt: skip
        cast(
            session,
            office,
            services().state_cache,
            clerk="lan",
            button="khong_hai_long",
            level=Level.NOT_SATISFIED,
            detail={"source": "ticket"},
        )  # names no ticket
    minutes = open_november(client, app)
    count = minutes["count"]
    channels = {(r["key"], r["channel"]): r["votes"] for r in count["by_clerk_channel"]}
    assert channels == {("lan", "button"): 2, ("binh", "button"): 1, ("lan", "phone_ticket"): 1}
    lan = clerk_row(count["by_clerk"], "lan")
    assert lan["votes"] == 3 and lan["by_level"]["not_satisfied"] == 1
    assert clerk_row(count["unverified"]["by_clerk"], "lan")["votes"] == 4
    assert lan_other  # (unused: a ticket nobody answered changes nothing)


def test_the_phone_record_names_its_ticket(app, client, tmp_path):
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-11-16T08:00:00")
    kiosk.vote("lan", "hai_long", 1)
    kiosk.sync(client)
    (ticket,) = kiosk.receipts
    assert answer(app, f"/s/demo/lan?t={ticket.lower()}", "hai_long", "10.0.0.1").status_code == 200
    with app.app_context():
        rows = web_db.session().scalars(
            select(LedgerRecord.data)
            .join(Device, LedgerRecord.device_pk == Device.id)
            .where(Device.kind == "survey", LedgerRecord.kind == "VOTE")
        )
        (body,) = [decode(bytes(data)).body for data in rows]
    assert body["source"] == "ticket" and body["ticket"] == ticket


def test_bursts_of_accepted_answers_about_one_clerk_are_named(app, client, tmp_path):
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-11-16T08:00:00")
    kiosk.vote("lan", "hai_long", 1)
    kiosk.sync(client)
    for number in range(7):  # seven phones, seven addresses, one after the other
        assert answer(app, "/s/demo/binh", "khong_hai_long", f"10.0.1.{number}").status_code == 200
    assert answer(app, "/s/demo/lan", "hai_long", "10.0.2.1").status_code == 200
    minutes = open_november(client, app)
    bursts = [check for check in minutes["checks"] if check["code"] == "answer_burst"]
    assert len(bursts) == 1 and bursts[0]["severity"] == "warning"
    assert "7" in bursts[0]["message"] and "binh" in bursts[0]["message"]
    assert re.search(r"\d\d/\d\d/2026 \d\d:\d\d:\d\d", bursts[0]["message"])


def test_a_flood_of_refused_answers_is_summed_not_written_one_by_one(
    app, client, tmp_path, server_clock
):
    phone = app.test_client()
    page = phone.get("/s/demo/lan")
    data = {**answers("hai_long"), "csrf_token": csrf_token(page.text)}
    for _number in range(RATE_LIMIT):
        assert phone.post("/s/demo/lan", data=data).status_code in (200, 409)  # (daily limit)
    flood = 100
    for _number in range(flood):
        assert phone.post("/s/demo/lan", data=data).status_code == 429
    with app.app_context():
        refused = refused_records(app)
    assert len(refused) < REFUSED_PER_MINUTE + 10  # not one record per refusal …
    server_clock.advance(61_000)
    answer(app, "/s/demo/binh", "hai_long", "10.9.9.9")  # the next write sums the flood
    summed = [body for body in refused_records(app) if body["reason"] == "storm"]
    assert summed and all(body["answers"] > 0 for body in summed)
    with app.app_context():  # and the flood is alerted (web.alerts), per clerk
        (alert,) = web_db.session().scalars(select(Alert).where(Alert.kind == "phone_refusals"))
        assert alert.params["clerk"] == "lan" and alert.params["answers"] > 0
    minutes = open_november(client, app)
    [line] = [c["message"] for c in minutes["checks"] if c["code"] == "refused"]
    total = RATE_LIMIT - 1 + flood  # … yet every one of them is counted: 9 + 100
    assert line.startswith(f"{total} ")


def refused_records(app) -> list[dict]:
    with app.app_context():
        rows = web_db.session().scalars(
            select(LedgerRecord.data)
            .join(Device, LedgerRecord.device_pk == Device.id)
            .where(Device.kind == "survey", LedgerRecord.kind == "REFUSED")
        )
        return [decode(bytes(data)).body for data in rows]


def test_the_page_says_whether_an_answer_will_count(app, client, tmp_path):
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-11-16T08:00:00")
    kiosk.vote("lan", "hai_long", 1)
    kiosk.sync(client)
    phone = app.test_client()
    screen = phone.get("/s/demo/lan")
    assert "không tính vào kết quả chính thức" in screen.text
    ticket = phone.get(f"/s/demo/lan?t={kiosk.receipts[0]}")
    assert ticket.status_code == 200 and "không tính vào kết quả chính thức" not in ticket.text
