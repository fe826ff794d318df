"""``hom-phieu demo``: the admin server and one simulated kiosk, enrolled and syncing.

Everything is the real code on this machine: the server (waitress, SQLite) on
127.0.0.1, a first administrator whose password is printed, a demo commune with an
office, a counter, two clerks and the three-button scale, and a simulated kiosk that
the demo registers and provisions like a technician would, then runs with its virtual
panel. All state lives in ``$HOM_PHIEU_HOME``; running the demo again reuses it.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable
from pathlib import Path

from hom_phieu import paths
from hom_phieu.i18n import _

ADMIN = "admin"
CLERKS = (("lan", "Nguyễn Thị Lan", "Công chức một cửa"),
          ("binh", "Trần Văn Bình", "Công chức tư pháp – hộ tịch"))  # fmt: skip
COMMITTEE = (("thu-ky", "Đỗ Thị Thư", "secretary"),
             ("chu-tich", "Nguyễn Văn An", "ubnd_leader"),
             ("mttq", "Trần Thị Hằng", "mttq_chair"),
             ("cong-doan", "Lê Văn Dũng", "union_rep"),
             ("mot-cua", "Phạm Thị Ngọc", "one_stop_clerk"))  # fmt: skip
SCALE = (("rat_hai_long", "Rất hài lòng", "very_satisfied"),
         ("hai_long", "Hài lòng", "satisfied"),
         ("khong_hai_long", "Không hài lòng", "not_satisfied"))  # fmt: skip


def run_demo(
    web_port: int,
    panel_port: int,
    echo: Callable[[str], None],
    language: str | None = None,
    *,
    start_ms: int | None = None,
) -> int:
    """``start_ms``: rehearse on a simulated date; the server and the kiosk start there."""
    import waitress

    from hom_phieu.clock import rehearsal_clock
    from kiosk.provision import load_link, provision
    from kiosk.runner import run as run_kiosk
    from web import create_app, db

    app = create_app(
        {"SESSION_COOKIE_SECURE": False, "REMEMBER_COOKIE_SECURE": False},
        clock=rehearsal_clock(start_ms),
    )
    db.upgrade(app.config["DATABASE_URL"])
    with app.app_context():
        password = _demo_admin(paths.home() / "demo-admin.txt")
        counter = _demo_office(password)
    server = waitress.create_server(app, host="127.0.0.1", port=web_port, threads=8)
    url = f"http://127.0.0.1:{server.effective_port}/"
    thread = threading.Thread(target=server.run, name="admin-server", daemon=True)
    thread.start()
    echo(_("Admin server: {url} (account {name}, password {password})").format(
        url=url, name=ADMIN, password=password))  # fmt: skip
    accounts = ", ".join(username for username, _name, _role in COMMITTEE)
    echo(_("Opening committee (same password): {accounts}; the secretary runs the ceremony "
           "on the box's page.").format(accounts=accounts))  # fmt: skip
    echo(_("At the first opening each member first sets a confirmation code of their own on "
           "the secretary's screen; confirming needs it."))  # fmt: skip
    echo(_("Once a box is opened: reports, trends and the emulation ranking at {reports}; "
           "the public results at {public}.").format(reports=url + "reports",
                                                     public=url + "public/results"))  # fmt: skip
    try:
        if load_link() is None:
            with app.app_context():
                code = _register(counter)
            provision(url, code, echo=echo)
        return run_kiosk(None, simulate=True, panel_port=panel_port, echo=echo,
                         language=language, start_ms=start_ms)  # fmt: skip
    finally:
        server.close()


def _demo_admin(credentials: Path) -> str:
    """The first administrator: made once, its password kept (0600) for the next runs."""
    from sqlalchemy import select

    from web import db
    from web.auth import audit, create_user
    from web.models import User

    session = db.session()
    if session.scalar(select(User).where(User.username == ADMIN)) is not None:
        try:
            return credentials.read_text().strip()
        except FileNotFoundError:
            return _("(set when the demo first ran)")
    password = secrets.token_urlsafe(12)
    create_user(ADMIN, password, "Quản trị viên (demo)", "admin")
    audit("admin_created", ADMIN, demo=True)
    session.commit()
    fd = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password)
    return password


def _demo_office(password: str) -> int:
    """Tỉnh Demo → Xã Demo, its one-stop office, Quầy 1, two clerks, the scale, and its
    opening committee (accounts with ``password``)."""
    from sqlalchemy import select

    from web import db
    from web.auth import create_user
    from web.models import Clerk, CommitteeMember, Counter, Office, ScaleButton, Unit

    session = db.session()
    office = session.scalar(select(Office).where(Office.code == "demo"))
    if office is None:
        province = Unit(code="demo-tinh", name="Tỉnh Demo", kind="tỉnh")
        session.add(province)
        session.flush()
        commune = Unit(code="demo-xa", name="Xã Demo", kind="xã", parent_id=province.id)
        session.add(commune)
        session.flush()
        office = Office(unit_id=commune.id, code="demo", name="UBND xã Demo")
        session.add(office)
        session.flush()
        session.add(Counter(office_id=office.id, name="Quầy 1"))
        for code, name, title in CLERKS:
            session.add(Clerk(office_id=office.id, code=code, name=name, title=title))
        for position, (name, label, level) in enumerate(SCALE):
            session.add(ScaleButton(office_id=office.id, position=position, name=name,
                                    label=label, level=level))  # fmt: skip
        for username, display_name, role in COMMITTEE:
            user = create_user(username, password, display_name, "committee", commune.id)
            session.add(CommitteeMember(office_id=office.id, user_id=user.id,
                                        committee_role=role))  # fmt: skip
        session.commit()
    return session.scalar(select(Counter.id).where(Counter.office_id == office.id))


def _register(counter_id: int) -> str:
    """What a technician does on the devices page: a device and its enrollment code."""
    from web import db
    from web.auth import audit
    from web.models import Counter, Device
    from web.pages import new_enrollment

    session = db.session()
    counter = session.get(Counter, counter_id)
    device = Device(office_id=counter.office_id, counter_id=counter.id, label="Demo")
    session.add(device)
    session.flush()
    code = new_enrollment(device, None)
    audit("device_registered", f"device {device.id}", demo=True)
    session.commit()
    return code
