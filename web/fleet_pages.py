"""The fleet of a unit (``/fleet``: counts by state, the worst first), a device's page with
its history (``/devices/<pk>``) and the thresholds an administrator sets
(``/fleet/settings``). Every device's state is ``web.fleet_health``'s judgement.

Roles and scope as the devices page: technicians, viewers and committee members (and
administrators) of the device's unit or above; another unit's device is 404.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from wtforms import StringField, ValidationError

from hom_phieu.i18n import _
from web import clock, db
from web.auth import audit, require_unit, roles_required, units_in_scope
from web.fleet_health import (
    WORST_FIRST,
    DeviceHealth,
    Thresholds,
    device_health,
    worst_first,
)
from web.fleet_history import history
from web.manage.common import Form, strip
from web.models import Alert, Device, Enrollment, LedgerRecord, Office, Role, Unit

bp = Blueprint("fleet", __name__)
READERS = (Role.TECHNICIAN, Role.VIEWER, Role.COMMITTEE)
LAST_RECORDS = 20


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_global(health_of)


def health_of(device: Device) -> DeviceHealth:
    """For templates (the devices page): the device's health now, with the thresholds set."""
    return device_health(device, clock.now(), Thresholds.of(db.session()))


# --- the fleet of a unit -----------------------------------------------------------------
@bp.get("/fleet")
@roles_required(*READERS)
def fleet():
    session = db.session()
    scope = units_in_scope()
    units = list(session.scalars(
        select(Unit).where(Unit.id.in_(scope)) if scope is not None else select(Unit)
    ).all())  # fmt: skip
    units.sort(key=lambda u: (u.name, u.id))
    chosen = _chosen_unit(units)
    offices = select(Office.id)
    if chosen is not None:
        from web.unit_tree import subtree

        offices = offices.where(Office.unit_id.in_(subtree(session, chosen.id)))
    elif scope is not None:
        offices = offices.where(Office.unit_id.in_(scope))
    found = session.scalars(
        select(Device).where(Device.office_id.in_(offices), Device.kind == "kiosk")
    )
    thresholds, now = Thresholds.of(session), clock.now()
    rows = worst_first((d, device_health(d, now, thresholds)) for d in found)
    counts = {state: 0 for state in WORST_FIRST}
    for _device, health in rows:
        counts[health.state] += 1
    return render_template("fleet/fleet.html", rows=rows, units=units, chosen=chosen,
                           counts=counts, thresholds=thresholds)  # fmt: skip


def _chosen_unit(units: list[Unit]) -> Unit | None:
    """The unit asked for (``?unit=``), when the reader may see it; None: all in scope."""
    asked = request.args.get("unit", "")
    if not asked:
        return None
    if not asked.isdigit() or len(asked) > 12:
        abort(404)
    for unit in units:
        if unit.id == int(asked):
            return unit
    abort(404)


# --- a device ------------------------------------------------------------------------------
@bp.get("/devices/<int:device_pk>")
@roles_required(*READERS)
def device(device_pk: int):
    session = db.session()
    found = session.get(Device, device_pk)
    if found is None:
        abort(404)
    require_unit(found.office.unit_id)
    thresholds = Thresholds.of(session)
    health = device_health(found, clock.now(), thresholds)
    enrollments = session.scalars(
        select(Enrollment).where(Enrollment.device_pk == found.id).order_by(Enrollment.id.desc())
    )
    records = session.execute(
        select(LedgerRecord.seq, LedgerRecord.kind, LedgerRecord.box, LedgerRecord.received_at)
        .where(LedgerRecord.device_pk == found.id)
        .order_by(LedgerRecord.seq.desc())
        .limit(LAST_RECORDS)
    ).all()
    return render_template(
        "fleet/device.html",
        device=found,
        health=health,
        report=found.health or {},
        beats=history(session, found, thresholds),
        enrollments=list(enrollments),
        records=records,
        alerts=_alerts(found),
        revoked=found.status == "revoked",
        may_act=current_user.role in (Role.ADMIN, Role.TECHNICIAN),
        fork_url=_fork_url(found),
        **_alert_forms(),
    )


def _alert_forms() -> dict[str, Any]:
    """The alerts page's acknowledge and resolve forms (``web.alerts_page``), for the
    device's open alerts."""
    if "alerts.acknowledge_alert" not in current_app.view_functions:
        return {}
    from web.alerts_page import AcknowledgeForm, ResolveForm

    return {"acknowledge_form": AcknowledgeForm(), "resolve_form": ResolveForm()}


def _fork_url(found: Device) -> str | None:
    """The forked chain's page (``web.forks_page``), for those who may act on it."""
    if "forks.fork_page" not in current_app.view_functions:
        return None
    if current_user.role not in (Role.ADMIN, Role.TECHNICIAN) or found.status == "revoked":
        return None
    return url_for("forks.fork_page", device_pk=found.id)


def _alerts(found: Device) -> list[dict[str, Any]]:
    """The device's alerts, newest first, in words (``web.alerts``, when the server has it)."""
    try:
        from web.alerts import STATE_LABELS, alert_words, state_of
    except ImportError:  # (an older server: the alerts' kind and message)
        alert_words = state_of = None
    rows = db.session().scalars(
        select(Alert).where(Alert.device_pk == found.id).order_by(Alert.id.desc()).limit(20)
    )
    shown = []
    for alert in rows:
        words = alert_words(alert) if alert_words else None
        shown.append({
            "id": alert.id,
            "at": alert.at,
            "title": words.title if words else alert.kind,
            "detail": words.detail if words else alert.message,
            "state": str(state_of(alert)) if state_of else "",
            "state_label": _(STATE_LABELS[state_of(alert)]) if state_of else "",
            "action": words.action if words else "",
            "open": alert.resolved_at is None,
            "acknowledged": alert.acknowledged_at is not None,
        })  # fmt: skip
    return shown


# --- the thresholds ------------------------------------------------------------------------
def _whole(name: str):
    """A whole number within the threshold's limits; the message says which."""
    low, high = Thresholds.LIMITS[name]

    def check(_form: Form, field: StringField) -> None:
        text = field.data or ""
        if (
            not text.isascii()
            or not text.isdigit()
            or len(text) > 6
            or not low <= int(text) <= high
        ):
            words = _("enter a whole number from {low} to {high}")
            raise ValidationError(words.format(low=low, high=high))

    return check


class ThresholdsForm(Form):
    offline_minutes = StringField(filters=[strip], validators=[_whole("offline_minutes")])
    disk_full_percent = StringField(filters=[strip], validators=[_whole("disk_full_percent")])
    unsynced_minutes = StringField(filters=[strip], validators=[_whole("unsynced_minutes")])
    clock_skew_minutes = StringField(filters=[strip], validators=[_whole("clock_skew_minutes")])


@bp.route("/fleet/settings", methods=["GET", "POST"])
@roles_required()
def settings():
    if units_in_scope() is not None:
        abort(403)  # thresholds of the whole fleet: not for an administrator of one unit
    session = db.session()
    before = asdict(Thresholds.of(session))
    form = ThresholdsForm()
    if not form.is_submitted():
        form = ThresholdsForm(formdata=None, data={k: str(v) for k, v in before.items()})
        return render_template("fleet/settings.html", form=form)
    if not form.validate():
        return render_template("fleet/settings.html", form=form), 400
    after = Thresholds.checked({name: int(form[name].data) for name in before})
    if asdict(after) != before:
        after.save(session)
        audit("fleet_thresholds_changed", "fleet", before=before, after=asdict(after))
        session.commit()
        flash(_("The fleet thresholds are saved."))
    else:
        flash(_("Nothing changed: the fleet thresholds are as they were."))
    return redirect(url_for("fleet.settings"))
