"""Counters retired and put back in service.

A counter is never deleted (past ballots and minutes name it): retired, it is no longer
offered for new devices (``web.pages.device_new``) nor for clerks, and the server refuses it
there; the devices and clerks already at it keep it until they are moved. Retiring asks
first (``web.confirm``) and is undone by putting the counter back in service.
"""

from __future__ import annotations

from flask import abort, flash, redirect, url_for
from sqlalchemy import func, select

from hom_phieu.i18n import _
from web import clock, db
from web.auth import audit, roles_required
from web.confirm import ConfirmForm, ask, confirmed
from web.manage.common import EDITORS, bp
from web.models import Clerk, Counter, Device
from web.pages import office_or_404


def counter_or_404(counter_id: int) -> Counter:
    counter = db.session().get(Counter, counter_id) or abort(404)
    office_or_404(counter.office_id)
    return counter


def _back(counter: Counter) -> str:
    return url_for("manage.office", office_id=counter.office_id) + "#counters"


def _still_at(counter: Counter) -> list[str]:
    """What still uses the counter: devices not revoked, active clerks."""
    session = db.session()
    devices = session.scalar(
        select(func.count())
        .select_from(Device)
        .where(Device.counter_id == counter.id, Device.status != "revoked")
    )
    clerks = session.scalar(
        select(func.count())
        .select_from(Clerk)
        .where(Clerk.counter_id == counter.id, Clerk.active.is_(True))
    )
    lines = []
    if devices:
        lines.append(_("devices still at this counter: {count}").format(count=devices))
    if clerks:
        lines.append(_("active clerks still at this counter: {count}").format(count=clerks))
    return lines


@bp.route("/counters/<int:counter_id>/retire", methods=["GET", "POST"])
@roles_required(*EDITORS)
def counter_retire(counter_id: int):
    counter = counter_or_404(counter_id)
    if counter.retired_at is not None:
        flash(_("The counter “{name}” is retired already.").format(name=counter.name))
        return redirect(_back(counter))
    form = ConfirmForm()
    if not confirmed(form):
        return ask(
            form,
            title=_("Retire a counter"),
            text=_("The counter “{name}” will no longer be offered for new devices and "
                   "clerks; past ballots and minutes keep its name.").format(name=counter.name),
            details=_still_at(counter),
            undo=_("This can be undone: the counter can be put back in service from the "
                   "office's page."),
            button=_("Retire the counter"),
            cancel=_back(counter),
        )  # fmt: skip
    counter.retired_at = clock.now()
    audit("counter_retired", f"counter {counter.id}", office=counter.office.code,
          name=counter.name)  # fmt: skip
    db.session().commit()
    flash(_("The counter “{name}” is retired; “Put back in service” undoes it.").format(
        name=counter.name))  # fmt: skip
    return redirect(_back(counter))


@bp.post("/counters/<int:counter_id>/unretire")
@roles_required(*EDITORS)
def counter_unretire(counter_id: int):
    counter = counter_or_404(counter_id)
    if not confirmed(ConfirmForm()):
        abort(400)
    if counter.retired_at is not None:
        counter.retired_at = None
        audit("counter_unretired", f"counter {counter.id}", office=counter.office.code,
              name=counter.name)  # fmt: skip
        db.session().commit()
    flash(_("The counter “{name}” is in service again.").format(name=counter.name))
    return redirect(_back(counter))
