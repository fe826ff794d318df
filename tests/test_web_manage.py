"""The management pages: unit tree, offices, counters, clerks, scales, committees, fields and
accounts, each behind its role and the unit scope, each change in the audit log."""

from __future__ import annotations

import io
import os
import re

from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import undefer

from tests.web_helpers import csrf_token, login
from web import db
from web.models import (
    AuditEntry,
    Clerk,
    CommitteeMember,
    Counter,
    Office,
    ProcedureField,
    ScaleButton,
    Unit,
    User,
)

NEW_PASSWORD = "mật-khẩu-mới-đủ-dài"


def send(client, path: str, data: dict | None = None, page: str | None = None, **kwargs):
    """POST ``data`` to ``path`` with the CSRF token of the form page (``path`` itself unless
    it has no GET, then ``page``)."""
    form = client.get(page or path)
    assert form.status_code == 200, (page or path, form.status_code)
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(form.text)}, **kwargs)


def query(app, statement):
    with app.app_context():
        return db.session().execute(statement).all()


def count(app, model) -> int:
    return query(app, select(func.count()).select_from(model))[0][0]


def actions(app) -> list[str]:
    return [row[0] for row in query(app, select(AuditEntry.action).order_by(AuditEntry.id))]


def image_bytes(size: tuple[int, int], kind: str, mode: str = "RGB", noise: bool = False) -> bytes:
    if noise:  # incompressible: a big file from a small picture
        image = Image.frombytes(mode, size, os.urandom(size[0] * size[1] * len(mode)))
    else:
        image = Image.new(mode, size, (200, 30, 30, 128) if mode == "RGBA" else (200, 30, 30))
    out = io.BytesIO()
    image.save(out, format=kind)
    return out.getvalue()


def scale_of(app, office_id: int) -> list[tuple[str, str, str]]:
    rows = query(
        app,
        select(ScaleButton.name, ScaleButton.label, ScaleButton.level)
        .where(ScaleButton.office_id == office_id)
        .order_by(ScaleButton.position),
    )
    return [tuple(row) for row in rows]


def one(app, model, **where):
    with app.app_context():  # every column loaded: the row is read after its session ends
        return db.session().scalar(select(model).filter_by(**where).options(undefer("*")))


def test_an_administrator_builds_the_tree_an_office_and_its_committee(site) -> None:
    app, client, _ids = site
    login(client, "admin")
    start = len(actions(app))

    # The tree: a province, a ward below it (depth is data).
    assert (
        send(
            client,
            "/manage/units/new",
            {"parent": 0, "code": "01", "name": "Thành phố Hà Nội", "kind": "thành phố"},
        ).status_code
        == 302
    )
    city = one(app, Unit, code="01")
    answer = send(
        client,
        "/manage/units/new",
        {"parent": city.id, "code": "01-bd", "name": "Phường Ba Đình", "kind": "phường"},
    )
    assert answer.status_code == 302
    ward = one(app, Unit, code="01-bd")
    assert ward.parent_id == city.id
    tree = client.get("/manage/units").text
    tree = tree[tree.index("<table") :]  # (after the flash that confirms the addition)
    assert tree.index("Thành phố Hà Nội") < tree.index("Phường Ba Đình")
    indented = r'padding-left: 2\.1rem">[^<]*<span aria-hidden="true">└ </span>Phường Ba Đình'
    assert re.search(indented, tree)

    # A procedure field, then the office, which starts with the three default buttons.
    assert send(client, "/manage/fields", {"name": "Hộ tịch"}).status_code == 302
    field = one(app, ProcedureField, name="Hộ tịch")
    answer = send(
        client,
        f"/manage/units/{ward.id}/offices/new",
        {"code": "01-bd-1c", "name": "Bộ phận một cửa phường Ba Đình"},
    )
    assert answer.status_code == 302
    office = one(app, Office, code="01-bd-1c")
    assert answer.headers["Location"].endswith(f"/manage/offices/{office.id}")
    assert [(label, level) for _name, label, level in scale_of(app, office.id)] == [
        ("Rất hài lòng", "very_satisfied"),
        ("Hài lòng", "satisfied"),
        ("Không hài lòng", "not_satisfied"),
    ]
    assert (
        send(
            client,
            f"/manage/offices/{office.id}/edit",
            {"code": "01-bd-1c", "name": "Bộ phận một cửa UBND phường Ba Đình"},
        ).status_code
        == 302
    )

    # Counters, added and renamed.
    page = f"/manage/offices/{office.id}"
    for name in ("Quầy 1", "Quầy 2"):
        assert send(client, f"{page}/counters", {"name": name}, page=page).status_code == 302
    second = one(app, Counter, office_id=office.id, name="Quầy 2")
    renamed = send(client, f"/manage/counters/{second.id}/edit", {"name": "Quầy 2 – Đất đai"})
    assert renamed.status_code == 302

    # A clerk with a photo: kept re-encoded as a small JPEG, shown from a scoped route.
    photo = image_bytes((900, 1200), "PNG", mode="RGBA")
    answer = send(
        client,
        f"{page}/clerks/new",
        {
            "code": "nguyen-thi-lan",
            "name": "Nguyễn Thị Lan",
            "title": "Công chức tư pháp – hộ tịch",
            "procedure_field": field.id,
            "counter": second.id,
            "contact": "0237 3 123 456",
            "photo": (io.BytesIO(photo), "lan.png"),
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 302
    clerk = one(app, Clerk, code="nguyen-thi-lan")
    assert (clerk.field_id, clerk.counter_id, clerk.active) == (field.id, second.id, True)
    office_page = client.get(page).text
    assert f'<img src="/manage/clerks/{clerk.id}/photo"' in office_page
    assert "Quầy 2 – Đất đai" in office_page and "0237 3 123 456" in office_page
    served = client.get(f"/manage/clerks/{clerk.id}/photo")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(served.data)) as image:
        assert image.format == "JPEG" and image.width <= 480 and image.height <= 640
    answer = send(
        client,
        f"/manage/clerks/{clerk.id}/edit",
        {
            "code": "doi-ma",
            "name": "Nguyễn Thị Lan",
            "title": "Công chức một cửa",
            "procedure_field": 0,
            "counter": 0,
            "contact": "",
        },
    )
    assert answer.status_code == 302
    clerk = one(app, Clerk, id=clerk.id)
    assert (clerk.code, clerk.title, clerk.field_id, clerk.photo is not None) == (
        "nguyen-thi-lan",
        "Công chức một cửa",
        None,
        True,
    )  # the code never changes
    assert send(client, f"/manage/clerks/{clerk.id}/deactivate", page=page).status_code == 302
    assert one(app, Clerk, id=clerk.id).active is False

    # A four-button scale.
    buttons = [
        ("rat_hai_long", "Rất hài lòng", "very_satisfied"),
        ("hai_long", "Hài lòng", "satisfied"),
        ("binh_thuong", "Bình thường", "satisfied"),
        ("chua_hai_long", "Chưa hài lòng", "not_satisfied"),
    ]
    data = {
        f"buttons-{i}-{key}": value
        for i, button in enumerate(buttons)
        for key, value in zip(("name", "label", "level"), button, strict=True)
    }
    assert send(client, f"{page}/scale", data).status_code == 302
    assert scale_of(app, office.id) == buttons

    # The committee: five accounts, five roles.
    roles = ["ubnd_leader", "mttq_chair", "union_rep", "one_stop_clerk", "secretary"]
    for number, role in enumerate(roles):
        answer = send(
            client,
            "/manage/users/new",
            {
                "username": f"hd-{number}",
                "display_name": f"Thành viên {number}",
                "role": "committee",
                "unit": ward.id,
                "language": "vi",
                "password": "mật-khẩu-hội-đồng",
            },
        )
        assert answer.status_code == 302
        member = one(app, User, username=f"hd-{number}")
        assert "mật-khẩu" not in member.password_hash
        answer = send(
            client, f"{page}/committee", {"user": member.id, "committee_role": role}, page=page
        )
        assert answer.status_code == 302
    office_page = client.get(page).text
    for label in (
        "Lãnh đạo UBND",
        "Chủ tịch Ủy ban MTTQ",
        "Đại diện công đoàn",
        "Công chức một cửa",
        "Thư ký",
    ):
        assert label in office_page
    members = query(
        app, select(CommitteeMember.committee_role).where(CommitteeMember.office_id == office.id)
    )
    assert sorted(row[0] for row in members) == sorted(roles)
    secretary = one(app, CommitteeMember, office_id=office.id, committee_role="secretary")
    assert send(client, f"/manage/committee/{secretary.id}/remove", page=page).status_code == 302
    assert count(app, CommitteeMember) == 4

    # Accounts: deactivated, reset.
    user = one(app, User, username="hd-4")
    assert (
        send(
            client,
            f"/manage/users/{user.id}/password",
            {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        ).status_code
        == 302
    )
    assert (
        send(client, f"/manage/users/{user.id}/deactivate", page="/manage/users").status_code == 302
    )
    assert one(app, User, id=user.id).active is False

    # Every change left its entry, and nothing else did.
    logged = actions(app)[start:]
    assert logged == [
        "unit_added",
        "unit_added",
        "procedure_field_added",
        "office_added",
        "office_changed",
        "counter_added",
        "counter_added",
        "counter_renamed",
        "clerk_added",
        "clerk_changed",
        "clerk_deactivated",
        "scale_changed",
        *["user_added", "committee_member_added"] * 5,
        "committee_member_removed",
        "password_reset",
        "user_deactivated",
    ]
    with app.app_context():
        entry = db.session().scalar(select(AuditEntry).where(AuditEntry.action == "password_reset"))
    assert NEW_PASSWORD not in str(entry.detail) and entry.user_id is not None


def _foreign_clerk(app, ids) -> int:
    """A clerk with a photo in the other commune (Hạc Thành)."""
    with app.app_context():
        clerk = Clerk(
            office_id=ids["hac"]["office"],
            code="binh",
            name="Trần Văn Bình",
            photo=image_bytes((40, 50), "JPEG"),
        )
        db.session().add(clerk)
        db.session().commit()
        return clerk.id


def test_a_technician_works_in_their_own_commune_only(site) -> None:
    app, client, ids = site
    clerk = _foreign_clerk(app, ids)
    login(client, "kt-dong")
    mine, theirs = ids["dong"]["office"], ids["hac"]["office"]
    tree = client.get("/manage/units").text
    assert "Xã Đông Thanh" in tree and "Hạc Thành" not in tree
    token = csrf_token(client.get(f"/manage/offices/{mine}").text)

    for path in [
        f"/manage/offices/{theirs}",
        f"/manage/offices/{theirs}/edit",
        f"/manage/offices/{theirs}/scale",
        f"/manage/offices/{theirs}/clerks/new",
        f"/manage/units/{ids['hac']['unit']}/offices",
        f"/manage/clerks/{clerk}/edit",
        f"/manage/clerks/{clerk}/photo",
        f"/manage/counters/{ids['hac']['counter']}/edit",
        "/manage/offices/99999",
        "/manage/clerks/99999/photo",
    ]:
        assert client.get(path).status_code == 404, path
    for path, data in [
        (f"/manage/offices/{theirs}/counters", {"name": "Quầy lạ"}),
        (f"/manage/offices/{theirs}/edit", {"code": "chiem", "name": "Chiếm"}),
        (f"/manage/clerks/{clerk}/deactivate", {}),
        (f"/manage/clerks/{clerk}/edit", {"name": "Đổi tên"}),
        (f"/manage/counters/{ids['hac']['counter']}/edit", {"name": "Đổi tên"}),
        (f"/manage/units/{ids['hac']['unit']}/offices/new", {"code": "x", "name": "X"}),
    ]:
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 404, path

    # Units, accounts, fields and committees are the administrators' business.
    for path in ["/manage/units/new", "/manage/users", "/manage/users/new", "/manage/fields"]:
        assert client.get(path).status_code == 403, path
    posts = ["/manage/units/new", "/manage/users/new", "/manage/fields"]
    for path in [*posts, "/manage/users/1/password", "/manage/users/1/deactivate"]:
        assert client.post(path, data={"csrf_token": token, "code": "x"}).status_code == 403
    committee = client.post(
        f"/manage/offices/{mine}/committee",
        data={"csrf_token": token, "user": 1, "committee_role": "secretary"},
    )
    assert committee.status_code == 403

    # In their own commune they do their job.
    answer = client.post(
        f"/manage/offices/{mine}/counters", data={"csrf_token": token, "name": "Quầy 2"}
    )
    assert answer.status_code == 302
    assert "Quầy 2" in client.get(f"/manage/offices/{mine}").text
    with app.app_context():
        session = db.session()
        assert session.get(Clerk, clerk).active is True
        assert session.get(Office, theirs).code == "38-ht-1c"
        names = session.scalars(select(Counter.name).where(Counter.office_id == theirs)).all()
    assert names == ["Quầy 1"]
    assert actions(app).count("counter_added") == 1


def test_a_viewer_can_look_but_change_nothing(site) -> None:
    app, client, ids = site
    clerk = _foreign_clerk(app, ids)  # in the viewer's own commune, Hạc Thành
    login(client, "xem-hac")
    office = ids["hac"]["office"]
    page = client.get(f"/manage/offices/{office}")
    assert page.status_code == 200 and "Trần Văn Bình" in page.text
    assert "/edit" not in page.text and "/scale" not in page.text
    assert client.get(f"/manage/clerks/{clerk}/photo").status_code == 200
    token = csrf_token(page.text)
    before = actions(app)
    for path, data in [
        (f"/manage/offices/{office}/counters", {"name": "Quầy 2"}),
        (f"/manage/offices/{office}/edit", {"code": "x", "name": "X"}),
        (f"/manage/offices/{office}/clerks/new", {"code": "x", "name": "X"}),
        (f"/manage/offices/{office}/scale", {"buttons-0-name": "a"}),
        (f"/manage/offices/{office}/committee", {"user": 1, "committee_role": "secretary"}),
        (f"/manage/clerks/{clerk}/deactivate", {}),
        (f"/manage/units/{ids['hac']['unit']}/offices/new", {"code": "x", "name": "X"}),
        ("/manage/units/new", {"code": "x"}),
        ("/manage/users/new", {"username": "xyz"}),
        ("/manage/fields", {"name": "Đất đai"}),
    ]:
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403, path
    assert actions(app) == before
    assert count(app, Counter) == 2 and count(app, ProcedureField) == 0


def test_a_form_without_its_csrf_token_is_refused(site) -> None:
    app, client, ids = site
    login(client, "admin")
    before = actions(app)
    answer = client.post(
        "/manage/units/new",
        data={"parent": ids["province"], "code": "38-x", "name": "Xã X", "kind": "xã"},
    )
    assert answer.status_code == 400 and "Traceback" not in answer.text
    answer = client.post(
        f"/manage/offices/{ids['dong']['office']}/counters",
        data={"name": "Quầy 2", "csrf_token": "giả"},
    )
    assert answer.status_code == 400
    assert count(app, Unit) == 3 and count(app, Counter) == 2 and actions(app) == before


def test_bad_input_is_refused_with_its_reason_and_nothing_is_stored(site) -> None:
    app, client, ids = site
    login(client, "admin")
    office = ids["dong"]["office"]
    good = {"buttons-0-name": "tot", "buttons-0-label": "Tốt", "buttons-0-level": "satisfied"}
    good |= {"buttons-1-name": "kem", "buttons-1-label": "Kém", "buttons-1-level": "not_satisfied"}
    assert send(client, f"/manage/offices/{office}/scale", good).status_code == 302
    scale_before = scale_of(app, office)
    before = actions(app)

    def refused(path, data, reason, **kwargs) -> None:
        answer = send(client, path, data, **kwargs)
        assert answer.status_code == 400, (path, answer.status_code)
        assert reason in answer.text, (path, reason)
        assert "Traceback" not in answer.text

    # Vietnamese by default, down to WTForms' own messages.
    refused(
        "/manage/units/new",
        {"parent": ids["province"], "code": "Xã Mới!", "name": "Xã Mới", "kind": "xã"},
        "chỉ dùng a-z, 0-9, _ và -",
    )
    refused(
        "/manage/units/new",
        {"parent": ids["province"], "code": "38-dt", "name": "Trùng", "kind": "xã"},
        "đã có đơn vị mang mã này",
    )
    refused(
        "/manage/units/new",
        {"parent": ids["province"], "code": "38-moi", "name": "", "kind": "xã"},
        "Mục này không được để trống.",
    )
    refused(
        "/manage/units/new",
        {"parent": ids["province"], "code": "38-moi", "name": "Xã Mới", "kind": "x" * 41},
        "Loại: tối đa 40 ký tự (đã nhập 41 ký tự)",
    )
    refused(
        f"/manage/units/{ids['dong']['unit']}/offices/new",
        {"code": "Một Cửa", "name": "X"},
        "chỉ dùng a-z",
    )
    clerk = {"code": "Lan Anh", "name": "Lê Lan Anh", "procedure_field": 0, "counter": 0}
    refused(f"/manage/offices/{office}/clerks/new", clerk, "chỉ dùng a-z")
    refused(
        f"/manage/offices/{office}/clerks/new",
        {**clerk, "counter": ids["hac"]["counter"]},
        "Lựa chọn không hợp lệ.",
    )  # another office's counter

    # Photos: too big, not an image, an image of another kind.
    clerk["code"] = "lan-anh"
    for content, reason in [
        (image_bytes((600, 600), "PNG", noise=True), "ảnh lớn hơn 500 KB"),
        (b"%PDF-1.4 this is not a picture", "ảnh phải là tệp JPEG hoặc PNG"),
        (image_bytes((20, 20), "GIF"), "ảnh phải là tệp JPEG hoặc PNG"),
    ]:
        refused(
            f"/manage/offices/{office}/clerks/new",
            {**clerk, "photo": (io.BytesIO(content), "anh.jpg")},
            reason,
            content_type="multipart/form-data",
        )

    # Scales: six buttons, a level that does not exist, a bad or repeated name, one button.
    six = {
        f"buttons-{i}-{key}": value
        for i in range(6)
        for key, value in (("name", f"nut_{i}"), ("label", f"Nút {i}"), ("level", "satisfied"))
    }
    refused(f"/manage/offices/{office}/scale", six, "thang đánh giá có từ 2 đến 5 nút")
    two = {
        "buttons-0-name": "tot",
        "buttons-0-label": "Tốt",
        "buttons-0-level": "satisfied",
        "buttons-1-name": "kem",
        "buttons-1-label": "Kém",
        "buttons-1-level": "rat_te",
    }
    refused(f"/manage/offices/{office}/scale", two, "hãy chọn một trong ba mức")
    refused(
        f"/manage/offices/{office}/scale",
        {**two, "buttons-1-level": "not_satisfied", "buttons-1-name": "Kém"},
        "chỉ dùng a-z, 0-9 và _",
    )
    refused(
        f"/manage/offices/{office}/scale",
        {**two, "buttons-1-level": "not_satisfied", "buttons-1-name": "tot"},
        "mỗi nút cần một tên riêng",
    )
    refused(
        f"/manage/offices/{office}/scale",
        {k: v for k, v in two.items() if "-1-" not in k},
        "thang đánh giá có từ 2 đến 5 nút",
    )

    # Accounts: a short password, an unknown role, a taken name; a counter's empty name.
    account = {
        "username": "moi",
        "display_name": "Người mới",
        "role": "viewer",
        "unit": 0,
        "language": "vi",
        "password": "ngắn",
    }
    refused("/manage/users/new", account, "ít nhất 10 ký tự")
    refused(
        "/manage/users/new",
        {**account, "password": NEW_PASSWORD, "role": "vua"},
        "Lựa chọn không hợp lệ.",
    )
    refused(
        "/manage/users/new", {**account, "password": NEW_PASSWORD, "username": "admin"}, "đã có"
    )
    refused(
        f"/manage/offices/{office}/counters",
        {"name": " "},
        "Mục này không được để trống.",
        page=f"/manage/offices/{office}",
    )
    refused(
        f"/manage/users/{1}/password",
        {"password": NEW_PASSWORD, "confirm": "khác"},
        "hai mật khẩu không khớp nhau",
    )

    assert count(app, Clerk) == 0 and count(app, Unit) == 3 and count(app, Office) == 2
    assert count(app, User) == 4 and count(app, Counter) == 2
    assert (
        scale_of(app, office)
        == scale_before
        == [
            ("tot", "Tốt", "satisfied"),
            ("kem", "Kém", "not_satisfied"),
        ]
    )
    assert actions(app) == before


def test_pages_speak_vietnamese_by_default_and_english_on_request(site) -> None:
    _app, client, ids = site
    login(client, "admin")
    office = f"/manage/offices/{ids['dong']['office']}"
    vietnamese = client.get(office).text
    assert 'lang="vi"' in vietnamese
    for text in ("Quầy", "Công chức", "Thang đánh giá", "Tổ mở hòm phiếu", "Quản lý"):
        assert text in vietnamese
    assert 'for="counter-name"' in vietnamese and 'id="counter-name"' in vietnamese
    english = client.get(office + "?lang=en").text
    for text in ("Counters", "Clerks", "Rating scale", "Ballot box opening committee"):
        assert text in english
    assert "Units and offices" in client.get("/manage/units").text  # the choice is remembered
    answer = send(client, "/manage/fields", {"name": ""})
    assert answer.status_code == 400 and "This field is required." in answer.text
    assert "Lĩnh vực thủ tục" in client.get("/manage/fields?lang=vi").text


def test_the_management_pages_need_a_login(site) -> None:
    _app, client, ids = site
    for path in [
        "/manage/",
        "/manage/units",
        f"/manage/offices/{ids['dong']['office']}",
        "/manage/users",
    ]:
        answer = client.get(path)
        assert answer.status_code == 302 and "/login" in answer.headers["Location"]
