"""The fork page of a device (``/devices/<pk>/fork``): the evidence that its chain forked
(where, and when each side wrote its record), the technician's steps to recover it
(confirm: a new identity for the forked side; upload its old ledger file: its records
verified and held apart), the administrator's approval or refusal of their adoption, seen
with the evidence (``web.forks_approval``: never by an account that asked for it), and the
administrator's repair of records altered on the server (``web.forks``)."""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from hom_phieu.i18n import _
from hom_phieu.ledger.errors import LedgerStoreError
from hom_phieu.ledger.store import LedgerStore
from hom_phieu.ledger.verify import Row
from hom_phieu.render.qr import qr_data_url
from web import db
from web.auth import roles_required
from web.confirm import ConfirmForm
from web.forks import (
    ForkError,
    adopt_branch,
    confirm_fork,
    evidence_rows,
    forks_seen,
    repair_record,
    repairable,
)
from web.forks_approval import MAX_REASON, approve_branch, branch_evidence, refuse_branch
from web.form_input import database_int
from web.models import Device, Role
from web.models_forks import Fork, RecordRepair
from web.pages import new_enrollment, office_or_404

bp = Blueprint("forks", __name__)
# A forged ledger file: a record whose seq is no integer or whose bytes are no blob.
ODD_ROWS = (
    "SELECT 1 FROM records WHERE typeof(seq) <> 'integer' OR typeof(data) <> 'blob' "
    "OR typeof(sig) <> 'blob' LIMIT 1"
)


def _device(device_pk: int) -> Device:
    device = db.session().get(Device, device_pk)
    if device is None or device.device_id is None:
        abort(404)
    office_or_404(device.office_id)  # (the unit's scope)
    return device


def _back(device: Device) -> ResponseReturnValue:
    return redirect(url_for("forks.fork_page", device_pk=device.id))


def _uploaded_rows() -> list[Row] | None:
    """The rows of the ledger file uploaded as ``ledger`` (None: none, or not a ledger)."""
    upload = request.files.get("ledger")
    if upload is None or not upload.filename:
        return None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.sqlite3"
        upload.save(path)
        try:
            store = LedgerStore(path, readonly=True)
            try:
                if store.conn.execute(ODD_ROWS).fetchone() is not None:
                    return None  # (not what a kiosk writes: no row of it is read)
                return store.rows()
            finally:
                store.close()
        except (LedgerStoreError, sqlite3.Error):
            return None


@bp.get("/devices/<int:device_pk>/fork")
@roles_required(Role.TECHNICIAN)
def fork_page(device_pk: int) -> ResponseReturnValue:
    device = _device(device_pk)
    session = db.session()
    repairs = session.query(RecordRepair).filter_by(device_pk=device.id).all()
    seen = forks_seen(session, device)
    evidence = {item.fork.id: branch_evidence(session, item.fork) for item in seen if item.fork}
    return render_template("forks/fork.html", device=device, seen=seen, evidence=evidence,
                           repairs=repairs, form=ConfirmForm(),
                           max_reason=MAX_REASON)  # fmt: skip


def _fork(device: Device, fork_id: int) -> Fork:
    fork = db.session().get(Fork, fork_id)
    if fork is None or fork.device_pk != device.id:
        abort(404)
    return fork


@bp.post("/devices/<int:device_pk>/fork/confirm")
@roles_required(Role.TECHNICIAN)
def confirm(device_pk: int) -> ResponseReturnValue:
    device = _device(device_pk)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    evidence_id = request.form.get("evidence", type=database_int)
    session = db.session()
    try:
        fork, code = confirm_fork(session, device, evidence_id or 0, current_user.id,
                                  lambda new: new_enrollment(new, current_user.id))  # fmt: skip
    except ForkError as error:
        session.rollback()
        flash(str(error))
        return _back(device)
    session.commit()
    return render_template("enrollment.html", device=fork.new_device, code=code,
                           qr=qr_data_url(code, box_size=6),
                           hours=current_app.config["ENROLLMENT_HOURS"])  # fmt: skip


@bp.post("/devices/<int:device_pk>/fork/<int:fork_id>/adopt")
@roles_required(Role.TECHNICIAN)
def adopt(device_pk: int, fork_id: int) -> ResponseReturnValue:
    device = _device(device_pk)
    session = db.session()
    fork = _fork(device, fork_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    rows = _uploaded_rows()
    if rows is None:
        flash(_("Choose the forked kiosk's ledger file (ballot-box.sqlite3)."))
        return _back(device)
    try:
        added = adopt_branch(session, fork, rows, current_user.id)
    except ForkError as error:
        session.rollback()
        flash(str(error))
        return _back(device)
    session.commit()
    flash(
        _(
            "{count} records of the forked side were verified and are held apart: they are "
            "counted once another person, an administrator, approves their adoption."
        ).format(count=added)
    )
    return _back(device)


@bp.post("/devices/<int:device_pk>/fork/<int:fork_id>/approve")
@roles_required()  # administrators only (and never one who asked: web.forks_approval)
def approve(device_pk: int, fork_id: int) -> ResponseReturnValue:
    return _decide(device_pk, fork_id, approved=True)


@bp.post("/devices/<int:device_pk>/fork/<int:fork_id>/refuse")
@roles_required()  # administrators only
def refuse(device_pk: int, fork_id: int) -> ResponseReturnValue:
    return _decide(device_pk, fork_id, approved=False)


def _decide(device_pk: int, fork_id: int, approved: bool) -> ResponseReturnValue:
    device = _device(device_pk)
    fork = _fork(device, fork_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session = db.session()
    seen = request.form.get("held", type=database_int)
    try:
        if approved:
            added = approve_branch(session, fork, current_user.id, seen)
        else:
            refuse_branch(session, fork, current_user.id, seen, request.form.get("reason", ""))
    except ForkError as error:
        session.rollback()
        flash(str(error))
        return _back(device)
    session.commit()
    if approved:
        flash(_("Adoption approved: {count} records of the branch will be counted.").format(
            count=added))  # fmt: skip
    else:
        flash(_("Adoption refused: the branch's records are kept apart, never counted."))
    return _back(device)


@bp.post("/devices/<int:device_pk>/fork/repair")
@roles_required()  # administrators only
def repair(device_pk: int) -> ResponseReturnValue:
    device = _device(device_pk)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    session = db.session()
    copies = _uploaded_rows()
    found = repairable(
        session, device, copies if copies is not None else evidence_rows(session, device)
    )
    for copy in found:
        repair_record(session, device, copy, current_user.id)
    session.commit()
    if found:
        flash(_("Records repaired from the device's copy: {seqs}.").format(
            seqs=", ".join(str(copy.seq) for copy in found)))  # fmt: skip
    else:
        flash(_("No record the server holds needs repairing from this copy."))
    return _back(device)


def init_app(app) -> None:
    app.register_blueprint(bp)
