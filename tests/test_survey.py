"""The phone survey behind the clerk's QR, with Flask's test client: the whole flow, the
ticket's single-use token, expiry, wrong clerk, rate limits, bad input, script in comments,
and the ceremony counting phone answers per criterion."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hom_phieu.ledger.records import decode
from tests.ceremony_helpers import (
    Kiosk,
    as_secretary,
    box_url,
    confirm,
    enrolled_kiosk,
    minutes_of,
    post_form,
    with_scale,
)
from tests.web_helpers import csrf_token, login
from web import db as web_db
from web.models import Device, LedgerRecord
from web.survey import RATE_LIMIT
from web.survey_criteria import DEFAULT_CRITERIA


@pytest.fixture
def app(ceremony_app):
    return with_scale(ceremony_app)


@pytest.fixture
def client(app):
    """Staff and kiosks (the ceremony's secretary, the device API)."""
    return app.test_client()


@pytest.fixture
def phone(app):
    """A citizen's phone: a browser of its own."""
    return app.test_client()


def answers(level: str = "hai_long", comment: str = "", **extra: str) -> dict[str, str]:
    found = {"level": level, "comment": comment, **extra}
    for number in range(len(DEFAULT_CRITERIA)):
        found.setdefault(f"c{number}", "very_satisfied" if number % 2 else "satisfied")
    return found


def send(phone, path: str, **fields: str):
    """Open the page (in English: the phone keeps the choice) and send the answers."""
    page = phone.get(path + ("&" if "?" in path else "?") + "lang=en")
    if page.status_code != 200:
        return page
    return phone.post(path, data={**fields, "csrf_token": csrf_token(page.text)})


def token_of(phone, path: str) -> str:
    """The phone's CSRF token, from a page of the survey it may still open."""
    return csrf_token(phone.get(path + "?lang=en").text)


def survey_records(app, kind: str) -> list[dict]:
    """The bodies of the office's phone-survey records of ``kind`` held by the server."""
    with app.app_context():
        rows = web_db.session().scalars(
            select(LedgerRecord.data)
            .join(Device, LedgerRecord.device_pk == Device.id)
            .where(Device.kind == "survey", LedgerRecord.kind == kind)
        )
        return [decode(bytes(data)).body for data in rows]


def phone_votes(app) -> list[dict]:
    return survey_records(app, "VOTE")


def refusals(app) -> list[str]:
    return [body["reason"] for body in survey_records(app, "REFUSED")]


def test_the_screen_qr_takes_one_answer_per_phone_per_day(app, phone):
    page = phone.get("/s/demo/lan?lang=en")
    assert page.status_code == 200
    assert "Nguyễn Thị Lan" in page.text and "Rất hài lòng" in page.text
    for criterion in DEFAULT_CRITERIA:
        assert criterion in page.text
    assert len(page.data) < 50_000
    assert "<script" not in page.text
    assert not re.search(r'(src|href)="(https?:)?//', page.text)  # nothing from elsewhere
    thanks = send(phone, "/s/demo/lan", **answers(comment="Chị Lan hướng dẫn rất tận tình"))
    assert thanks.status_code == 200, thanks.text
    receipt = re.search(r'class="code">([A-Z0-9-]{11})<', thanks.text).group(1)
    (vote,) = phone_votes(app)
    assert vote["channel"] == "phone" and vote["clerk"] == "lan" and vote["level"] == "satisfied"
    assert vote["criteria"][DEFAULT_CRITERIA[1]] == "very_satisfied"
    assert vote["comment"] == "Chị Lan hướng dẫn rất tận tình" and vote["source"] == "screen"
    check = phone.get(f"/public/receipt?code={receipt}&lang=en")
    assert "The box is sealed" in check.text
    again = phone.get("/s/demo/lan?lang=en")  # said at once, before the form is filled
    assert again.status_code == 409 and "already rated this clerk today" in again.text
    assert "<form" not in again.text and refusals(app) == []
    token = token_of(phone, "/s/demo/binh")
    sent = phone.post("/s/demo/lan", data={**answers(), "csrf_token": token})  # sent anyway
    assert sent.status_code == 409 and "already rated this clerk today" in sent.text
    assert send(phone, "/s/demo/binh", **answers()).status_code == 200  # another clerk: fine
    assert len(phone_votes(app)) == 2
    assert refusals(app) == ["daily_limit"]


def test_a_ticket_takes_one_detailed_answer_for_its_own_clerk(app, client, phone, tmp_path):
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-11-18T08:00:00")
    kiosk.vote("lan", "hai_long", 2)
    kiosk.sync(client)
    first, second = kiosk.receipts
    assert send(phone, f"/s/demo/lan?t={first}", **answers()).status_code == 200
    assert phone_votes(app)[0]["source"] == "ticket"
    reused = send(app.test_client(), f"/s/demo/lan?t={first}", **answers())
    assert reused.status_code == 409 and "given already" in reused.text
    wrong = send(app.test_client(), f"/s/demo/binh?t={second}", **answers())
    assert wrong.status_code == 409 and "another clerk" in wrong.text
    unknown = send(app.test_client(), "/s/demo/lan?t=ABCDE-FGHJK", **answers())
    assert unknown.status_code == 409 and "not reached the server" in unknown.text
    malformed = send(app.test_client(), "/s/demo/lan?t=<b>x</b>", **answers())
    assert malformed.status_code == 409 and "<b>" not in malformed.text
    # The ticket's own answer can still come from the same phone after the screen's.
    assert send(phone, f"/s/demo/lan?t={second}", **answers()).status_code == 200
    assert len(phone_votes(app)) == 2


def test_an_old_ticket_has_expired(app, client, phone, tmp_path, server_clock):
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-11-13T10:00:00")
    kiosk.vote("lan", "hai_long", 2)
    kiosk.sync(client)
    first, second = kiosk.receipts
    # The server's clock (not the machine's) says how old a ticket is: 6 days 23 hours …
    assert phone.get(f"/s/demo/lan?t={first}&lang=en").status_code == 200
    server_clock.advance_to("2026-11-20T10:05:00")  # … then a little over 7 days
    page = phone.get(f"/s/demo/lan?t={second}&lang=en")
    assert page.status_code == 409 and "older than 7 days" in page.text
    assert phone_votes(app) == []


def test_an_address_is_rate_limited_and_each_refusal_recorded(app):
    phone = app.test_client()
    token = token_of(phone, "/s/demo/lan")  # (the page, before the address's limit)
    for number in range(RATE_LIMIT):
        assert send(app.test_client(), "/s/demo/lan", **answers()).status_code == 200, number
    limited = phone.get("/s/demo/lan?lang=en")  # said at once, before the form is filled
    assert limited.status_code == 429 and "<form" not in limited.text
    assert refusals(app) == []
    sent = phone.post("/s/demo/lan", data={**answers(), "csrf_token": token})
    assert sent.status_code == 429
    assert len(phone_votes(app)) == RATE_LIMIT
    assert refusals(app) == ["rate_limit"]
    with app.app_context():
        stored = web_db.session().scalars(select(func.distinct(LedgerRecord.kind))).all()
        assert "127.0.0.1" not in json.dumps(stored)


@pytest.mark.parametrize(
    "fields",
    [
        answers(comment="x" * 1001),  # too long
        answers(level="rat_rat_hai_long"),  # not on the scale
        {**answers(), "c0": "ecstatic"},  # not a level
        {k: v for k, v in answers().items() if k != "c3"},  # a criterion unanswered
        {"comment": "only a comment"},
    ],
)
def test_bad_answers_are_refused_and_nothing_is_stored(app, phone, fields):
    response = send(phone, "/s/demo/lan", **fields)
    assert response.status_code == 400
    assert phone_votes(app) == []


def test_unknown_or_inactive_clerks_have_no_page(app, phone):
    assert phone.get("/s/demo/nobody").status_code == 404
    assert phone.get("/s/no-office/lan").status_code == 404
    assert phone.post("/s/demo/lan", data=answers()).status_code == 400  # no CSRF token


def test_the_ceremony_counts_phone_answers_per_criterion_and_escapes_comments(
    app, client, tmp_path: Path
):
    kiosk: Kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-10-30T08:00:00")
    kiosk.vote("lan", "rat_hai_long", 2)
    kiosk.clock.advance_to("2026-11-01T07:00:00")
    kiosk.box.tick()
    kiosk.sync(client)
    # Answers from phones now land in November's box (the server's clock): open October
    # first, then check November's count through a phone answer's own record.
    send(app.test_client(), "/s/demo/lan", **answers(comment="<script>alert('x')</script>"))
    twice = app.test_client()
    send(twice, "/s/demo/binh", **answers(level="khong_hai_long"))
    token = token_of(twice, "/s/demo/lan")
    again = twice.post("/s/demo/binh", data={**answers(), "csrf_token": token})
    assert again.status_code == 409  # refused, recorded
    as_secretary(client)
    post_form(client, app, "2026-11", "start", early_reason="Kiểm tra khảo sát")
    for username in ("chu-tich", "mttq", "cong-doan"):
        confirm(client, app, "2026-11", username)
    assert post_form(client, app, "2026-11", "open", warnings_reason="Mở sớm").status_code == 302
    minutes = minutes_of(app, "2026-11")
    assert not [c for c in minutes["checks"] if c["code"] == "clock"]  # the server's time
    refused = [c["message"] for c in minutes["checks"] if c["code"] == "refused"]
    assert refused == [
        "1 lượt đánh giá qua điện thoại bị từ chối, không được tính "
        "(điện thoại này đã đánh giá công chức này trong hôm nay: 1 lần)"
    ]
    # Answers from the screen's QR code (no ticket): unverified opinions, counted apart
    assert [row["key"] for row in minutes["count"]["by_channel"]] == []
    count = minutes["count"]["unverified"]
    phone_row = next(row for row in count["by_channel"] if row["key"] == "phone_screen")
    assert phone_row["votes"] == 2 and phone_row["by_level"]["not_satisfied"] == 1
    by_criterion = {row["name"]: row for row in count["by_criterion"]}
    assert set(by_criterion) == set(DEFAULT_CRITERIA)
    assert by_criterion[DEFAULT_CRITERIA[0]]["by_level"]["satisfied"] == 2
    assert by_criterion[DEFAULT_CRITERIA[1]]["by_level"]["very_satisfied"] == 2
    assert count["comments"] == [
        {"clerk": "lan", "name": "Nguyễn Thị Lan", "text": "<script>alert('x')</script>"}
    ]
    for page in (
        client.get(box_url(app, "2026-11")),
        client.get(box_url(app, "2026-11", "minutes")),
    ):
        assert "<script>alert" not in page.text
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text
        assert DEFAULT_CRITERIA[2] in page.text


def test_an_office_sets_its_own_criteria(app, phone):
    technician = app.test_client()
    assert login(technician, "kt-dong").status_code == 302
    office = app.config["OFFICE_ID"]
    page = technician.get(f"/manage/offices/{office}")
    token = csrf_token(page.text)
    url = f"/manage/offices/{office}/criteria"
    twice = technician.post(url, data={"criteria": "Thái độ\nThái độ", "csrf_token": token})
    assert twice.status_code == 400
    saved = technician.post(url, data={"criteria": "Thái độ\n\n Đúng hẹn ", "csrf_token": token})
    assert saved.status_code == 302
    form = phone.get("/s/demo/lan")
    assert "Thái độ" in form.text and "Đúng hẹn" in form.text
    assert DEFAULT_CRITERIA[0] not in form.text
    sent = send(phone, "/s/demo/lan", level="hai_long", c0="satisfied", c1="not_satisfied")
    assert sent.status_code == 200
    assert phone_votes(app)[0]["criteria"] == {"Thái độ": "satisfied", "Đúng hẹn": "not_satisfied"}


def test_a_full_disk_refuses_clearly_and_the_ticket_keeps_its_answer(
    app, client, phone, tmp_path, monkeypatch
):
    from sqlalchemy.exc import OperationalError

    import web.survey_box

    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-11-18T08:00:00")
    kiosk.vote("lan", "hai_long")
    kiosk.sync(client)

    def full(*_args, **_kwargs):  # what SQLite says when its disk is full
        raise OperationalError("INSERT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(web.survey_box, "insert_rows", full)
    failed = send(phone, f"/s/demo/lan?t={kiosk.receipts[0]}", **answers())
    assert failed.status_code == 503 and "could not be recorded" in failed.text
    assert phone_votes(app) == []
    monkeypatch.undo()
    retried = send(phone, f"/s/demo/lan?t={kiosk.receipts[0]}", **answers())
    assert retried.status_code == 200
    assert len(phone_votes(app)) == 1


def test_the_survey_box_keeps_its_verifier_state_beside_its_head(app, server_clock, monkeypatch):
    """Every answer stores the survey device's verifier state with its head; a process with
    an empty cache goes on from it, across the month's CLOSE and OPEN, without replaying."""
    from hom_phieu.ledger.state import LedgerState
    from hom_phieu.ledger.verify import Row, verify_rows
    from web import device_state
    from web.device_state import StateCache
    from web.services import services

    def stored_state() -> tuple[LedgerState, LedgerState]:
        with app.app_context():
            session = web_db.session()
            device = session.scalar(select(Device).where(Device.kind == "survey"))
            held = session.execute(
                select(LedgerRecord.seq, LedgerRecord.data, LedgerRecord.sig)
                .where(LedgerRecord.device_pk == device.id)
                .order_by(LedgerRecord.seq)
            )
            rows = [Row(seq, bytes(data), bytes(sig)) for seq, data, sig in held]
            problem, verifier = verify_rows(rows, device.public_key, device.device_id)
            assert problem is None
            assert (device.head_seq, device.head_hash) == (len(rows), verifier.state.head_hash)
            return LedgerState.from_json(device.verifier_state), verifier.state

    assert send(app.test_client(), "/s/demo/lan", **answers()).status_code == 200
    kept, verified = stored_state()
    assert kept == verified
    monkeypatch.setattr(services(app), "state_cache", StateCache())  # as another process
    monkeypatch.setattr(device_state, "_replayed", None)  # (called, it would fail)
    assert send(app.test_client(), "/s/demo/binh", **answers()).status_code == 200
    server_clock.advance(12 * 24 * 3600_000)  # into December: the box closes, the next opens
    monkeypatch.setattr(services(app), "state_cache", StateCache())
    assert send(app.test_client(), "/s/demo/lan", **answers()).status_code == 200
    kept, verified = stored_state()
    assert kept == verified and kept.closed_boxes[-1] == "2026-11"
    assert kept.open_box is not None and kept.open_box.votes == 1
