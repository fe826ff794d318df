"""The world the page crawl walks (tests/test_crawl_browser.py): built once, in the server's
own SQLite file under a home of its own, before the real server starts on it.

Xã Đông Thanh's office (``tests.ceremony_helpers.seed_ceremony``) with its scale, a kiosk
whose October and November ballots were synced, October's box opened by its committee and
November's still sealed; a clerk with an account, a province official (a viewer of the
whole province). One account per role the crawl logs in as (:data:`ACCOUNTS`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from hom_phieu.clock import FakeClock
from tests.ceremony_helpers import (
    as_secretary,
    confirm,
    october_kiosk,
    post_form,
    seed_ceremony,
    with_scale,
)
from tests.web_helpers import create_account
from tests.web_process import SERVER_START

ACCOUNTS = {  # the crawl's person -> account name (None: a citizen, no account)
    "admin": "admin",
    "secretary": "thu-ky",
    "member": "chu-tich",
    "clerk": "nv-lan",
    "technician": "kt-dong",
    "province": "xem-tinh",
    "citizen": None,
}
OPENED, SEALED = "2026-10", "2026-11"


@dataclass(frozen=True)
class World:
    """The ids the crawl fills the routes' parameters with."""

    office: int
    other_office: int
    unit: int
    province: int
    counter: int
    clerk: int
    user: int
    routes: tuple[str, ...]  # the server's GET rules (its url_map), e.g. "/manage/units"
    office_code: str = "demo"
    clerk_code: str = "lan"

    def values(self) -> dict[str, list[str]]:
        """Each route parameter's candidate values (every combination is visited)."""
        return {
            "office_id": [str(self.office)],
            "box": [OPENED, SEALED],
            "unit_id": [str(self.unit), str(self.province)],
            "counter_id": [str(self.counter)],
            "clerk_id": [str(self.clerk)],
            "user_id": [str(self.user)],
            "office_code": [self.office_code],
            "clerk_code": [self.clerk_code],
        }


def build(home: Path, folder: Path) -> World:
    """Make the world in ``home``'s server database (the one ``hom-phieu web serve`` reads)."""
    from web import create_app, db
    from web.models import Clerk, User
    from web.services import close_app

    previous = os.environ.get("HOM_PHIEU_HOME")
    os.environ["HOM_PHIEU_HOME"] = str(home)
    try:
        app = create_app({"TESTING": True}, clock=FakeClock.at(SERVER_START))
        db.upgrade(app.config["DATABASE_URL"])
        ids = seed_ceremony(app)
        with_scale(app)
        client = app.test_client()
        client.environ_base["wsgi.url_scheme"] = "https"
        october_kiosk(app, client, folder)
        _open_october(app, client)
        with app.app_context():
            session = db.session()
            lan = session.scalar(select(Clerk).where(Clerk.code == "lan"))
            lan.user_id = create_account("nv-lan", lan.name, "clerk", ids["dong"]["unit"]).id
            create_account("xem-tinh", "Cán bộ Sở Nội vụ", "viewer", ids["province"])
            user = session.scalar(select(User).where(User.username == "kt-dong"))
            session.commit()
            rules = app.url_map.iter_rules()
            world = World(
                office=ids["dong"]["office"], other_office=ids["hac"]["office"],
                unit=ids["dong"]["unit"], province=ids["province"],
                counter=ids["dong"]["counter"], clerk=lan.id, user=user.id,
                routes=tuple(sorted(r.rule for r in rules if "GET" in r.methods)),
            )  # fmt: skip
        close_app(app)
        return world
    finally:
        if previous is None:
            os.environ.pop("HOM_PHIEU_HOME", None)
        else:
            os.environ["HOM_PHIEU_HOME"] = previous


def _open_october(app, client) -> None:
    """October's ceremony as the committee holds it: started, three confirmations, opened."""
    as_secretary(client)
    started = post_form(client, app, OPENED, "start")
    assert started.status_code == 302, started.text[:2000]
    for username in ("chu-tich", "mttq", "thu-ky"):
        assert confirm(client, app, OPENED, username).status_code == 302
    opened = post_form(client, app, OPENED, "open", dossiers_returned="20",
                       warnings_reason="Bấm liên tục một lần, đã kiểm tra camera")  # fmt: skip
    assert opened.status_code == 302, opened.text[:2000]
