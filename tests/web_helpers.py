"""Seeding and browsing helpers for the admin server's tests."""

from __future__ import annotations

import functools
import re

from werkzeug.security import generate_password_hash

from web import db
from web.auth import create_user
from web.models import Counter, Office, Unit, User

PASSWORD = "mật-khẩu-đủ-dài-1"
FIXTURE_SCRYPT = "scrypt:1024:8:1"  # the fixtures' cost (the server's: werkzeug's default)


@functools.cache
def password_hash() -> str:
    """PASSWORD hashed once per test session, with the server's real algorithm (scrypt) at
    a cost 32 times lower: logins still go through the real check (which reads the cost
    from the hash), only the fixtures' many accounts share one cheap hash. Hundreds of
    fixture logins at the production cost were over a minute of the suite."""
    return generate_password_hash(PASSWORD, method=FIXTURE_SCRYPT)


def create_account(username: str, display_name: str, role: str, unit_id: int | None = None) -> User:
    """``web.auth.create_user`` with the fixture PASSWORD, hashed once (in an app context)."""
    return create_user(
        username, PASSWORD, display_name, role, unit_id, password_hash=password_hash()
    )


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
        create_account("admin", "Quản trị viên", "admin")
        create_account("kt-dong", "Kỹ thuật Đông Thanh", "technician", ids["dong"]["unit"])
        create_account("kt-tinh", "Kỹ thuật tỉnh", "technician", province.id)
        create_account("xem-hac", "Người xem Hạc Thành", "viewer", ids["hac"]["unit"])
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
