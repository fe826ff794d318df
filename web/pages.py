"""The admin pages: the sealed boxes at a glance, devices and their enrollment.

Sealed means: until a box is opened by its committee nothing here shows counts by level
or by clerk; only how many ballots arrived, from how many devices, and when.
"""

from __future__ import annotations

import base64
import hashlib
import io
import secrets
from datetime import timedelta

import qrcode
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from hom_phieu.i18n import _
from web import clock, db
from web.auth import audit, require_unit, roles_required, units_in_scope
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

bp = Blueprint("pages", __name__)
ENROLLMENT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


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
    boxes = [
        {"office": by_office[r.office_id], "box": r.box, "ballots": r.ballots,
         "devices": r.devices, "last_sync": r.last_sync,
         "state": states.get((r.office_id, r.box), "sealed")}
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
    return render_template("index.html", offices=offices, boxes=boxes, alerts=alerts)


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
    label = StringField(validators=[Length(max=200)])


@bp.route("/devices/new", methods=["GET", "POST"])
@roles_required(Role.TECHNICIAN)
def device_new():
    form = DeviceForm()
    offices = offices_in_scope()
    form.office.choices = [(o.id, o.name) for o in offices]
    counters = db.session().scalars(
        select(Counter).where(Counter.office_id.in_([o.id for o in offices]))
    )
    form.counter.choices = [(0, "—")] + [(c.id, f"{c.office.name} – {c.name}") for c in counters]
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
            "enrollment.html", device=device, code=code, qr=_qr_data_url(code),
            hours=current_app.config["ENROLLMENT_HOURS"],
        )  # fmt: skip
    return render_template("device_new.html", form=form)


@bp.post("/devices/<int:device_pk>/revoke")
@roles_required(Role.TECHNICIAN)
def device_revoke(device_pk: int):
    device = db.session().get(Device, device_pk)
    if device is None:
        abort(404)
    office_or_404(device.office_id)
    device.status, device.revoked_at = "revoked", clock.now()
    audit("device_revoked", f"device {device.id}", device_id=device.device_id)
    db.session().commit()
    return redirect(url_for("pages.devices"))


def new_enrollment(device: Device, created_by: int | None) -> str:
    """A one-time code (shown once, kept only as its hash), valid for some hours."""
    raw = "".join(secrets.choice(ENROLLMENT_ALPHABET) for _ in range(12))
    code = "-".join(raw[i : i + 4] for i in range(0, 12, 4))
    hours = current_app.config["ENROLLMENT_HOURS"]
    db.session().add(
        Enrollment(
            device_pk=device.id,
            code_hash=enrollment_hash(code),
            created_by=created_by,
            expires_at=clock.now() + timedelta(hours=hours),
        )
    )
    return code


def enrollment_hash(code: str) -> str:
    compact = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(b"hom-phieu enrollment\0" + compact.encode()).hexdigest()


def _qr_data_url(text: str) -> str:
    image = qrcode.make(text, border=4, box_size=6)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
