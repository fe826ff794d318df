"""The opening ceremony's side of the server tests: a seeded office and committee, a real
ballot box that syncs like a kiosk, and the secretary's forms."""

from __future__ import annotations

import functools
import html
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from werkzeug.security import generate_password_hash

from hom_phieu.clock import FakeClock
from hom_phieu.demo import CLERKS, SCALE
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Level
from hom_phieu.ledger.verify import Row
from tests.api_helpers import enroll, push, register
from tests.web_helpers import FIXTURE_SCRYPT, PASSWORD, create_account, csrf_token, login
from tests.web_helpers import seed as seed_web
from web import db as web_db
from web.models import Clerk, CommitteeMember, Device, Office, Opening, ScaleButton
from web.models_committee import CodeOrigin, ConfirmationCode
from web.pages import new_enrollment

BUTTONS = {
    "rat_hai_long": Level.VERY_SATISFIED,
    "hai_long": Level.SATISFIED,
    "khong_hai_long": Level.NOT_SATISFIED,
}
CODE = "mã-riêng-42"  # every seeded member's confirmation code
CODES_SET_AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # "at an earlier ceremony"
MEMBERS = [  # username, name, committee role
    ("chu-tich", "Nguyễn Văn Ễnh", "ubnd_leader"),
    ("mttq", "Trần Thị Hằng", "mttq_chair"),
    ("cong-doan", "Lê Văn Dũng", "union_rep"),
    ("mot-cua", "Phạm Thị Ngọc", "one_stop_clerk"),
    ("thu-ky", "Đỗ Thị Thư", "secretary"),
]


@functools.cache
def code_hash() -> str:
    """CODE hashed once per test session (the server checks it with its real algorithm)."""
    return generate_password_hash(CODE, method=FIXTURE_SCRYPT)


def give_code(session, office_id: int, user_id: int) -> None:
    """A member who set CODE at an earlier ceremony (the office's committee has codes)."""
    session.add(ConfirmationCode(office_id=office_id, user_id=user_id, code_hash=code_hash(),
                                 valid=True, set_at=CODES_SET_AT,
                                 origin=CodeOrigin.FOUNDING))  # fmt: skip


class Kiosk:
    """A real ballot box on a fake clock whose records go to the server as a device would
    send them."""

    def __init__(self, folder: Path, start: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.key = DeviceKey.load_or_create(folder / "device-key.pem")
        self.clock = FakeClock.at(start)
        self.box = BallotBox.open(folder / "box.sqlite3", self.key, self.clock, kernel_boot_id="b")
        self.pressed: Counter = Counter()  # (box, clerk, level) -> n
        self.receipts: list[str] = []
        self.sent = 0

    def vote(self, clerk: str, button: str, n: int = 1, step_ms: int = 60_000) -> None:
        for _ in range(n):
            self.clock.advance(step_ms)
            receipt = self.box.cast_vote(clerk=clerk, button=button, level=BUTTONS[button])
            self.pressed[(receipt.box, clerk, BUTTONS[button].value)] += 1
            self.receipts.append(receipt.code)

    def rows(self) -> list[Row]:
        return self.box.store.rows()

    def sync(self, client) -> None:
        rows = self.rows()[self.sent :]
        if rows:
            response = push(client, self.key, rows, nonce=f"n-{self.sent}")
            assert response.status_code == 200, response.get_data(as_text=True)
        self.sent += len(rows)


def seed_ceremony(app) -> dict:
    """``tests.web_helpers.seed``, then Xã Đông Thanh's office (code "demo", what
    ``tests.api_helpers.register`` looks for) gets two clerks and its opening committee;
    a committee member of Hạc Thành and one outside any committee; every member holds CODE.
    The office's id goes to ``app.config["OFFICE_ID"]``; the seeded ids are returned."""
    ids = seed_web(app)
    with app.app_context():
        session = web_db.session()
        office = session.get(Office, ids["dong"]["office"])
        office.code = "demo"
        session.add_all([
            Clerk(office_id=office.id, code="lan", name="Nguyễn Thị Lan", title="Công chức"),
            Clerk(office_id=office.id, code="binh", name="Trần Văn Bình"),
        ])  # fmt: skip
        for username, name, role in [*MEMBERS, ("pho-chu-tich", "Vũ Văn Phó", "ubnd_deputy")]:
            user = create_account(username, name, "committee", ids["dong"]["unit"])
            session.add(CommitteeMember(office_id=office.id, user_id=user.id, committee_role=role))
            give_code(session, office.id, user.id)
        other = create_account("hac-mttq", "Hồ Văn Khác", "committee", ids["hac"]["unit"])
        session.add(CommitteeMember(office_id=ids["hac"]["office"], user_id=other.id,
                                    committee_role="mttq_chair"))  # fmt: skip
        give_code(session, ids["hac"]["office"], other.id)
        create_account("ngoai", "Người Ngoài", "committee", ids["dong"]["unit"])
        session.commit()
    app.config["OFFICE_ID"] = ids["dong"]["office"]
    return ids


def enrolled_kiosk(app, client, folder: Path, start: str, code: str = "ABCD-EFGH-JKMN") -> Kiosk:
    kiosk = Kiosk(folder, start)
    register(app, code)
    assert enroll(client, kiosk.key, code).status_code == 200
    return kiosk


def box_url(app, box: str, action: str = "") -> str:
    return f"/offices/{app.config['OFFICE_ID']}/boxes/{box}" + (f"/{action}" if action else "")


def post_form(client, app, box: str, action: str, **data):
    """Post a form of the box page. ``open`` goes through the review first, as the page does:
    the opening's form carries the summary's token (unless the test gives its own)."""
    page = client.get(box_url(app, box))
    if action == "open" and "review_token" not in data:
        figures = {k: v for k, v in data.items() if k in ("dossiers_returned", "warnings_reason")}
        reviewed = client.post(box_url(app, box, "review"),
                               data={**figures, "csrf_token": csrf_token(page.text)})  # fmt: skip
        data = {**data, "review_token": review_token_of(reviewed.text)}
    return client.post(
        box_url(app, box, action), data={**data, "csrf_token": csrf_token(page.text)}
    )


def review_token_of(page: str) -> str:
    """The token a review's summary gives its opening form ("" when there is no summary)."""
    found = re.search(r'name="review_token" value="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else ""


def confirm(client, app, box: str, username: str, password: str = PASSWORD, code: str = CODE):
    return post_form(client, app, box, "confirm", username=username, password=password, code=code)


def as_secretary(client) -> None:
    assert login(client, "thu-ky").status_code == 302
    client.get("/?lang=en")  # the pages in English (the account's language is Vietnamese)


def minutes_of(app, box: str) -> dict:
    with app.app_context():
        opening = web_db.session().scalar(select(Opening).where(Opening.box == box))
        return json.loads(opening.minutes)


def october_kiosk(app, client, tmp_path) -> Kiosk:
    """Votes through the end of October; the month closes on 1 November; all synced."""
    kiosk = enrolled_kiosk(app, client, tmp_path / "k1", "2026-10-30T08:00:00")
    kiosk.vote("lan", "rat_hai_long", 7)
    kiosk.vote("lan", "hai_long", 4)
    kiosk.vote("binh", "hai_long", 3)
    kiosk.box.refuse(button="hai_long", reason="burst")
    kiosk.vote("binh", "khong_hai_long", 1)
    kiosk.clock.advance_to("2026-11-01T07:30:00")
    kiosk.vote("lan", "rat_hai_long", 2)  # into November's box
    kiosk.sync(client)
    return kiosk


def add_scale(session, office_id: int) -> None:
    """The demo's three-button scale for the office (in the caller's transaction)."""
    for position, (name, label, level) in enumerate(SCALE):
        session.add(ScaleButton(office_id=office_id, position=position, name=name,
                                label=label, level=level))  # fmt: skip


def with_scale(app):
    """``app`` (the ceremony's) with the demo's scale for its office."""
    with app.app_context():
        add_scale(web_db.session(), app.config["OFFICE_ID"])
        web_db.session().commit()
    return app


def seed_kiosk_office(app) -> tuple[int, str]:
    """Xã Đông Thanh's office, counter, clerks, scale and committee (``hom_phieu.demo``'s
    clerks and scale; the members hold CODE); a device registered for Quầy 1 and its
    one-time enrollment code, as a technician would make it. The office's id and the code."""
    ids = seed_web(app)
    office_id, unit_id = ids["dong"]["office"], ids["dong"]["unit"]
    with app.app_context():
        session = web_db.session()
        for code, name, title in CLERKS:
            session.add(Clerk(office_id=office_id, code=code, name=name, title=title))
        add_scale(session, office_id)
        for username, name, role in MEMBERS:
            user = create_account(username, name, "committee", unit_id)
            session.add(CommitteeMember(office_id=office_id, user_id=user.id, committee_role=role))
            give_code(session, office_id, user.id)
        device = Device(office_id=office_id, counter_id=ids["dong"]["counter"], label="Kiosk 1")
        session.add(device)
        session.flush()
        code = new_enrollment(device, None)
        session.commit()
    return office_id, code
