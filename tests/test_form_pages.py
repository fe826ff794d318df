"""Forms without dead ends (issue 13): each change confirmed in a flash message, destructive
actions asked first (without JavaScript, CSRF-protected) and undone where they can be, texts
too long refused with the field's name and limit, counters retired and put back, choices
limited to valid ones, and days typed and shown as dd/mm/yyyy."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from tests.test_web_manage import count, one, send
from tests.web_helpers import create_account, csrf_token, login
from web import db
from web.models import AuditEntry, Clerk, CommitteeMember, Counter, Device, Holiday, User


def add(app, *rows):
    """Rows added in one transaction; their ids."""
    with app.app_context():
        session = db.session()
        session.add_all(rows)
        session.commit()
        return [row.id for row in rows]


def confirm_first(client, path: str, says: list[str]) -> None:
    """``path`` asks first (GET: its page, no change), refuses a POST without the token,
    then does it (302) with the token of its page."""
    page = client.get(path)
    assert page.status_code == 200, path
    for text in says:
        assert text in page.text, (path, text)
    assert "<script" not in page.text
    assert client.post(path).status_code == 400  # no token: asked again, nothing done
    done = client.post(path, data={"csrf_token": csrf_token(page.text)})
    assert done.status_code == 302, path


def offered_counters(page: str) -> list[int]:
    """The values of the page's counter drop-down."""
    select_ = re.search(r'<select[^>]*name="counter".*?</select>', page, re.S).group(0)
    return [int(value) for value in re.findall(r'<option[^>]*value="(\d+)"', select_)]


def flashed(client, path: str) -> str:
    """The page ``path`` (where a change redirected), its flash messages only."""
    page = client.get(path).text
    return " ".join(re.findall(r'<p class="flash message"[^>]*>([^<]*)</p>', page))


def test_a_device_is_revoked_after_asking_and_the_page_says_it_cannot_be_undone(site) -> None:
    app, client, ids = site
    (device,) = add(app, Device(office_id=ids["dong"]["office"], device_id="hp-abc",
                                status="active", counter_id=ids["dong"]["counter"]))  # fmt: skip
    login(client, "kt-dong")
    listing = client.get("/devices").text
    assert f'href="/devices/{device}/revoke"' in listing  # a link to the question, no button
    confirm_first(client, f"/devices/{device}/revoke", ["hp-abc", "Không thể hoàn tác"])
    assert one(app, Device, id=device).status == "revoked"
    assert "Đã thu hồi thiết bị hp-abc." in flashed(client, "/devices")
    again = client.get(f"/devices/{device}/revoke")  # nothing to ask: said, and back
    assert again.status_code == 302
    assert "đã bị thu hồi từ trước" in flashed(client, "/devices")


def test_a_clerk_and_an_account_are_deactivated_after_asking_and_reactivated(site) -> None:
    app, client, ids = site
    office = ids["dong"]["office"]
    (clerk,) = add(app, Clerk(office_id=office, code="lan", name="Lê Lan", active=True))
    login(client, "admin")
    confirm_first(client, f"/manage/clerks/{clerk}/deactivate", ["Lê Lan", "Có thể hoàn tác"])
    assert one(app, Clerk, id=clerk).active is False
    page = f"/manage/offices/{office}"
    assert "Đã ngừng hoạt động công chức Lê Lan" in flashed(client, page)
    assert send(client, f"/manage/clerks/{clerk}/reactivate", page=page).status_code == 302
    assert one(app, Clerk, id=clerk).active is True
    assert "Công chức Lê Lan đã hoạt động trở lại." in flashed(client, page)

    viewer = one(app, User, username="xem-hac").id
    confirm_first(client, f"/manage/users/{viewer}/deactivate", ["xem-hac", "Có thể hoàn tác"])
    assert one(app, User, id=viewer).active is False
    assert "Đã ngừng hoạt động tài khoản xem-hac" in flashed(client, "/manage/users")
    reactivate = f"/manage/users/{viewer}/reactivate"
    assert send(client, reactivate, page="/manage/users").status_code == 302
    assert one(app, User, id=viewer).active is True


def test_changes_are_confirmed_in_vietnamese(site) -> None:
    _app, client, ids = site
    office = ids["dong"]["office"]
    login(client, "admin")
    account = {"username": "uy-vien", "display_name": "Trần Bình", "role": "committee",
               "unit": ids["dong"]["unit"], "language": "vi",
               "password": "một-mật-khẩu-khá-dài-7"}  # fmt: skip
    assert send(client, "/manage/users/new", account).status_code == 302
    assert "Đã tạo tài khoản uy-vien." in flashed(client, "/manage/users")
    page = f"/manage/offices/{office}"
    assert send(client, f"{page}/counters", {"name": "Quầy 2"}, page=page).status_code == 302
    assert "Đã thêm quầy “Quầy 2”." in flashed(client, page)


def test_the_committee_list_offers_only_those_not_on_it_and_removing_asks(site) -> None:
    app, client, ids = site
    office, unit = ids["dong"]["office"], ids["dong"]["unit"]
    with app.app_context():
        people = [("binh", "Trần Bình"), ("chi", "Lê Chi"), ("dung", "Phạm Dũng"),
                  ("em", "Vũ Em"), ("giang", "Đỗ Giang")]  # fmt: skip
        users = {name: create_account(name, full, "committee", unit) for name, full in people}
        db.session().flush()
        for name, role in [("dung", "ubnd_leader"), ("em", "mttq_chair"), ("giang", "union_rep")]:
            db.session().add(CommitteeMember(office_id=office, user_id=users[name].id,
                                             committee_role=role))  # fmt: skip
        db.session().commit()
    login(client, "admin")
    page = f"/manage/offices/{office}"
    binh = one(app, User, username="binh").id
    added = send(client, f"{page}/committee", {"user": binh, "committee_role": "secretary"},
                 page=page)  # fmt: skip
    assert added.status_code == 302
    assert "Đã thêm Trần Bình vào tổ mở hòm phiếu." in flashed(client, page)
    offered = client.get(page).text.split('id="member-user"', 1)[1].split("</select>")[0]
    assert "Lê Chi" in offered and "Trần Bình" not in offered
    member = one(app, CommitteeMember, user_id=binh).id
    confirm_first(client, f"/manage/committee/{member}/remove", ["Trần Bình", "hoàn tác"])
    assert count(app, CommitteeMember) == 3
    assert "Đã xóa Trần Bình khỏi tổ mở hòm phiếu." in flashed(client, page)
    assert send(client, f"{page}/quorum", {"quorum": 3}, page=page).status_code == 302
    assert "Đã lưu số xác nhận cần có: 3." in flashed(client, page)


def test_a_text_too_long_is_refused_naming_the_field_and_its_limit(site) -> None:
    app, client, ids = site
    office = ids["dong"]["office"]
    login(client, "admin")
    page = f"/manage/offices/{office}"
    form = client.get(page).text
    assert "maxlength" not in form  # a browser would cut a pasted text silently
    answer = send(client, f"{page}/counters", {"name": "Q" * 500}, page=page)
    assert answer.status_code == 400
    assert "Tên quầy: tối đa 200 ký tự (đã nhập 500 ký tự)" in answer.text
    assert count(app, Counter) == 2  # the two seeded: nothing cut, nothing stored
    clerk = {"code": "lan", "name": "Lê Lan", "title": "T" * 201, "procedure_field": 0,
             "counter": 0, "contact": ""}  # fmt: skip
    page = f"/manage/offices/{office}/clerks/new"
    answer = send(client, page, clerk)
    assert "Chức danh: tối đa 200 ký tự (đã nhập 201 ký tự)" in answer.text
    login(client, "kt-dong")
    answer = send(client, "/devices/new", {"office": office, "counter": 0, "label": "x" * 201})
    assert answer.status_code == 400
    assert "Ghi chú (vị trí đặt máy): tối đa 200 ký tự" in answer.text
    assert count(app, Device) == 0


def test_a_retired_counter_is_not_offered_for_new_devices_and_clerks(site) -> None:
    app, client, ids = site
    office, counter = ids["dong"]["office"], ids["dong"]["counter"]
    (device,) = add(app, Device(office_id=office, counter_id=counter, status="active"))
    login(client, "kt-dong")
    path = f"/manage/counters/{counter}/retire"
    confirm_first(client, path, ["Quầy 1", "số thiết bị còn đặt tại quầy này: 1", "hoàn tác"])
    assert one(app, Counter, id=counter).retired_at is not None
    assert one(app, Device, id=device).counter_id == counter  # kept until moved
    page = f"/manage/offices/{office}"
    assert "Đã ngừng sử dụng quầy “Quầy 1”" in flashed(client, page)
    assert counter not in offered_counters(client.get("/devices/new").text)
    refused = send(client, "/devices/new", {"office": office, "counter": counter, "label": ""})
    assert refused.status_code == 400 and count(app, Device) == 1
    clerk_form = client.get(f"/manage/offices/{office}/clerks/new").text
    assert counter not in offered_counters(clerk_form)

    assert send(client, f"/manage/counters/{counter}/unretire", page=page).status_code == 302
    assert one(app, Counter, id=counter).retired_at is None
    assert "Quầy “Quầy 1” đã được dùng lại." in flashed(client, page)
    assert counter in offered_counters(client.get("/devices/new").text)
    with app.app_context():
        done = db.session().scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert done[-2:] == ["counter_retired", "counter_unretired"]


def test_the_device_form_groups_counters_by_office_and_refuses_another_offices(site) -> None:
    app, client, ids = site
    login(client, "kt-tinh")  # the province's technician sees both communes
    form = client.get("/devices/new").text
    groups = re.findall(r'<optgroup label="([^"]+)">', form)
    assert sorted(groups) == ["Bộ phận một cửa Phường Hạc Thành", "Bộ phận một cửa Xã Đông Thanh"]
    assert set(offered_counters(form)) == {0, ids["dong"]["counter"], ids["hac"]["counter"]}
    data = {"office": ids["dong"]["office"], "counter": ids["hac"]["counter"], "label": ""}
    answer = send(client, "/devices/new", data)
    assert answer.status_code == 400
    assert "quầy này thuộc bộ phận khác" in answer.text
    assert count(app, Device) == 0


def test_holidays_are_typed_and_shown_as_day_month_year(site) -> None:
    app, client, ids = site
    unit = ids["dong"]["unit"]
    login(client, "admin")
    path = f"/manage/units/{unit}/holidays"
    form = client.get(path).text
    day_input = re.search(r'<input[^>]*name="day"[^>]*>', form).group(0)
    assert 'type="text"' in day_input and 'placeholder="dd/mm/yyyy"' in day_input
    assert "pattern=" in day_input
    for typed in ["09/02", "31/02/2026", "02/09/0202", "2026/09/02", "9-2-2026"]:
        answer = send(client, path, {"day": typed, "name": "Quốc khánh"})
        assert answer.status_code == 400, typed
        assert "nhập ngày theo dạng dd/mm/yyyy (ngày/tháng/năm)" in answer.text, typed
        assert f'value="{typed}"' in answer.text  # what was typed comes back to be fixed
    assert count(app, Holiday) == 0
    assert send(client, path, {"day": "2/9/2026", "name": "Quốc khánh"}).status_code == 302
    holiday = one(app, Holiday, unit_id=unit)
    assert holiday.day == date(2026, 9, 2)
    assert "Đã thêm ngày nghỉ lễ 02/09/2026 (Quốc khánh)." in flashed(client, path)
    remove = f"/manage/holidays/{holiday.id}/remove"
    confirm_first(client, remove, ["02/09/2026", "Quốc khánh", "hoàn tác"])
    assert count(app, Holiday) == 0
