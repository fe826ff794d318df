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
KEY_THRESHOLD = 3  # of the 5 members: any 3 open a box, 2 cards may be lost
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
        cards = _demo_keys(counter, paths.home() / "demo-share-cards.txt")
    server = waitress.create_server(app, host="127.0.0.1", port=web_port, threads=8)
    url = f"http://127.0.0.1:{server.effective_port}/"
    thread = threading.Thread(target=server.run, name="admin-server", daemon=True)
    thread.start()
    echo(_("Admin server: {url} (account {name}, password {password})").format(
        url=url, name=ADMIN, password=password))  # fmt: skip
    accounts = ", ".join(username for username, _name, _role in COMMITTEE)
    echo(_("Opening committee (same password): {accounts}; the secretary runs the ceremony "
           "on the box's page.").format(accounts=accounts))  # fmt: skip
    if cards is not None:
        echo(_("The box keys of the next 12 months were dealt to the committee (any {k} of "
               "{n} open a box); their share cards, printed once: {path}").format(
            k=KEY_THRESHOLD, n=len(COMMITTEE), path=cards))  # fmt: skip
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


def _demo_keys(counter_id: int, cards_file: Path) -> Path | None:
    """The committee's box keys for this month and the next 11, dealt once (when this
    month has none): the cards go to ``cards_file`` (0600), the demo's stand-in for the
    printed cards each member takes home. None when the keys were dealt before."""
    from sqlalchemy import select

    from hom_phieu.clock import box_of
    from web import db
    from web.box_keys import Holder, current_key, deal_box_keys
    from web.ceremony_calendar import box_label, boxes_from
    from web.clock import now_ms
    from web.labels import COMMITTEE_ROLE_LABELS, label
    from web.models import CommitteeMember, Counter, Office, User

    session = db.session()
    office = session.get(Office, session.get(Counter, counter_id).office_id)
    box = box_of(now_ms())
    if current_key(session, office.id, box) is not None:
        return None
    holders = [
        Holder(user.id, user.display_name, member.committee_role)
        for member, user in session.execute(
            select(CommitteeMember, User)
            .join(User, CommitteeMember.user_id == User.id)
            .where(CommitteeMember.office_id == office.id)
            .order_by(CommitteeMember.id)
        )
    ]
    dealt = deal_box_keys(session, office, boxes_from(box, 12), KEY_THRESHOLD, holders, None)
    title = _("Share cards of the box keys of {office} (demo): keep each card private; any "
              "{k} members open a box.")  # fmt: skip
    lines = [title.format(office=office.name, k=KEY_THRESHOLD), ""]
    for index, holder in enumerate(holders):
        lines += ["=" * 72, f"{holder.name} — {label(COMMITTEE_ROLE_LABELS, holder.role)}", ""]
        for key in dealt:
            card = key.cards[index]
            lines.append(_("Box {month} · key {fingerprint}").format(
                month=box_label(key.key.box or ""), fingerprint=key.key.fingerprint))  # fmt: skip
            lines.append(card.mnemonic)
            lines.append("")
    session.commit()
    fd = os.open(cards_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines))
    return cards_file


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
