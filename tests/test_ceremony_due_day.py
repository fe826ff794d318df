"""The ceremony on its prescribed day, through the admin pages: on November's last working
day (Monday 30/11/2026) the opening is the box's cut-off, so a normal day shows no warning
and asks no reason; the figures are checked on the server and reviewed before the box is
frozen; the secretary running the screen is present in the minutes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hom_phieu.clock import FakeClock
from tests.ceremony_helpers import as_secretary, box_url, confirm, enrolled_kiosk, post_form
from tests.ceremony_helpers import minutes_of as stored_minutes
from web import db as web_db
from web.models import Opening

BOX = "2026-11"
DUE_DAY = "2026-11-30T14:00:00"  # Vietnam time: the month's last working day, a Monday


@pytest.fixture
def server_clock() -> FakeClock:
    return FakeClock.at(DUE_DAY)


@pytest.fixture
def app(ceremony_app):
    return ceremony_app


@pytest.fixture
def client(app):
    return app.test_client()


def _due_day_kiosk(app, client, tmp_path, votes: int = 6):
    """A kiosk voting through November up to the ceremony, synced a moment ago."""
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-11-30T08:00:00")
    kiosk.vote("lan", "rat_hai_long", votes - 2)
    kiosk.vote("binh", "hai_long", 2)
    kiosk.sync(client)
    return kiosk


def _ready(app, client) -> None:
    """Started with no reason (it is the due day) and confirmed by three members."""
    as_secretary(client)
    started = post_form(client, app, BOX, "start")
    assert started.status_code == 302, started.text
    for username in ("chu-tich", "mttq", "cong-doan"):
        assert confirm(client, app, BOX, username).status_code == 302


def _opened(app) -> bool:
    with app.app_context():
        opening = web_db.session().scalar(select(Opening).where(Opening.box == BOX))
        return opening is not None and opening.status == Opening.OPENED


def test_a_normal_due_day_shows_no_warning_and_the_minutes_name_the_cut_off(app, client, tmp_path):
    kiosk = _due_day_kiosk(app, client, tmp_path)
    _ready(app, client)
    page = client.get(box_url(app, BOX) + "?verify=1")
    assert "this opening is the cut-off" in page.text
    assert "Warning" not in page.text and "warning:" not in page.text
    review = post_form(client, app, BOX, "review", dossiers_returned="8")
    assert review.status_code == 200, review.text
    assert 'id="review-rate">75,00%' in review.text  # 6 of 8, decimal comma
    assert "None." in review.text and not _opened(app)
    opened = post_form(client, app, BOX, "open", dossiers_returned="8")
    assert opened.status_code == 302, opened.text
    minutes = stored_minutes(app, BOX)
    assert [c for c in minutes["checks"] if c["severity"] != "ok"] == []
    assert minutes["warnings_reason"] is None and minutes["count"]["votes"] == 6
    # The secretary ran the screen without confirming: she is present, first, as secretary.
    assert [a["committee_role"] for a in minutes["attendees"]] == [
        "secretary", "ubnd_leader", "mttq_chair", "union_rep"]  # fmt: skip
    client.get("/?lang=vi")
    printable = client.get(box_url(app, BOX, "minutes")).text
    assert "là thời điểm chốt hòm phiếu tháng 11/2026" in printable
    assert "đang nhận phiếu" not in printable and "Chưa có thiết bị nào" not in printable
    assert "Đỗ Thị Thư" in printable
    # A ballot after the cut-off goes to December's supplement.
    kiosk.vote("lan", "hai_long", 1)
    kiosk.sync(client)
    assert kiosk.key.device_id  # (the device keeps its chain; its next opening counts it)


def test_impossible_figures_freeze_nothing(app, client, tmp_path):
    _due_day_kiosk(app, client, tmp_path, votes=10)
    _ready(app, client)
    client.get("/?lang=vi")  # the messages in Vietnamese
    out_of_range = "số hồ sơ đã trả kết quả phải là số nguyên từ 0 đến 10.000.000"
    not_a_number = "nhập số hồ sơ đã trả kết quả bằng một số nguyên"
    for typed, message in (("-5", out_of_range), ("99999999999", out_of_range),
                           ("mười", not_a_number), ("1,5", not_a_number)):  # fmt: skip
        for action in ("review", "open"):
            refused = post_form(client, app, BOX, action, dossiers_returned=typed)
            assert refused.status_code == 400 and message in refused.text, (typed, action)
    # 5 dossiers for 10 ballots: a warning that needs the committee's reason, at the review
    # and at the opening itself (a form posted straight to it).
    review = post_form(client, app, BOX, "review", dossiers_returned="5")
    assert review.status_code == 400 and "200,00%" in review.text
    straight = post_form(client, app, BOX, "open", dossiers_returned="5")
    assert straight.status_code == 400 and not _opened(app)
    reason = "Một số hồ sơ trả qua bưu điện chưa được ghi sổ"
    review = post_form(client, app, BOX, "review", dossiers_returned="5", warnings_reason=reason)
    assert review.status_code == 200 and 'id="review-rate">200,00%' in review.text
    assert reason in review.text and not _opened(app)
    opened = post_form(client, app, BOX, "open", dossiers_returned="5", warnings_reason=reason)
    assert opened.status_code == 302 and _opened(app)
    minutes = stored_minutes(app, BOX)
    assert [c["code"] for c in minutes["checks"] if c["severity"] != "ok"] == ["dossiers"]
    assert minutes["dossiers_returned"] == 5 and minutes["warnings_reason"] == reason


def test_a_device_silent_for_hours_on_the_due_day_is_still_a_warning(
    app, client, tmp_path, server_clock
):
    _due_day_kiosk(app, client, tmp_path)
    server_clock.advance(3 * 3600 * 1000)  # the ceremony at 17:00, nothing synced since 14:00
    _ready(app, client)
    refused = post_form(client, app, BOX, "review")
    assert refused.status_code == 400 and "give the reason" in refused.text
    page = client.get(box_url(app, BOX) + "?verify=1")
    assert "not synced in the 1 hour before the opening" in page.text
