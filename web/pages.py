"""The admin pages: the sealed boxes at a glance, devices and their enrollment.

Sealed means: until a box is opened by its committee nothing here shows counts by level
or by clerk; only how many ballots arrived, from how many devices, and when.

The front page also lists, for the reader's units, the boxes to open and the boxes newly
opened (:func:`front_lists`). A month's box is **due** from its last working day
(``web.opening.opening_due``) until it is opened, and **overdue** once more than
``OVERDUE_DAYS`` calendar days have passed since the month ended (from the 6th of the next
month). The months looked at are those whose box holds ballots, and the current and the
previous month of an office that had a device by then (an empty month must be opened too).
**Newly opened**: opened within the last ``NEW_DAYS`` days.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from hom_phieu import formatting
from hom_phieu.i18n import N_, _
from hom_phieu.render.qr import qr_data_url
from web import clock, db
from web.auth import audit, require_unit, roles_required, units_in_scope
from web.ceremony_calendar import month_end, today
from web.confirm import ConfirmForm, ask, confirmed
from web.form_input import StorableInputMeta
from web.models import (
    Alert,
    Counter,
    Device,
    Enrollment,
    LedgerRecord,
    Office,
    Opening,
    Role,
)
from web.opening import opening_due

bp = Blueprint("pages", __name__)
ENROLLMENT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
OVERDUE_DAYS = 5  # a box not opened more than this many days after its month is overdue
NEW_DAYS = 30  # a box opened within this many days is "newly opened"
RESULT_READERS = (Role.ADMIN, Role.COMMITTEE, Role.VIEWER)  # (web.ceremony's: no cycle)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_global(due_note)


def due_note(box: str, due: date) -> str:
    """What a box page and the front page say of a box not opened yet: its due day (the
    month's last working day, ``web.opening.opening_due``) and whether it is overdue."""
    late = overdue_from(box)
    if today(clock.now()) >= late:
        note = _("Due on {due}; overdue since {date}.")
    else:
        note = _("Due on {due} (the month's last working day); overdue from {date}.")
    return note.format(due=due.strftime("%d/%m/%Y"), date=late.strftime("%d/%m/%Y"))


def offices_in_scope() -> list[Office]:
    query = select(Office).order_by(Office.name)
    scope = units_in_scope()
    if scope is not None:
        query = query.where(Office.unit_id.in_(scope))
    return list(db.session().scalars(query))


def office_or_404(office_id: int) -> Office:
    office = db.session().get(Office, office_id)
    if office is None:
        abort(404)
    require_unit(office.unit_id)
    return office


@bp.get("/")
@login_required
def index():
    offices = offices_in_scope()
    rows = []
    if offices:
        ids = [o.id for o in offices]
        rows = (
            db.session()
            .execute(
                select(
                    LedgerRecord.office_id,
                    LedgerRecord.box,
                    func.count().label("ballots"),
                    func.count(func.distinct(LedgerRecord.device_pk)).label("devices"),
                    func.max(LedgerRecord.received_at).label("last_sync"),
                )
                .where(LedgerRecord.office_id.in_(ids), LedgerRecord.kind == "VOTE")
                .group_by(LedgerRecord.office_id, LedgerRecord.box)
                .order_by(LedgerRecord.box.desc())
            )
            .all()
        )
    by_office = {o.id: o for o in offices}
    states = dict(
        ((office_id, box), status)
        for office_id, box, status in db.session().execute(
            select(Opening.office_id, Opening.box, Opening.status).where(
                Opening.office_id.in_(list(by_office))
            )
        )
    )
    session = db.session()
    boxes = [
        {"office": by_office[r.office_id], "box": r.box, "ballots": r.ballots,
         "devices": r.devices, "last_sync": r.last_sync,
         "state": states.get((r.office_id, r.box), "sealed"),
         "due": opening_due(session, r.box, by_office[r.office_id])}
        for r in rows
    ]  # fmt: skip
    alerts = []
    if offices and current_user.role in (Role.ADMIN, Role.TECHNICIAN):
        alerts = list(
            db.session().scalars(
                select(Alert)
                .where(Alert.office_id.in_([o.id for o in offices]))
                .order_by(Alert.at.desc())
                .limit(50)
            )
        )
    held = {(r.office_id, r.box) for r in rows}
    due, opened = front_lists(db.session(), offices, held, clock.now())
    return render_template(
        "index.html", offices=offices, boxes=boxes, alerts=alerts, due=due, opened=opened,
        results_reader=current_user.role in RESULT_READERS, reports_url=reports_url,
        overdue_days=OVERDUE_DAYS, new_days=NEW_DAYS, one_day=timedelta(days=1),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class DueBox:
    """A box to open (its month's last working day is past); overdue from ``overdue_from``."""

    office: Office
    box: str
    overdue_from: date
    overdue: bool
    started: bool  # its opening ceremony is under way


@dataclass(frozen=True, slots=True)
class NewlyOpened:
    office: Office
    box: str
    opened_at: datetime


def overdue_from(box: str) -> date:
    """The first day ``box`` is overdue: more than OVERDUE_DAYS days after its month."""
    return month_end(box).date() + timedelta(days=OVERDUE_DAYS)


def previous_box(box: str) -> str:
    year, month = int(box[:4]), int(box[5:])
    return f"{year - (month == 1):04d}-{(month - 2) % 12 + 1:02d}"


def front_lists(
    session: Session, offices: list[Office], held: set[tuple[int, str]], now: datetime
) -> tuple[list[DueBox], list[NewlyOpened]]:
    """The boxes due (overdue first, then the oldest) and those opened in the last
    NEW_DAYS days (newest first), of ``offices``; ``held``: (office id, box) of the boxes
    holding ballots. Nothing of a sealed box's content."""
    if not offices:
        return [], []
    ids, day = [o.id for o in offices], today(now)
    current = f"{day.year:04d}-{day.month:02d}"
    candidates = set(held)
    first_device = session.execute(
        select(Device.office_id, func.min(Device.enrolled_at))
        .where(Device.office_id.in_(ids), Device.enrolled_at.is_not(None))
        .group_by(Device.office_id)
    )
    for office_id, enrolled in first_device:
        for box in (previous_box(current), current):
            if _aware(enrolled) < month_end(box):
                candidates.add((office_id, box))
    # (the columns only: an opened row holds its whole minutes)
    columns = select(Opening.office_id, Opening.box, Opening.status, Opening.opened_at)
    openings = {
        (office_id, box): (status, opened_at)
        for office_id, box, status, opened_at in session.execute(
            columns.where(Opening.office_id.in_(ids))
        )
    }
    by_id = {o.id: o for o in offices}
    due = []
    for office_id, box in candidates:
        status = openings.get((office_id, box), (None, None))[0]
        if box > current or status == Opening.OPENED:
            continue
        office = by_id[office_id]
        if box == current and not _due_this_month(session, office, box, day):
            continue  # (a past month is due whatever its calendar)
        late = overdue_from(box)
        due.append(DueBox(office, box, late, day >= late, status is not None))
    due.sort(key=lambda d: (not d.overdue, d.box, d.office.name))
    since = now - timedelta(days=NEW_DAYS)
    recent = [
        NewlyOpened(by_id[office_id], box, _aware(opened_at))
        for (office_id, box), (status, opened_at) in openings.items()
        if status == Opening.OPENED and opened_at is not None and _aware(opened_at) >= since
    ]
    recent.sort(key=lambda o: (o.opened_at, o.box), reverse=True)
    return due, recent


def _due_this_month(session: Session, office: Office, box: str, day: date) -> bool:
    """Has the office's current month reached its last working day? (No month's last
    working day comes before its 15th: the calendar is read only in the second half.)"""
    return day.day >= 15 and day >= opening_due(session, box, office)


def _aware(moment: datetime) -> datetime:
    """A stored time (naive on SQLite: UTC) made aware."""
    return formatting.aware(moment)


REPORTS = "reports.index"  # the reports page (web.reports)


def reports_url(office: Office, box: str) -> str | None:
    """The reports page on the office (in its unit) for the month, when the server has one."""
    if REPORTS not in current_app.view_functions:
        return None
    return url_for(REPORTS, unit=office.unit_id, office=office.id, period="month", month=box)


@bp.get("/devices")
@roles_required(Role.TECHNICIAN, Role.VIEWER, Role.COMMITTEE)
def devices():
    ids = [o.id for o in offices_in_scope()]
    found = db.session().scalars(
        select(Device).where(Device.office_id.in_(ids)).order_by(Device.office_id, Device.id)
    )
    return render_template("devices.html", devices=list(found))


class DeviceForm(FlaskForm):
    Meta = StorableInputMeta
    office = SelectField(coerce=int, validators=[DataRequired()])
    counter = SelectField(coerce=int, validators=[Optional()])
    label = StringField(N_("Note (where it stands)"), validators=[Length(max=200)])


def counter_choices(offices: list[Office]) -> dict[str | None, list[tuple[int, str]]]:
    """The counters in service of ``offices``, grouped by office (one ``<optgroup>`` each),
    after the choice "no counter"."""
    found = db.session().scalars(
        select(Counter)
        .where(Counter.office_id.in_([o.id for o in offices]), Counter.retired_at.is_(None))
        .order_by(Counter.office_id, Counter.id)
    )
    groups: dict[str | None, list[tuple[int, str]]] = {None: [(0, "—")]}
    names = {o.id: o.name for o in offices}
    for counter in found:
        groups.setdefault(names[counter.office_id], []).append((counter.id, counter.name))
    return groups


@bp.route("/devices/new", methods=["GET", "POST"])
@roles_required(Role.TECHNICIAN)
def device_new():
    form = DeviceForm()
    offices = offices_in_scope()
    form.office.choices = [(o.id, o.name) for o in offices]
    form.counter.choices = counter_choices(offices)
    if form.validate_on_submit():
        office = office_or_404(form.office.data)
        counter = db.session().get(Counter, form.counter.data) if form.counter.data else None
        if counter is not None and counter.office_id != office.id:
            form.counter.errors.append(_("this counter belongs to another office"))
            return render_template("device_new.html", form=form), 400
        device = Device(office_id=office.id, counter_id=counter.id if counter else None,
                        label=form.label.data or "")  # fmt: skip
        db.session().add(device)
        db.session().flush()
        code = new_enrollment(device, current_user.id)
        audit("device_registered", f"device {device.id}", office=office.code)
        db.session().commit()
        return render_template(
            "enrollment.html", device=device, code=code, qr=qr_data_url(code, box_size=6),
            hours=current_app.config["ENROLLMENT_HOURS"],
        )  # fmt: skip
    return render_template("device_new.html", form=form), 400 if form.is_submitted() else 200


@bp.route("/devices/<int:device_pk>/revoke", methods=["GET", "POST"])
@roles_required(Role.TECHNICIAN)
def device_revoke(device_pk: int):
    """Asks first (``web.confirm``): a revoked device is refused for good."""
    device = db.session().get(Device, device_pk)
    if device is None:
        abort(404)
    office_or_404(device.office_id)
    name = device.device_id or device.label or _("not enrolled yet")
    if device.status == "revoked":
        flash(_("The device {device} is revoked already.").format(device=name))
        return redirect(url_for("pages.devices"))
    form = ConfirmForm()
    if not confirmed(form):
        return ask(
            form,
            title=_("Revoke a device"),
            text=_("The device {device} of {office} will be refused from now on: the server "
                   "accepts nothing more from it.").format(
                device=name, office=device.office.name),
            undo=_("This cannot be undone: a revoked device cannot be brought back. To use "
                   "the machine again, register it as a new device."),
            button=_("Revoke the device"),
            cancel=url_for("pages.devices"),
        )  # fmt: skip
    device.status, device.revoked_at = "revoked", clock.now()
    audit("device_revoked", f"device {device.id}", device_id=device.device_id)
    db.session().commit()
    flash(_("The device {device} is revoked.").format(device=name))
    return redirect(url_for("pages.devices"))


def new_enrollment(
    device: Device, created_by: int | None, *, expires_at: datetime | None = None
) -> str:
    """A one-time code (shown once, kept only as its hash), valid for some hours (or until
    ``expires_at``: a batch's codes, ``web.enroll_batch``)."""
    raw = "".join(secrets.choice(ENROLLMENT_ALPHABET) for _ in range(12))
    code = "-".join(raw[i : i + 4] for i in range(0, 12, 4))
    if expires_at is None:
        expires_at = clock.now() + timedelta(hours=current_app.config["ENROLLMENT_HOURS"])
    db.session().add(
        Enrollment(
            device_pk=device.id,
            code_hash=enrollment_hash(code),
            created_by=created_by,
            expires_at=expires_at,
        )
    )
    return code


def enrollment_hash(code: str) -> str:
    compact = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(b"hom-phieu enrollment\0" + compact.encode()).hexdigest()
