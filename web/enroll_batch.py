"""Enrolling many: codes for a list of an office's counters at once, and the sheet the
technician takes along (one card per counter: the code in large letters and a QR of the
install command).

One click makes a pending device and a one-time code per chosen counter, and records the
batch (:class:`web.models_enroll.EnrollmentBatch`). The codes exist only in the answer to
that click (only their hashes are kept, as for ``/devices/new``); "new codes for the unused
ones" replaces the codes of the batch's devices still pending (their old codes stop
working) and prints a new sheet. The devices page shows each code's state (used, expired,
waiting) and the batches (:func:`code_states`, :func:`recent_batches`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wtforms import SelectField, SelectMultipleField

from hom_phieu.clock import TIMEZONE
from hom_phieu.formatting import aware
from hom_phieu.i18n import _
from hom_phieu.render.qr import qr_data_url
from web import clock, db, server_address
from web.auth import audit, roles_required
from web.confirm import ConfirmForm, ask, confirmed
from web.enroll_batch_pdf import SheetCard, sheet_pdf
from web.form_input import StorableInputMeta
from web.key_ceremony import no_store
from web.models import Counter, Device, Enrollment, Office, Role
from web.models_enroll import EnrollmentBatch, EnrollmentBatchDevice
from web.pages import new_enrollment, office_or_404, offices_in_scope

bp = Blueprint("enroll_batch", __name__)
VALID_DAYS = (2, 7, 14, 30)  # how long a batch's codes may last (the sheet says until when)
DEFAULT_DAYS = 7
RECENT_BATCHES = 20  # the devices page lists this many batches, newest first


def no_address_message() -> str:
    """Why no sheet can be made, in the request's language."""
    return _(
        "The server's public address is not set, so the sheet cannot say where the "
        "kiosks enroll: ask an administrator to set it (on the Alert e-mail page: the "
        "server's public address; or HOM_PHIEU_SERVER_URL in /etc/hom-phieu/web.env)."
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_global(code_states)
    app.add_template_global(recent_batches)


# --- what the devices page shows ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodeState:
    """A device's newest enrollment code: ``used`` (at), ``expired`` (at) or ``waiting``
    (until)."""

    kind: str
    at: datetime

    def text(self) -> str:
        words = {
            "used": _("code used on {date}"),
            "expired": _("code expired on {date}"),
            "waiting": _("code waiting, valid until {date}"),
        }
        return words[self.kind].format(date=day(self.at))


def code_states(devices: list[Device]) -> dict[int, CodeState]:
    """Device id -> the state of its newest code (devices without one are left out)."""
    ids = [device.id for device in devices]
    if not ids:
        return {}
    session = db.session()
    newest = (
        select(func.max(Enrollment.id)).where(Enrollment.device_pk.in_(ids))
        .group_by(Enrollment.device_pk)
    )  # fmt: skip
    now = clock.now()
    states = {}
    for code in session.scalars(select(Enrollment).where(Enrollment.id.in_(newest))):
        if code.used_at is not None:
            states[code.device_pk] = CodeState("used", aware(code.used_at))
        elif aware(code.expires_at) < now:
            states[code.device_pk] = CodeState("expired", aware(code.expires_at))
        else:
            states[code.device_pk] = CodeState("waiting", aware(code.expires_at))
    return states


@dataclass(frozen=True, slots=True)
class BatchRow:
    batch: EnrollmentBatch
    devices: int
    enrolled: int  # of its devices, those enrolled since

    def summary(self) -> str:
        return _("{enrolled} of {devices} enrolled").format(
            enrolled=self.enrolled, devices=self.devices
        )


def recent_batches() -> list[BatchRow]:
    """The newest batches of the offices in the reader's scope."""
    ids = [office.id for office in offices_in_scope()]
    if not ids:
        return []
    session = db.session()
    batches = list(
        session.scalars(
            select(EnrollmentBatch).where(EnrollmentBatch.office_id.in_(ids))
            .order_by(EnrollmentBatch.id.desc()).limit(RECENT_BATCHES)
        )
    )  # fmt: skip
    counts = _member_counts(session, [batch.id for batch in batches])
    return [BatchRow(b, *counts.get(b.id, (0, 0))) for b in batches]


def _member_counts(session: Session, batch_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not batch_ids:
        return {}
    rows = session.execute(
        select(
            EnrollmentBatchDevice.batch_id, func.count(),
            func.count(Device.enrolled_at),
        )
        .join(Device, Device.id == EnrollmentBatchDevice.device_pk)
        .where(EnrollmentBatchDevice.batch_id.in_(batch_ids))
        .group_by(EnrollmentBatchDevice.batch_id)
    )  # fmt: skip
    return {batch_id: (total, enrolled) for batch_id, total, enrolled in rows}


def day(moment: datetime) -> str:
    """``dd/mm/yyyy`` in Vietnam time."""
    return aware(moment).astimezone(TIMEZONE).strftime("%d/%m/%Y")


# --- making a batch -------------------------------------------------------------------------


class BatchForm(FlaskForm):
    Meta = StorableInputMeta
    counters = SelectMultipleField(coerce=int, validate_choice=False)
    days = SelectField(coerce=int, default=DEFAULT_DAYS)


@dataclass(frozen=True, slots=True)
class CounterChoice:
    counter: Counter
    kiosk: Device | None  # its active kiosk, else a pending one
    preselected: bool


def counter_choices(session: Session, office: Office) -> list[CounterChoice]:
    """The office's counters in service, each with its kiosk; those without an active or
    pending kiosk come pre-selected."""
    counters = session.scalars(
        select(Counter).where(Counter.office_id == office.id, Counter.retired_at.is_(None))
        .order_by(Counter.id)
    )  # fmt: skip
    kiosks: dict[int, Device] = {}
    for device in session.scalars(
        select(Device).where(Device.office_id == office.id, Device.kind == "kiosk",
                             Device.status.in_(("active", "pending")))
        .order_by(Device.id)
    ):  # fmt: skip
        held = kiosks.get(device.counter_id or 0)
        if held is None or held.status != "active":
            kiosks[device.counter_id or 0] = device
    return [CounterChoice(c, kiosks.get(c.id), c.id not in kiosks) for c in counters]


@bp.route("/devices/batches/new", methods=["GET", "POST"])
@roles_required(Role.TECHNICIAN)
def new_batch():
    """Choose an office (``?office=``), then its counters; one click makes the codes."""
    offices = offices_in_scope()
    office = next((o for o in offices if o.id == request.args.get("office", type=int)), None)
    if office is None:
        if request.method == "POST":
            abort(404)
        return render_template("enroll_batch_new.html", offices=offices, office=None)
    session = db.session()
    address = server_address.configured(session)
    if address is None:  # (the sheet would name no server, or the request's Host)
        page = render_template("enroll_batch_new.html", offices=offices, office=office,
                               no_address=no_address_message())  # fmt: skip
        return page, 400 if request.method == "POST" else 200
    choices = counter_choices(session, office)
    form = BatchForm()
    form.days.choices = [(n, _("{n} days").format(n=n)) for n in VALID_DAYS]
    if not form.is_submitted():
        form.counters.data = [c.counter.id for c in choices if c.preselected]
    else:
        valid = form.validate()
        chosen = _chosen(form.counters.data if valid else None, choices)
        if chosen:
            return _make_batch(session, office, chosen, form.days.data, address)
        if valid or form.counters.errors:  # (not for a wrong token or number of days)
            form.counters.errors = [_("Choose at least one counter in service of this office.")]
    page = render_template("enroll_batch_new.html", offices=offices, office=office,
                           choices=choices, form=form)  # fmt: skip
    return page, 400 if form.is_submitted() else 200


def _chosen(ticked: list[int] | None, choices: list[CounterChoice]) -> list[Counter]:
    """The counters ticked, when each is one of ``choices`` (else none)."""
    offered = {choice.counter.id: choice.counter for choice in choices}
    ticked = list(dict.fromkeys(ticked or []))
    if not all(i in offered for i in ticked):
        return []
    return [offered[i] for i in ticked]


def _make_batch(session: Session, office: Office, counters: list[Counter], days: int,
                address: str):  # fmt: skip
    now = clock.now()
    batch = EnrollmentBatch(office_id=office.id, created_by=current_user.id, created_at=now,
                            valid_days=days, expires_at=now + timedelta(days=days))  # fmt: skip
    session.add(batch)
    issued = []
    for counter in counters:
        device = Device(office_id=office.id, counter_id=counter.id, label=counter.name)
        session.add(device)
        session.flush()
        session.add(EnrollmentBatchDevice(device_pk=device.id, batch=batch))
        issued.append((device, _issue(device, batch)))
    session.flush()
    audit("enrollment_batch_created", f"batch {batch.id}", office=office.code,
          devices=[device.id for device, _code in issued], days=days)  # fmt: skip
    session.commit()
    return _sheet(batch, issued, address)


def _issue(device: Device, batch: EnrollmentBatch) -> str:
    """A new code for ``device`` valid until the batch's expiry (``web.pages``' codes)."""
    return new_enrollment(device, current_user.id, expires_at=batch.expires_at)


# --- the sheet ------------------------------------------------------------------------------


def install_command(address: str, code: str) -> str:
    """What the technician types (or scans) on the kiosk: the server's configured address
    (``web.server_address``, never the request's Host) and the code."""
    return f"hom-phieu kiosk install --server {address} --code {code}"


def _sheet(batch: EnrollmentBatch, issued: list[tuple[Device, str]], address: str):
    """The printable sheet (and its PDF, inside the page): the only time the codes show."""
    expires = day(batch.expires_at)
    cards = [
        SheetCard(office=batch.office.name, counter=device.counter.name if device.counter else "—",
                  code=code, command=install_command(address, code), expires=expires)
        for device, code in issued
    ]  # fmt: skip
    shown = [(card, qr_data_url(card.command, box_size=4)) for card in cards]
    pdf = "data:application/pdf;base64," + base64.b64encode(sheet_pdf(cards)).decode()
    body = render_template("enroll_batch_sheet.html", batch=batch, cards=shown, pdf=pdf,
                           expires=expires)  # fmt: skip
    return no_store(body)


# --- one batch: its devices, new codes for the unused ones ----------------------------------


def batch_or_404(batch_id: int) -> EnrollmentBatch:
    batch = db.session().get(EnrollmentBatch, batch_id)
    if batch is None:
        abort(404)
    office_or_404(batch.office_id)  # (another unit's batch: 404)
    return batch


def _unused(batch: EnrollmentBatch) -> list[Device]:
    return [m.device for m in batch.members if m.device.status == "pending"]


@bp.get("/devices/batches/<int:batch_id>")
@roles_required(Role.TECHNICIAN)
def batch_page(batch_id: int):
    batch = batch_or_404(batch_id)
    devices = [member.device for member in batch.members]
    return render_template("enroll_batch.html", batch=batch, devices=devices,
                           states=code_states(devices), unused=_unused(batch), day=day)  # fmt: skip


@bp.route("/devices/batches/<int:batch_id>/reissue", methods=["GET", "POST"])
@roles_required(Role.TECHNICIAN)
def reissue(batch_id: int):
    """New codes for the batch's devices still pending; their old codes stop working."""
    batch = batch_or_404(batch_id)
    unused = _unused(batch)
    back = url_for("enroll_batch.batch_page", batch_id=batch.id)
    if not unused:
        flash(_("Every device of this batch is enrolled or revoked: no code to replace."))
        return redirect(back)
    address = server_address.configured(db.session())
    if address is None:  # (before the old codes are withdrawn)
        flash(no_address_message(), "error")
        return redirect(back)
    form = ConfirmForm()
    if not confirmed(form):
        return ask(
            form,
            title=_("New codes for the unused ones"),
            text=_("{n} devices of {office} still wait for enrollment: each gets a new code, "
                   "valid {days} days, on a new sheet.").format(
                n=len(unused), office=batch.office.name, days=batch.valid_days),
            undo=_("Their old codes stop working at once: throw the old sheet away."),
            details=[d.counter.name if d.counter else d.label for d in unused],
            button=_("Make new codes"),
            cancel=back,
        )  # fmt: skip
    return _reissue(batch, unused, address)


def _reissue(batch: EnrollmentBatch, unused: list[Device], address: str):
    session, now = db.session(), clock.now()
    withdrawn = now - timedelta(seconds=1)  # (a code is refused once its expiry is past)
    for code in session.scalars(
        select(Enrollment).where(Enrollment.device_pk.in_([d.id for d in unused]),
                                 Enrollment.used_at.is_(None))
    ):  # fmt: skip
        code.expires_at = min(aware(code.expires_at), withdrawn)
    batch.expires_at = now + timedelta(days=batch.valid_days)
    batch.reissued_at, batch.reissued_by = now, current_user.id
    issued = [(device, _issue(device, batch)) for device in unused]
    audit("enrollment_batch_reissued", f"batch {batch.id}", office=batch.office.code,
          devices=[device.id for device in unused])  # fmt: skip
    session.commit()
    return _sheet(batch, issued, address)
