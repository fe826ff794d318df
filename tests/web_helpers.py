"""Seeding and browsing helpers for the admin server's tests."""

from __future__ import annotations

import re

from web import db
from web.auth import create_user
from web.models import Counter, Office, Unit

PASSWORD = "mật-khẩu-đủ-dài-1"


def seed(app) -> dict:
    """A province with two communes, an office and a counter each, and one account per role."""
    with app.app_context():
        session = db.session()
        province = Unit(code="38", name="Tỉnh Thanh Hóa", kind="tỉnh")
        session.add(province)
        session.flush()
        ids: dict = {"province": province.id}
        for key, code, name in [
            ("dong", "38-dt", "Xã Đông Thanh"),
            ("hac", "38-ht", "Phường Hạc Thành"),
        ]:
            unit = Unit(code=code, name=name, kind="xã", parent_id=province.id)
            session.add(unit)
            session.flush()
            office = Office(unit_id=unit.id, code=f"{code}-1c", name=f"Bộ phận một cửa {name}")
            session.add(office)
            session.flush()
            counter = Counter(office_id=office.id, name="Quầy 1")
            session.add(counter)
            session.flush()
            ids[key] = {"unit": unit.id, "office": office.id, "counter": counter.id}
        create_user("admin", PASSWORD, "Quản trị viên", "admin")
        create_user("kt-dong", PASSWORD, "Kỹ thuật Đông Thanh", "technician", ids["dong"]["unit"])
        create_user("kt-tinh", PASSWORD, "Kỹ thuật tỉnh", "technician", province.id)
        create_user("xem-hac", PASSWORD, "Người xem Hạc Thành", "viewer", ids["hac"]["unit"])
        session.commit()
        return ids


def csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert found, "no CSRF token on the page"
    return found.group(1)


def login(client, username: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_token(page.text)},
    )
