"""Enrolling many (issue 14): codes for many counters at once, the printed sheet whose QR
codes hold the install command, the devices page showing which codes are used, and new
codes for the unused ones (the old ones refused)."""

from __future__ import annotations

import base64
import html
import re
from datetime import datetime, timedelta

from sqlalchemy import select

from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.render.qr import qr_data_url
from tests.api_helpers import enroll
from tests.conftest import SERVER_TIME
from tests.web_helpers import csrf_token, login
from web import db
from web.models import AuditEntry, Counter, Device
from web.models_enroll import EnrollmentBatch

CARD = re.compile(
    r'<p class="counter">([^<]*)</p>\s*<p class="code">([^<]*)</p>\s*<img src="([^"]+)"'
    r'[^>]*>\s*<p class="command">([^<]*)</p>\s*<p class="expires">([^<]*)</p>'
)

RETIRED = datetime.fromisoformat(SERVER_TIME + "+07:00") - timedelta(days=30)


def counters(app, office: int) -> list[int]:
    """Two more counters in service and a retired one, in the office; its counters in
    service (the seeded Quầy 1 first)."""
    with app.app_context():
        session = db.session()
        session.add_all([
            Counter(office_id=office, name="Quầy 2"), Counter(office_id=office, name="Quầy 3"),
            Counter(office_id=office, name="Quầy cũ", retired_at=RETIRED),
        ])  # fmt: skip
        session.commit()
        found = select(Counter.id).where(Counter.office_id == office, Counter.retired_at.is_(None))
        return list(session.scalars(found.order_by(Counter.id)))


def make_batch(client, office: int, chosen: list[int], days: int = 7):
    # the server's configured address, which the sheet names (never the request's Host)
    client.application.config.setdefault("SERVER_URL", "https://localhost")
    page = client.get(f"/devices/batches/new?office={office}")
    assert page.status_code == 200, page.text
    data = {"counters": chosen, "days": days, "csrf_token": csrf_token(page.text)}
    return client.post(f"/devices/batches/new?office={office}", data=data)


def cards(sheet: str) -> list[tuple[str, str, str, str, str]]:
    return [tuple(html.unescape(part) for part in card) for card in CARD.findall(sheet)]


def confirm(client, path: str):
    return client.post(path, data={"csrf_token": csrf_token(client.get(path).text)})


def test_a_sheet_for_three_counters_enrolls_them_and_new_codes_replace_the_unused(
    site, server_clock, tmp_path
) -> None:
    app, client, ids = site
    office = ids["dong"]["office"]
    chosen = counters(app, office)
    app.config["SERVER_URL"] = "https://localhost"  # (the sheet names it: see make_batch)
    login(client, "kt-dong")
    client.get("/devices?lang=en")
    form = client.get(f"/devices/batches/new?office={office}").text
    ticked = re.findall(r'name="counters" value="(\d+)" checked', form)
    assert ticked == [str(i) for i in chosen] and "Quầy cũ" not in form  # retired: not offered
    sheet = make_batch(client, office, chosen)
    assert sheet.status_code == 200 and "no-store" in sheet.headers["Cache-Control"]
    found = cards(sheet.text)
    assert [c[0] for c in found] == ["Quầy 1", "Quầy 2", "Quầy 3"]
    until = (datetime.fromisoformat(SERVER_TIME) + timedelta(days=7)).strftime("%d/%m/%Y")
    for _counter, code, qr, command, expires in found:
        # the QR holds the text under it (the same symbol made again from that text)
        assert qr == qr_data_url(command, box_size=4)
        assert re.fullmatch(
            f"hom-phieu kiosk install --server https?://localhost --code {code}", command
        )
        assert expires == f"Valid until {until}"
    assert "shown only once" in sheet.text
    pdf = re.search(r'href="data:application/pdf;base64,([^"]+)"', sheet.text).group(1)
    assert base64.b64decode(pdf).startswith(b"%PDF")

    # the code read from the QR's text enrolls the kiosk of its counter
    code = found[0][3].rsplit("--code ", 1)[1]
    answer = enroll(client, DeviceKey.load_or_create(tmp_path / "k1.pem"), code)
    assert answer.status_code == 200, answer.text
    assert answer.get_json()["counter"] == "Quầy 1"
    devices = client.get("/devices").text
    assert devices.count("code used on 20/11/2026") == 1
    assert devices.count(f"code waiting, valid until {until}") == 2
    assert "1 of 3 enrolled" in devices
    with app.app_context():
        batch_id = db.session().scalar(select(EnrollmentBatch.id))
    page = client.get(f"/devices/batches/{batch_id}").text
    assert page.count("code used on") == 1 and "New codes for the unused ones" in page

    # new codes for the two unused: the old ones stop working, the new ones work
    renewed = cards(confirm(client, f"/devices/batches/{batch_id}/reissue").text)
    assert [c[0] for c in renewed] == ["Quầy 2", "Quầy 3"]
    old = enroll(client, DeviceKey.load_or_create(tmp_path / "k2.pem"), found[1][1])
    assert old.status_code == 410
    again = enroll(client, DeviceKey.load_or_create(tmp_path / "k2.pem"), renewed[0][1])
    assert again.status_code == 200 and again.get_json()["counter"] == "Quầy 2"
    with app.app_context():
        actions = list(db.session().scalars(select(AuditEntry.action)))
    assert {"enrollment_batch_created", "enrollment_batch_reissued"} <= set(actions)

    # a week and a day later the last code has expired (its counter is not ticked again)
    server_clock.advance(8 * 86_400_000)
    login(client, "kt-dong")  # (the session has ended meanwhile)
    assert "code expired on" in client.get("/devices").text
    assert "mã đã hết hạn ngày" in client.get("/devices?lang=vi").text
    form = client.get(f"/devices/batches/new?office={office}").text
    assert re.findall(r'name="counters" value="(\d+)" checked', form) == []


def test_only_ones_own_offices_and_counters_and_no_500(site) -> None:
    app, client, ids = site
    dong, hac = ids["dong"], ids["hac"]
    login(client, "kt-tinh")  # the province's technician makes a batch in Hạc Thành
    client.get("/devices?lang=en")
    assert make_batch(client, hac["office"], [hac["counter"]]).status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/devices").text)})
    login(client, "kt-dong")
    with app.app_context():
        hac_batch = db.session().scalar(select(EnrollmentBatch.id))
    chooser = client.get(f"/devices/batches/new?office={hac['office']}").text
    assert "Hạc Thành" not in chooser and 'name="counters"' not in chooser
    assert client.get(f"/devices/batches/{hac_batch}").status_code == 404
    assert client.get(f"/devices/batches/{hac_batch}/reissue").status_code == 404
    assert "Hạc Thành" not in client.get("/devices").text
    token = csrf_token(client.get(f"/devices/batches/new?office={dong['office']}").text)
    path = f"/devices/batches/new?office={dong['office']}"
    for counters_sent in ([], [hac["counter"]], ["abc"], [dong["counter"], 2**40]):
        answer = client.post(path, data={"counters": counters_sent, "days": 7, "csrf_token": token})
        assert answer.status_code == 400 and "Choose at least one counter" in answer.text
    bad_days = {"counters": [dong["counter"]], "days": 3650, "csrf_token": token}
    assert client.post(path, data=bad_days).status_code == 400
    no_csrf = client.post(path, data={"counters": [dong["counter"]], "days": 7})
    assert no_csrf.status_code == 400
    other = f"/devices/batches/new?office={hac['office']}"
    assert (
        client.post(other, data={"counters": [hac["counter"]], "csrf_token": token}).status_code
        == 404
    )
    with app.app_context():
        assert db.session().scalars(select(Device.office_id)).all() == [hac["office"]]
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/devices").text)})
    login(client, "xem-hac")
    assert client.get("/devices/batches/new").status_code == 403
    assert client.get(f"/devices/batches/{hac_batch}").status_code == 403
