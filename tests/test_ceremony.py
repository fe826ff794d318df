"""The opening ceremony through the admin pages: quorum, verification, count, minutes,
freezing and supplements, over real signed records pushed through the device API."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from hom_phieu.ledger.records import Level, decode
from tests.ceremony_helpers import (
    as_secretary,
    box_url,
    confirm,
    enrolled_kiosk,
    minutes_of,
    october_kiosk,
    post_form,
    review_token_of,
)
from tests.web_helpers import csrf_token, login
from web import db as web_db
from web.models import Device, Opening


@pytest.fixture
def app(ceremony_app):
    """The server seeded by ``tests.ceremony_helpers.seed_ceremony`` (conftest)."""
    return ceremony_app


@pytest.fixture
def client(app):
    return app.test_client()


def test_the_committee_opens_a_box_and_the_count_is_exactly_what_was_pressed(app, client,
                                                                             tmp_path):  # fmt: skip
    kiosk = october_kiosk(app, client, tmp_path)
    as_secretary(client)
    page = client.get(box_url(app, "2026-10"))
    assert "15 ballots from 1 devices" in page.text or "15" in page.text
    assert "Very satisfied" not in page.text  # sealed: no level is named anywhere yet
    assert post_form(client, app, "2026-10", "start").status_code == 302
    for username in ("chu-tich", "mttq", "thu-ky"):
        assert confirm(client, app, "2026-10", username).status_code == 302
    checks = client.get(box_url(app, "2026-10") + "?verify=1")
    assert "chain intact" in checks.text and "too many votes in a short time: 1" in checks.text
    refused = post_form(client, app, "2026-10", "open")
    assert refused.status_code == 400 and "give the reason" in refused.text  # the burst warning
    opened = post_form(client, app, "2026-10", "open", dossiers_returned="20",
                       warnings_reason="Bấm liên tục một lần, đã kiểm tra camera")  # fmt: skip
    assert opened.status_code == 302
    minutes = minutes_of(app, "2026-10")
    by_clerk = {row["key"]: row["by_level"] for row in minutes["count"]["by_clerk"]}
    expected: dict = {}
    for (box, clerk, level), n in kiosk.pressed.items():
        if box == "2026-10":
            expected.setdefault(clerk, dict.fromkeys(BUTTONS_LEVELS, 0))[level] += n
    assert by_clerk == expected
    assert minutes["count"]["votes"] == 15
    assert [a["committee_role"] for a in minutes["attendees"]] == [
        "ubnd_leader", "mttq_chair", "secretary"]  # fmt: skip
    assert minutes["devices"][0]["close_seq"] is not None
    assert minutes["next_box"]["devices"][0]["open_seq"] == minutes["devices"][0]["close_seq"] + 1
    result = client.get(box_url(app, "2026-10"))
    assert "46,67%" in result.text or "46.67" in result.text  # 7 of 15 very satisfied (lan)


BUTTONS_LEVELS = tuple(level.value for level in Level)


def test_the_box_opens_only_with_the_figures_of_the_summary_read(app, client, tmp_path):
    """The secretary's browser posts the opening: figures changed after the summary (fewer
    dossiers for a higher participation rate, another reason) are refused, nothing opens."""
    october_kiosk(app, client, tmp_path)
    as_secretary(client)
    assert post_form(client, app, "2026-10", "start").status_code == 302
    for username in ("chu-tich", "mttq", "thu-ky"):
        assert confirm(client, app, "2026-10", username).status_code == 302
    figures = {"dossiers_returned": "20", "warnings_reason": "Đã kiểm tra camera"}
    page = client.get(box_url(app, "2026-10"))
    summary = client.post(box_url(app, "2026-10", "review"),
                          data={**figures, "csrf_token": csrf_token(page.text)})  # fmt: skip
    assert summary.status_code == 200
    token = review_token_of(summary.text)
    for changed in ({"dossiers_returned": "16"}, {"warnings_reason": "Không sao"},
                    {"dossiers_returned": ""}):  # fmt: skip
        refused = post_form(client, app, "2026-10", "open", **{**figures, **changed},
                            review_token=token)  # fmt: skip
        assert refused.status_code == 400 and "summary the committee read" in refused.text
    forged = post_form(client, app, "2026-10", "open", **figures, review_token=token[:-2] + "xx")
    assert forged.status_code == 400
    with app.app_context():
        opening = web_db.session().scalar(select(Opening).where(Opening.box == "2026-10"))
        assert opening is not None and opening.status != Opening.OPENED
    opened = post_form(client, app, "2026-10", "open", **figures, review_token=token)
    assert opened.status_code == 302
    assert minutes_of(app, "2026-10")["dossiers_returned"] == 20


@pytest.mark.parametrize(
    ("confirmations", "message"),
    [
        (["chu-tich", "mttq"], "2 of the 3 confirmations"),
        (["mttq", "cong-doan", "mot-cua"], "leader or deputy has not confirmed"),
    ],
)
def test_without_a_quorum_the_box_stays_sealed(app, client, tmp_path, confirmations, message):
    october_kiosk(app, client, tmp_path)
    as_secretary(client)
    post_form(client, app, "2026-10", "start")
    for username in confirmations:
        assert confirm(client, app, "2026-10", username).status_code == 302
    page = client.get(box_url(app, "2026-10"))
    assert message in page.text
    refused = post_form(client, app, "2026-10", "open", warnings_reason="x")
    assert refused.status_code in (400, 409)
    with app.app_context():
        assert web_db.session().scalar(select(Opening.status)) == "started"


def test_confirmations_that_do_not_count_are_refused_and_audited(app, client, tmp_path):
    october_kiosk(app, client, tmp_path)
    as_secretary(client)
    post_form(client, app, "2026-10", "start")
    assert confirm(client, app, "2026-10", "chu-tich").status_code == 302
    twice = confirm(client, app, "2026-10", "chu-tich")
    assert twice.status_code == 400 and "has confirmed already" in twice.text
    stranger = confirm(client, app, "2026-10", "ngoai")
    assert stranger.status_code == 400 and "not a member of this office" in stranger.text
    elsewhere = confirm(client, app, "2026-10", "hac-mttq")
    assert elsewhere.status_code == 400 and "another office" in elsewhere.text
    wrong = confirm(client, app, "2026-10", "mttq", "not-the-password")
    assert wrong.status_code == 401
    with app.app_context():
        session = web_db.session()
        opening = session.scalar(select(Opening))
        assert [c.user.username for c in opening.confirmations] == ["chu-tich"]
        refusals = session.execute(
            text("SELECT COUNT(*) FROM audit_log WHERE action = 'ceremony_confirmation_refused'")
        ).scalar()
        assert refusals == 4


def test_only_the_secretary_runs_the_ceremony(app, client, tmp_path):
    october_kiosk(app, client, tmp_path)
    assert login(client, "chu-tich").status_code == 302
    assert post_form(client, app, "2026-10", "start").status_code == 403


def test_an_opened_box_is_frozen_and_late_ballots_go_to_the_next_supplement(app, client, tmp_path):
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-10-20T08:00:00")
    kiosk.vote("lan", "rat_hai_long", 5)
    kiosk.sync(client)
    as_secretary(client)
    post_form(client, app, "2026-10", "start")
    for username in ("chu-tich", "mttq", "cong-doan"):
        confirm(client, app, "2026-10", username)
    # The device has not closed October: a warning; the committee opens anyway.
    opened = post_form(client, app, "2026-10", "open", warnings_reason="Thiết bị mất mạng")
    assert opened.status_code == 302
    october = minutes_of(app, "2026-10")
    assert october["count"]["votes"] == 5
    assert any(c["code"] == "close" and c["severity"] == "warning" for c in october["checks"])
    with app.app_context(), pytest.raises(Exception, match="frozen"):
        session = web_db.session()
        session.execute(text("UPDATE openings SET minutes_hash = 'x'"))
        session.commit()
    # Two more October ballots arrive late, then November closes.
    kiosk.vote("binh", "khong_hai_long", 2)
    kiosk.clock.advance_to("2026-11-03T08:00:00")
    kiosk.vote("lan", "hai_long", 3)
    kiosk.clock.advance_to("2026-12-01T07:00:00")
    kiosk.box.tick()  # the daemon's loop closes November
    kiosk.sync(client)
    # Today (in this test) is before November's last working day: a reason is needed.
    early = post_form(client, app, "2026-11", "start")
    assert early.status_code == 400 and "give the reason" in early.text
    post_form(client, app, "2026-11", "start", early_reason="Chủ tịch đi công tác cuối tháng")
    for username in ("pho-chu-tich", "mttq", "mot-cua"):
        assert confirm(client, app, "2026-11", username).status_code == 302
    # Still November on the server's clock: the opening is November's cut-off, and the
    # device synced a moment ago: no warning, no reason to give.
    opened = post_form(client, app, "2026-11", "open")
    assert opened.status_code == 302
    november = minutes_of(app, "2026-11")
    mine = [c for c in november["checks"] if c["device_id"] == kiosk.key.device_id]
    assert [c["code"] for c in mine if c["severity"] != "ok"] == []
    assert november["count"]["votes"] == 3
    assert [s["box"] for s in november["supplements"]] == ["2026-10"]
    supplement = november["supplements"][0]["count"]
    assert supplement["votes"] == 2
    assert supplement["by_level"]["not_satisfied"] == 2
    assert minutes_of(app, "2026-10") == october  # the opened box did not change


def tamper(app, sql: str, **params) -> None:
    """What someone with write access to the server's database could do (the triggers
    stop the application, not a determined administrator)."""
    with app.app_context():
        session = web_db.session()
        if session.bind.dialect.name == "sqlite":
            for name in ("ledger_records_no_update", "ledger_records_no_delete"):
                session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            session.execute(text("DROP TRIGGER IF EXISTS ledger_records_append_only "
                                 "ON ledger_records"))  # fmt: skip
        session.execute(text(sql), params)
        session.commit()


def test_tampering_on_the_server_is_named_in_the_checklist_and_the_minutes(app, client, tmp_path):
    altered = october_kiosk(app, client, tmp_path)
    gapped = enrolled_kiosk(app, client, tmp_path / "k2", "2026-10-30T09:00:00", "BBBB-CCCC-DDDD")
    gapped.vote("binh", "hai_long", 6)
    gapped.clock.advance_to("2026-11-01T07:00:00")
    gapped.box.tick()  # the month closes between votes, as the daemon's loop does
    gapped.sync(client)
    unclosed = enrolled_kiosk(app, client, tmp_path / "k3", "2026-10-31T09:00:00", "EEEE-FFFF-GGGG")
    unclosed.vote("lan", "hai_long", 2)
    unclosed.sync(client)
    with app.app_context():
        session = web_db.session()
        pk = {name: session.scalar(select(Device.id).where(Device.device_id == k.key.device_id))
              for name, k in (("altered", altered), ("gapped", gapped))}  # fmt: skip
    victim = next(r for r in altered.rows() if b'"level":"very_satisfied"' in r.data)
    forged = victim.data.replace(b'"level":"very_satisfied"', b'"level":"not_satisfied"')
    assert forged != victim.data
    tamper(app, "UPDATE ledger_records SET data = :d WHERE device_pk = :p AND seq = :s",
           d=forged, p=pk["altered"], s=victim.seq)  # fmt: skip
    tamper(app, "DELETE FROM ledger_records WHERE device_pk = :p AND seq = 6", p=pk["gapped"])
    as_secretary(client)
    post_form(client, app, "2026-10", "start")
    for username in ("chu-tich", "mttq", "cong-doan"):
        confirm(client, app, "2026-10", username)
    page = client.get(box_url(app, "2026-10") + "?verify=1")
    assert "altered" in page.text and "record 6 is missing" in page.text
    assert "no CLOSE yet" in page.text
    opened = post_form(client, app, "2026-10", "open", warnings_reason="Báo công an")
    assert opened.status_code == 302
    minutes = minutes_of(app, "2026-10")
    problems = {d["device_id"]: d["problem"] for d in minutes["devices"]}
    assert problems[altered.key.device_id]["fault"] == "altered"
    assert problems[altered.key.device_id]["seq"] == victim.seq
    assert problems[gapped.key.device_id]["fault"] == "removed"
    assert problems[unclosed.key.device_id] is None
    kiosks = {k.key.device_id for k in (altered, gapped, unclosed)}
    statuses = {d["device_id"]: d["status"] for d in minutes["devices"]}
    statuses = {device: status for device, status in statuses.items() if device in kiosks}
    assert statuses == {altered.key.device_id: "fault", gapped.key.device_id: "fault",
                        unclosed.key.device_id: "warning"}  # fmt: skip
    # Only what verified is counted: the records before the damage.
    counted = {d["device_id"]: d["votes"] for d in minutes["devices"]}
    before = [decode(r.data) for r in altered.rows() if r.seq < victim.seq]
    assert counted[altered.key.device_id] == sum(r.kind == "VOTE" for r in before)
    assert minutes["count"]["votes"] == sum(counted.values())


def receipt_page(client, code: str) -> str:
    page = client.get(f"/public/receipt?code={code.lower().replace('-', ' ')}&lang=en")
    assert page.status_code == 200
    for level in ("Very satisfied", "Not satisfied", "very_satisfied", "not_satisfied"):
        assert level not in page.text  # never the level
    return page.text


def test_a_citizen_follows_a_receipt_from_sealed_to_counted(app, tmp_path):
    client = app.test_client()  # nobody logged in
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-10-20T08:00:00")
    kiosk.vote("lan", "khong_hai_long", 2)
    first, second = kiosk.receipts
    assert "has reached the server yet" in receipt_page(client, first)
    kiosk.sync(client)
    assert "The box is sealed" in receipt_page(client, first)
    assert "No box has been opened yet" in client.get("/public/results?lang=en").text
    staff = app.test_client()
    as_secretary(staff)
    post_form(staff, app, "2026-10", "start")
    for username in ("chu-tich", "mttq", "cong-doan"):
        confirm(staff, app, "2026-10", username)
    post_form(staff, app, "2026-10", "open", warnings_reason="Chưa đóng hòm")
    assert "your ballot was counted" in receipt_page(client, second)
    kiosk.vote("lan", "hai_long")
    kiosk.sync(client)
    assert "counted in the supplement at the next opening" in receipt_page(
        client, kiosk.receipts[-1]
    )
    results = client.get("/public/results?lang=en").text
    # Totals, no clerk; 2 ballots are below the public threshold: no level figures.
    assert "Ballots: <strong>2</strong>" in results and "Fewer than 10 ballots" in results
    assert "Nguyễn Thị Lan" not in results
    bad = client.get("/public/receipt?code=OOOOO-IIIII&lang=en")
    assert "This is not a receipt code" in bad.text


def test_the_administrator_sets_the_quorum_and_the_holidays(app, client, tmp_path):
    october_kiosk(app, client, tmp_path)
    admin = app.test_client()
    assert login(admin, "admin").status_code == 302
    office = app.config["OFFICE_ID"]
    page = admin.get(f"/manage/offices/{office}")
    raised = admin.post(f"/manage/offices/{office}/quorum",
                        data={"quorum": "4", "csrf_token": csrf_token(page.text)})  # fmt: skip
    assert raised.status_code == 302
    too_high = admin.post(f"/manage/offices/{office}/quorum",
                          data={"quorum": "99", "csrf_token": csrf_token(page.text)})  # fmt: skip
    assert too_high.status_code == 400
    holidays = admin.get("/manage/holidays")
    holiday = {"day": "2026-11-30", "name": "Ngày nghỉ bù", "csrf_token": csrf_token(holidays.text)}
    added = admin.post("/manage/holidays", data=holiday)
    assert added.status_code == 302
    as_secretary(client)
    assert "due to be opened on 27/11/2026" in client.get(box_url(app, "2026-11")).text
    post_form(client, app, "2026-10", "start")
    for username in ("chu-tich", "mttq", "cong-doan"):
        confirm(client, app, "2026-10", username)
    assert "3 of the 4 confirmations" in client.get(box_url(app, "2026-10")).text
    assert confirm(client, app, "2026-10", "mot-cua").status_code == 302
    opened = post_form(client, app, "2026-10", "open", warnings_reason="Có lần bấm liên tục")
    assert opened.status_code == 302
    assert minutes_of(app, "2026-10")["quorum"] == {"required": 4, "members": 6}


def test_offices_that_work_on_saturdays_set_their_weekend(app, client):
    admin = app.test_client()
    assert login(admin, "admin").status_code == 302
    admin.get("/?lang=en")
    page = admin.get("/manage/holidays")
    assert '<input checked id="days-5"' in page.text  # Saturday and Sunday by default
    every_day = {"days": [str(d) for d in range(7)], "csrf_token": csrf_token(page.text)}
    everything = admin.post("/manage/weekend", data=every_day)
    assert everything.status_code == 400 and "must be a working day" in everything.text
    sunday = admin.post(
        "/manage/weekend", data={"days": ["6"], "csrf_token": csrf_token(page.text)}
    )
    assert sunday.status_code == 302
    as_secretary(client)
    # 31 October 2026 is a Saturday: now a working day, so the box falls due then.
    assert "due to be opened on 31/10/2026" in client.get(box_url(app, "2026-10")).text


def test_signatures_checked_ahead_on_all_cores_still_name_a_bad_one(app, client, tmp_path):
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-10-20T08:00:00")
    kiosk.vote("lan", "hai_long", 300, step_ms=1000)  # more than a parallel chunk's minimum
    kiosk.clock.advance_to("2026-11-01T07:00:00")
    kiosk.box.tick()
    kiosk.sync(client)
    rows = kiosk.rows()
    victim, other = rows[200], rows[10]
    with app.app_context():
        pk = web_db.session().scalar(
            select(Device.id).where(Device.device_id == kiosk.key.device_id)
        )
    tamper(app, "UPDATE ledger_records SET sig = :sig WHERE device_pk = :p AND seq = :s",
           sig=other.sig, p=pk, s=victim.seq)  # fmt: skip
    as_secretary(client)
    post_form(client, app, "2026-10", "start")
    for username in ("chu-tich", "mttq", "cong-doan"):
        confirm(client, app, "2026-10", username)
    assert post_form(client, app, "2026-10", "open", warnings_reason="Điều tra").status_code == 302
    minutes = minutes_of(app, "2026-10")
    [device] = [d for d in minutes["devices"] if d["device_id"] == kiosk.key.device_id]
    assert device["problem"]["fault"] == "bad-signature" and device["problem"]["seq"] == victim.seq
    before = [decode(r.data) for r in rows if r.seq < victim.seq]
    assert device["votes"] == sum(r.kind == "VOTE" for r in before)
