"""The alerts page: the open alerts first, for the roles who act on each kind, in their unit.

Acknowledge (I am on it) and resolve (it is fixed, with a note) are CSRF forms; both are
audited by ``web.alerts``. The page only reads: the alerts derived from state are raised
and resolved by the sweep (``web.alerts_sweep``, ``hom-phieu web alerts sweep`` every minute
from its systemd timer), never by a GET.
"""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import case, select
from wtforms import StringField
from wtforms.validators import Length

from hom_phieu.i18n import _
from web import alerts, clock, db
from web.alerts import STATE_LABELS, State, acknowledge, alert_words, kinds_for, state_of
from web.auth import roles_required
from web.form_input import StorableInputMeta
from web.models import Alert, Device, Role
from web.pages import offices_in_scope

bp = Blueprint("alerts", __name__)
FILTERS = ("active", "open", "acknowledged", "resolved", "all")
PAGE_SIZE = 200


class AcknowledgeForm(FlaskForm):
    Meta = StorableInputMeta


class ResolveForm(FlaskForm):
    Meta = StorableInputMeta
    note = StringField(validators=[Length(max=2000)])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.update(
        alert_words=alert_words, alert_state=state_of, alert_state_label=_state_label
    )


def _state_label(alert: Alert) -> str:
    return _(STATE_LABELS[state_of(alert)])


def _visible():
    """The alerts the current user acts on: its kinds, its unit's offices."""
    offices = offices_in_scope()
    query = select(Alert).where(
        Alert.office_id.in_([o.id for o in offices]), Alert.kind.in_(kinds_for(current_user.role))
    )
    return offices, query


@bp.get("/alerts")
@roles_required(Role.TECHNICIAN, Role.COMMITTEE)
def index():
    shown = request.args.get("state", "active")
    if shown not in FILTERS:
        shown = "active"
    offices, query = _visible()
    session = db.session()
    if shown in ("active", "open", "acknowledged"):
        query = query.where(Alert.resolved_at.is_(None))
    if shown == "open":
        query = query.where(Alert.acknowledged_at.is_(None))
    elif shown == "acknowledged":
        query = query.where(Alert.acknowledged_at.is_not(None))
    elif shown == "resolved":
        query = query.where(Alert.resolved_at.is_not(None))
    order = case((Alert.resolved_at.is_not(None), 2), (Alert.acknowledged_at.is_not(None), 1),
                 else_=0)  # fmt: skip
    severity = case((Alert.severity == "critical", 0), (Alert.severity == "warning", 1), else_=2)
    found = list(
        session.scalars(query.order_by(order, severity, Alert.at.desc(), Alert.id.desc()).limit(
            PAGE_SIZE))
    )  # fmt: skip
    names = {o.id: o.name for o in offices}
    named = {a.device_pk for a in found if a.device_pk}
    devices = {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(named)))}
    return render_template(
        "alerts/index.html", alerts=found, shown=shown, filters=FILTERS, offices=names,
        devices=devices, acknowledge_form=AcknowledgeForm(), resolve_form=ResolveForm(),
        State=State,
    )  # fmt: skip


def _alert_or_404(alert_id: int) -> Alert:
    _offices, query = _visible()
    alert = db.session().scalar(query.where(Alert.id == alert_id))
    if alert is None:
        abort(404)  # (another unit's alert, or a kind this role does not act on)
    return alert


def _back():
    device_pk = request.args.get("device", type=int)  # (from the device's page: back there)
    if device_pk is not None:
        return redirect(url_for("fleet.device", device_pk=device_pk))
    return redirect(url_for("alerts.index", state=request.args.get("state", "active")))


@bp.post("/alerts/<int:alert_id>/acknowledge")
@roles_required(Role.TECHNICIAN, Role.COMMITTEE)
def acknowledge_alert(alert_id: int):
    alert = _alert_or_404(alert_id)
    if not AcknowledgeForm().validate_on_submit():
        flash(_("The form expired: press the button again."), "error")
        return _back()
    session = db.session()
    if acknowledge(session, alert, current_user.id, clock.now()):
        flash(_("Alert acknowledged: {title}.").format(title=alert_words(alert).title))
    session.commit()
    return _back()


@bp.post("/alerts/<int:alert_id>/resolve")
@roles_required(Role.TECHNICIAN, Role.COMMITTEE)
def resolve_alert(alert_id: int):
    alert = _alert_or_404(alert_id)
    form = ResolveForm()
    if not form.validate_on_submit():
        flash(_("The form expired: press the button again."), "error")
        return _back()
    session = db.session()
    if alerts.resolve(session, alert, current_user.id, clock.now(), form.note.data or ""):
        flash(_("Alert resolved: {title}.").format(title=alert_words(alert).title))
    session.commit()
    return _back()
