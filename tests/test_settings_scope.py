"""Scope of settings (issue 10): a unit's working calendar reaches only the offices under it
and only its administrators change it; only an administrator changes an office's scale, and
never so that a label naming a level counts as another; every such change reaches the
kiosks as a configuration change and is listed in the checklist and the minutes."""

from __future__ import annotations

import io
import json
from datetime import date

import pypdf
import pytest
from gpiozero.pins.mock import MockFactory
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hardware.controls import Controls
from hardware.output import FrameDisplay
from hardware.screen import NullScreen
from hom_phieu.clock import FakeClock
from hom_phieu.i18n import language, translations
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import LEVEL_LABELS, Kind, Level
from hom_phieu.protocol.signing import verified_config
from kiosk.config import parse_config
from kiosk.daemon import Kiosk
from tests.api_helpers import enroll, register, signed
from tests.web_helpers import create_account, csrf_token, login
from web import db
from web.api_v1_config import device_config
from web.checklist import needs_reason
from web.minutes import Minutes
from web.minutes_pdf import minutes_pdf
from web.minutes_xlsx import minutes_xlsx
from web.models import (
    AuditEntry,
    CommitteeMember,
    Confirmation,
    Device,
    Holiday,
    Office,
    Opening,
    ScaleButton,
    User,
)
from web.opening import OpeningRefused, open_box, opening_due, verification
from web.scale_labels import level_named
from web.server_key import server_key

KIOSK_CONFIG = """
[device]
office = "UBND"
[[buttons]]
name = "rat_hai_long"
label = "Rất hài lòng"
level = "very_satisfied"
pin = 17
[[buttons]]
name = "hai_long"
label = "Hài lòng"
level = "satisfied"
pin = 27
[[buttons]]
name = "khong_hai_long"
label = "Không hài lòng"
level = "not_satisfied"
pin = 22
[[clerks]]
id = "lan"
name = "Nguyễn Thị Lan"
[printer]
kind = "file"
file = "/dev/null"
print_box_slips = false
"""
SCALE = [
    ("rat_hai_long", "Rất hài lòng", "very_satisfied"),
    ("hai_long", "Hài lòng", "satisfied"),
    ("khong_hai_long", "Không hài lòng", "not_satisfied"),
]


def send(client, path: str, data: dict, page: str):
    token = csrf_token(client.get(page).text)
    return client.post(path, data={**data, "csrf_token": token})


def as_user(app, username: str, role: str = "admin", unit: int | None = None):
    with app.app_context():
        create_account(username, f"Tài khoản {username}", role, unit)
        db.session().commit()
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    assert login(client, username).status_code == 302
    return client


def due(app, office_id: int, box: str) -> date:
    with app.app_context():
        session = db.session()
        return opening_due(session, box, session.get(Office, office_id))


def give_scale(app, office_id: int) -> None:
    with app.app_context():
        for position, (name, text, level) in enumerate(SCALE):
            db.session().add(ScaleButton(office_id=office_id, position=position, name=name,
                                         label=text, level=level))  # fmt: skip
        db.session().commit()


def scale_form(buttons) -> dict:
    return {f"buttons-{i}-{key}": value for i, button in enumerate(buttons)
            for key, value in zip(("name", "label", "level"), button, strict=True)}  # fmt: skip


def scale_of(app, office_id: int) -> list[tuple[str, str, str]]:
    with app.app_context():
        office = db.session().get(Office, office_id)
        return [(b.name, b.label, b.level) for b in office.scale]


def started(app, office_id: int, box: str, username: str = "admin") -> int:
    """A ceremony started for ``box`` (the opening's id)."""
    with app.app_context():
        session = db.session()
        user = session.scalar(select(AuditEntry.user_id).where(AuditEntry.action == "login"))
        opening = Opening(office_id=office_id, box=box, started_by=user)
        session.add(opening)
        session.commit()
        return opening.id


def office_checks(app, opening_id: int) -> list:
    with app.app_context():
        session = db.session()
        checks = verification(session, session.get(Opening, opening_id))[1]
        return [check for check in checks if check.code == "change"]


# --- the working calendar -------------------------------------------------------------------


def test_a_commune_administrator_moves_only_his_own_communes_due_day(site) -> None:
    app, _client, ids = site
    dong, hac = ids["dong"], ids["hac"]
    commune = as_user(app, "qt-dong", unit=dong["unit"])
    own = f"/manage/units/{dong['unit']}/holidays"
    assert commune.get("/manage/holidays").headers["Location"].endswith(own)

    # The national calendar, another commune's and the province's are not his.
    weekend = {"days": ["0", "5", "6"]}
    assert send(commune, "/manage/weekend", weekend, own).status_code == 403
    holiday = {"day": "2026-11-30", "name": "Nghỉ bù"}
    assert send(commune, "/manage/holidays", holiday, own).status_code == 403
    for unit in (hac["unit"], ids["province"]):
        assert send(commune, f"/manage/units/{unit}/weekend", weekend, own).status_code == 404
        assert send(commune, f"/manage/units/{unit}/holidays", holiday, own).status_code == 404
    assert due(app, hac["office"], "2026-11") == due(app, dong["office"], "2026-11")
    assert due(app, hac["office"], "2026-11") == date(2026, 11, 30)  # a Monday

    # His own commune's: Mondays off, then a holiday; Hạc Thành's due day does not move.
    assert send(commune, f"/manage/units/{dong['unit']}/weekend", weekend, own).status_code == 302
    assert due(app, dong["office"], "2026-11") == date(2026, 11, 27)
    holiday["day"] = "2026-11-27"
    assert send(commune, own, holiday, own).status_code == 302
    assert due(app, dong["office"], "2026-11") == date(2026, 11, 26)
    assert due(app, hac["office"], "2026-11") == date(2026, 11, 30)
    again = send(commune, own, holiday, own)
    assert again.status_code == 400 and "ngày này đã là ngày nghỉ lễ" in again.text
    page = commune.get(own).text
    assert "Nghỉ bù" in page and "Hạc Thành" not in page


def test_the_nearest_unit_up_the_tree_sets_the_weekend_and_holidays_add_up(site) -> None:
    app, client, ids = site
    dong, hac, province = ids["dong"], ids["hac"], ids["province"]
    root = as_user(app, "qt-quoc-gia")
    commune = as_user(app, "qt-dong", unit=dong["unit"])
    page = "/manage/holidays"
    assert send(root, "/manage/weekend", {"days": ["6"]}, page).status_code == 302
    assert due(app, dong["office"], "2026-10") == date(2026, 10, 31)  # Saturdays worked
    assert (
        send(root, f"/manage/units/{province}/weekend", {"days": ["5", "6"]}, page).status_code
        == 302
    )
    assert (
        due(app, dong["office"], "2026-10")
        == due(app, hac["office"], "2026-10")
        == date(2026, 10, 30)
    )
    own, mine = f"/manage/units/{dong['unit']}/weekend", f"/manage/units/{dong['unit']}/holidays"
    assert send(commune, own, {"days": ["6"]}, mine).status_code == 302
    assert due(app, dong["office"], "2026-10") == date(2026, 10, 31)  # its own wins
    assert send(commune, own, {"inherit": "y"}, mine).status_code == 302
    assert due(app, dong["office"], "2026-10") == date(2026, 10, 30)  # the province's again

    # Holidays add up: the national ones, the province's, the commune's.
    assert (
        send(root, "/manage/holidays", {"day": "2026-10-30", "name": "A"}, page).status_code == 302
    )
    assert send(root, f"/manage/units/{province}/holidays", {"day": "2026-10-29", "name": "B"},
                page).status_code == 302  # fmt: skip
    assert (
        due(app, dong["office"], "2026-10")
        == due(app, hac["office"], "2026-10")
        == date(2026, 10, 28)
    )
    with app.app_context():
        national, provincial = (
            db.session().scalar(select(Holiday.id).where(Holiday.name == name)) for name in "AB"
        )
    for holiday, refused in ((national, 403), (provincial, 404)):
        path = f"/manage/holidays/{holiday}/remove"
        assert (
            send(commune, path, {}, f"/manage/units/{dong['unit']}/holidays").status_code == refused
        )
    assert send(root, f"/manage/holidays/{national}/remove", {}, page).status_code == 302
    assert due(app, hac["office"], "2026-10") == date(2026, 10, 30)
    assert client.get("/manage/holidays").status_code == 302  # (no login: to the login page)


def test_a_day_is_a_holiday_once_per_unit_and_once_nationally_in_the_database(site) -> None:
    app, _client, ids = site
    day = date(2027, 1, 1)
    with app.app_context():
        session = db.session()
        for unit in (None, ids["dong"]["unit"], ids["hac"]["unit"]):  # once each: fine
            session.add(Holiday(unit_id=unit, day=day, name="Tết"))
        session.commit()
        for unit in (None, ids["dong"]["unit"]):
            session.add(Holiday(unit_id=unit, day=day, name="lần hai"))
            with pytest.raises(IntegrityError):
                session.commit()
            session.rollback()


def test_a_calendar_change_during_the_month_is_in_the_checklist_of_the_offices_it_reaches(
    site, server_clock
) -> None:
    app, _client, ids = site
    dong, hac = ids["dong"], ids["hac"]
    root = as_user(app, "qt-quoc-gia")
    commune = as_user(app, "qt-dong", unit=dong["unit"])
    ours, theirs = started(app, dong["office"], "2026-11"), started(app, hac["office"], "2026-11")
    assert office_checks(app, ours) == office_checks(app, theirs) == []

    page = f"/manage/units/{dong['unit']}/holidays"
    assert send(commune, f"/manage/units/{dong['unit']}/weekend", {"days": ["0", "5", "6"]},
                page).status_code == 302  # fmt: skip
    server_clock.advance(3_600_000)
    holidays = "/manage/holidays"
    assert (
        send(root, holidays, {"day": "2026-12-25", "name": "Không liên quan"}, holidays).status_code
        == 302
    )
    assert (
        send(root, holidays, {"day": "2026-11-27", "name": "Nghỉ bù"}, holidays).status_code == 302
    )

    ours_checks, theirs_checks = office_checks(app, ours), office_checks(app, theirs)
    assert [c.severity for c in ours_checks] == ["warning", "warning"]
    weekend, holiday = (c.message for c in ours_checks)
    assert weekend == (
        "The weekend days of Xã Đông Thanh: changed at 20/11/2026 09:00:00 by Tài khoản "
        "qt-dong (qt-dong); before: Saturday, Sunday; after: Monday, Saturday, Sunday"
    )
    assert "The national public holidays" in holiday and "27/11/2026 Nghỉ bù" in holiday
    assert "qt-quoc-gia" in holiday
    assert [c.message for c in theirs_checks] == [holiday]  # not Đông Thanh's weekend
    assert "Không liên quan" not in str(ours_checks)  # a December holiday moves no November box
    with app.app_context():
        session = db.session()
        assert needs_reason(verification(session, session.get(Opening, ours))[1])


# --- the scale ------------------------------------------------------------------------------


def test_only_an_administrator_changes_a_scale(site) -> None:
    app, client, ids = site
    office = ids["dong"]["office"]
    give_scale(app, office)
    login(client, "kt-dong")  # the technician of that very commune
    page = f"/manage/offices/{office}"
    assert "/scale" not in client.get(page).text
    assert client.get(f"{page}/scale").status_code == 403
    flipped = scale_form(
        [SCALE[0], SCALE[1], ("khong_hai_long", "Không hài lòng", "very_satisfied")]
    )
    assert send(client, f"{page}/scale", flipped, page).status_code == 403
    assert client.get(f"/manage/offices/{ids['hac']['office']}/scale").status_code == 404
    assert scale_of(app, office) == SCALE
    with app.app_context():
        assert (
            db.session().scalar(select(AuditEntry).where(AuditEntry.action == "scale_changed"))
            is None
        )


@pytest.mark.parametrize(
    ("button", "reason"),
    [
        (("khong_hai_long", "Không hài lòng", "very_satisfied"), "nhãn nêu mức Không hài lòng"),
        (("nut_do", "KHÔNG  HÀI LÒNG!", "very_satisfied"), "nhãn nêu mức Không hài lòng"),
        (("nut_do", "Khong hai long", "satisfied"), "nhãn nêu mức Không hài lòng"),
        (("nut_do", "Chưa hài lòng", "very_satisfied"), "nhãn nêu mức Không hài lòng"),
        (("nut_xanh", "Very satisfied", "not_satisfied"), "nhãn nêu mức Rất hài lòng"),
        (("nut_xanh", "Hài lòng", "very_satisfied"), "nhãn nêu mức Hài lòng"),
        (("khong_hai_long", "Nút đỏ", "very_satisfied"), "tên nút nêu mức Không hài lòng"),
    ],
)
def test_a_label_that_names_a_level_cannot_count_as_another(site, button, reason) -> None:
    app, client, ids = site
    office = ids["dong"]["office"]
    give_scale(app, office)
    login(client, "admin")
    page = f"/manage/offices/{office}"
    answer = send(client, f"{page}/scale", scale_form([SCALE[0], SCALE[1], button]), page)
    assert answer.status_code == 400 and reason in answer.text, answer.text
    assert scale_of(app, office) == SCALE


def test_the_statutory_words_name_their_own_level_in_both_languages() -> None:
    for level, message in LEVEL_LABELS.items():
        for lang in ("vi", "en"):
            assert level_named(translations(lang).gettext(message)) == Level(level)
    for free in ("Bình thường", "Tốt", "Kém", "Nút 1", ""):
        assert level_named(free) is None
    assert level_named("Rất không hài lòng") == Level.NOT_SATISFIED
    assert level_named("hai\u200b long") == Level.SATISFIED  # an invisible space changes nothing


def test_a_scale_change_reaches_the_kiosks_as_a_configuration_change(site, tmp_path) -> None:
    app, client, ids = site
    office = ids["dong"]["office"]
    give_scale(app, office)
    key = DeviceKey.load_or_create(tmp_path / "key.pem")
    with app.app_context():
        code = db.session().get(Office, office).code
    register(app, office=code)
    assert enroll(client, key).status_code == 200

    def fetched():
        answer = client.get("/api/v1/config", headers=signed(key, "GET", "/api/v1/config", b""))
        with app.app_context():
            server = server_key().public_raw
        return verified_config(server, key.device_id, answer.get_json())

    first = fetched()
    admin = as_user(app, "qt-quoc-gia")
    page = f"/manage/offices/{office}"
    changed = [SCALE[0], ("hai_long", "Hài lòng với cách phục vụ", "satisfied"), SCALE[2]]
    assert send(admin, f"{page}/scale", scale_form(changed), page).status_code == 302
    second = fetched()
    assert second.version != first.version
    assert [b.label for b in second.buttons][1] == "Hài lòng với cách phục vụ"

    clock = FakeClock.at("2026-11-20T09:00:00")
    with BallotBox.open(tmp_path / "ledger.sqlite3", key, clock) as box:
        config = parse_config(KIOSK_CONFIG)
        factory = MockFactory()
        kiosk = Kiosk(config=config, box=box, clock=clock,
                      controls_factory=lambda on_edge: Controls(config, on_edge, factory),
                      display=FrameDisplay(NullScreen(), 480, 320), printer=None,
                      server_config=first)  # fmt: skip
        try:
            kiosk.on_config(second)
            clock.advance(1000)
            kiosk.pump()
            events = [r.body for r in box.records_after(0) if r.kind is Kind.EVENT]
        finally:
            kiosk.close()
    assert {"type": "config_change", "source": "server", "previous": first.version,
            "version": second.version} in events  # fmt: skip

    # The version is the digest of the scale among the rest: a level alone changes it too.
    with app.app_context():
        session = db.session()
        device = session.scalar(select(Device).where(Device.device_id == key.device_id))
        before = device_config(device).version
        session.scalar(
            select(ScaleButton).where(ScaleButton.name == "hai_long")
        ).level = "not_satisfied"
        assert device_config(device).version != before
        session.rollback()


def test_a_scale_change_is_listed_in_the_checklist_and_the_minutes(
    ceremony_app, server_clock
) -> None:
    app = ceremony_app
    office = app.config["OFFICE_ID"]
    with app.app_context():
        other = db.session().scalar(select(Office.id).where(Office.id != office))
    give_scale(app, office)
    give_scale(app, other)
    admin = as_user(app, "qt-quoc-gia")
    opening_id = started(app, office, "2026-11")
    four = [SCALE[0], SCALE[1], ("binh_thuong", "Bình thường", "satisfied"), SCALE[2]]
    for target in (office, other):
        page = f"/manage/offices/{target}"
        assert send(admin, f"{page}/scale", scale_form(four), page).status_code == 302
    page = f"/manage/offices/{office}"
    again = send(admin, f"{page}/scale", scale_form(four), page)  # unchanged: no change
    assert again.status_code == 302

    [check] = office_checks(app, opening_id)
    assert check.severity == "warning" and "The rating scale of Bộ phận một cửa" in check.message
    assert (
        "Bình thường (binh_thuong) → Satisfied" in check.message and "qt-quoc-gia" in check.message
    )

    server_clock.advance_to("2026-11-30T10:00:00")
    with app.app_context():
        session = db.session()
        opening = session.get(Opening, opening_id)
        present = User.username.in_(["chu-tich", "mttq", "cong-doan"])
        members = session.execute(
            select(User.id, CommitteeMember.committee_role)
            .join(CommitteeMember, CommitteeMember.user_id == User.id)
            .where(CommitteeMember.office_id == office, present)
        ).all()
        assert len(members) == 3
        for user_id, role in members:
            session.add(Confirmation(opening_id=opening.id, user_id=user_id, committee_role=role))
        session.flush()
        with pytest.raises(OpeningRefused):
            open_box(session, opening, opening.started_by)
        open_box(session, opening, opening.started_by, warnings_reason="Đã xem xét thay đổi")
        session.commit()
        stored = bytes(session.get(Opening, opening_id).minutes)
    content = json.loads(stored)
    [change] = content["changes"]
    assert (
        change["kind"] == "scale_changed" and change["by"] == "Tài khoản qt-quoc-gia (qt-quoc-gia)"
    )
    assert change["subject"].startswith("Thang đánh giá của Bộ phận một cửa Xã Đông Thanh")
    assert change["before"].endswith("Không hài lòng (khong_hai_long) → Không hài lòng")
    assert "Bình thường (binh_thuong) → Hài lòng" in change["after"]
    assert change["at"] == "2026-11-20T09:00:00+07:00"
    minutes = Minutes.from_bytes(stored)
    assert json.dumps(minutes.to_json(), sort_keys=True) == json.dumps(content, sort_keys=True)
    with language("vi"):
        pdf = "".join(
            p.extract_text() for p in pypdf.PdfReader(io.BytesIO(minutes_pdf(minutes, "h"))).pages
        )
        book = load_workbook(io.BytesIO(minutes_xlsx(minutes, "h")))
    assert "Thay đổi cấu hình trong tháng" in pdf and "binh_thuong" in pdf
    sheet = book["Thay đổi"]
    assert [c.value for c in sheet[2]][1:3] == [change["by"], change["subject"]]
    login(admin, "qt-quoc-gia")  # (ten days later: a new session)
    page = admin.get(f"/offices/{office}/boxes/2026-11/minutes?lang=en").text
    assert "Changes to the settings during the month" in page and "binh_thuong" in page
