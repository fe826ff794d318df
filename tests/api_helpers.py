"""The device API's side of the server tests: a seeded commune, a registered device, and
requests signed as a kiosk signs them."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from werkzeug.serving import make_server

from hom_phieu.clock import FakeClock
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.verify import Row
from hom_phieu.protocol.signing import signed_headers
from web import clock, create_app
from web import db as web_db
from web.models import (
    Clerk,
    Counter,
    Device,
    Enrollment,
    LedgerRecord,
    Office,
    ScaleButton,
    Unit,
)
from web.pages import enrollment_hash

CODE = "ABCD-EFGH-JKMN"


def make_app(database: Path, server_clock: FakeClock, *, migrate: bool = True):
    """A server on the SQLite file ``database``, migrated as the server migrates at start
    (``migrate=False``: the file holds the schema already, see conftest's template)."""
    url = f"sqlite:///{database}"
    app = create_app({"DATABASE_URL": url, "TESTING": True, "SECRET_KEY": "x"}, clock=server_clock)
    if migrate:
        web_db.upgrade(url)
    return app


def seed(app) -> None:
    """A commune, its one-stop office with a counter, a three-button scale and clerks."""
    with app.app_context():
        session = web_db.session()
        unit = Unit(code="xa-demo", name="Xã Demo", kind="xã")
        office = Office(unit=unit, code="demo", name="UBND xã Demo")
        other = Office(unit=unit, code="other", name="UBND xã Khác")
        session.add_all(
            [
                unit,
                office,
                other,
                Counter(office=office, name="Quầy 1"),
                ScaleButton(
                    office=office,
                    position=1,
                    name="rat_hai_long",
                    label="Rất hài lòng",
                    level="very_satisfied",
                ),
                ScaleButton(
                    office=office, position=2, name="hai_long", label="Hài lòng", level="satisfied"
                ),
                ScaleButton(
                    office=office,
                    position=3,
                    name="khong_hai_long",
                    label="Không hài lòng",
                    level="not_satisfied",
                ),
                Clerk(office=office, code="lan", name="Nguyễn Thị Lan", title="Công chức một cửa"),
                Clerk(office=office, code="binh", name="Trần Văn Bình"),
                Clerk(office=office, code="cu", name="Lê Văn Cũ", active=False),
                Clerk(office=other, code="khac", name="Người Khác"),
            ]
        )
        session.commit()


def register(app, code: str = CODE, *, hours: float = 48, office: str = "demo") -> int:
    """What a technician does on /devices/new: a pending device and its one-time code."""
    with app.app_context():
        session = web_db.session()
        found = session.scalar(select(Office).where(Office.code == office))
        counter = session.scalar(select(Counter).where(Counter.office_id == found.id))
        device = Device(office_id=found.id, counter_id=counter.id if counter else None)
        session.add(device)
        session.flush()
        session.add(
            Enrollment(
                device_pk=device.id,
                code_hash=enrollment_hash(code),
                expires_at=clock.now() + timedelta(hours=hours),
            )
        )
        session.commit()
        return device.id


def signed(key: DeviceKey, method: str, path: str, body: bytes) -> dict[str, str]:
    headers = signed_headers(key, method, path, body)
    return {**headers, "Content-Type": "application/json", "Accept-Language": "en"}


def post(client, key: DeviceKey, path: str, payload: Any, *, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps(payload).encode()
    return client.post(path, data=body, headers=signed(key, "POST", path, body))


def enroll(client, key: DeviceKey, code: str = CODE):
    payload = {"code": code, "public_key": b64(key.public_raw), "software": "0.1.0"}
    return post(client, key, "/api/v1/enroll", payload)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def wire(rows: list[Row]) -> list[dict[str, Any]]:
    return [{"seq": r.seq, "data": b64(r.data), "sig": b64(r.sig)} for r in rows]


def push(client, key: DeviceKey, rows: list[Row], nonce: str = "n-1", **extra: Any):
    return post(client, key, "/api/v1/records", {"nonce": nonce, "records": wire(rows), **extra})


def stored_rows(app, device_id: str) -> list[Row]:
    with app.app_context():
        session = web_db.session()
        device = session.scalar(select(Device).where(Device.device_id == device_id))
        found = session.execute(
            select(LedgerRecord.seq, LedgerRecord.data, LedgerRecord.sig)
            .where(LedgerRecord.device_pk == device.id)
            .order_by(LedgerRecord.seq)
        ).all()
        return [Row(seq, bytes(data), bytes(sig)) for seq, data, sig in found]


@contextmanager
def serving(app, port: int) -> Iterator[str]:
    """The admin server on a thread, for as long as the block lasts."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
