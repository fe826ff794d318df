"""The working calendar (public holidays, weekend days) and the list of procedure fields:
settings that decide when a box falls due and how clerks are grouped.

A calendar belongs to a unit and reaches only the offices under it (``web.unit_calendar``):
an administrator edits those of the units in his scope; the national defaults only an
administrator over the whole tree. Every change is audited with its unit, and listed in the
checklist and the minutes of the boxes it may move (``web.month_changes``).
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from wtforms import BooleanField, SelectMultipleField, StringField, ValidationError
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from hom_phieu.i18n import N_, _
from web import db
from web.auth import audit, roles_required, units_in_scope
from web.ceremony_calendar import WEEKDAY_NAMES
from web.confirm import ConfirmForm, ask, confirmed
from web.form_input import DAY_FORMAT, DayField
from web.manage.common import Form, bp, commit, strip, unit_or_404, unit_tree
from web.models import Holiday, ProcedureField, Setting, Unit
from web.month_changes import ChangeKind
from web.unit_calendar import WEEKEND_SETTING, calendar_of, unit_chain


class FieldForm(Form):
    name = StringField(
        N_("Procedure field"), filters=[strip], validators=[DataRequired(), Length(max=200)]
    )

    def validate_name(self, field) -> None:
        taken = db.session().scalar(
            select(ProcedureField.id).where(ProcedureField.name == field.data)
        )
        if taken is not None:
            raise ValidationError(_("this field exists already"))


@bp.route("/fields", methods=["GET", "POST"])
@roles_required()
def fields():
    form = FieldForm()
    status = 200
    if form.is_submitted():
        if form.validate():
            db.session().add(ProcedureField(name=form.name.data))
            audit("procedure_field_added", form.name.data)
            if commit(form.name, _("this field exists already")):
                flash(_("The procedure field “{name}” is added.").format(name=form.name.data))
                return redirect(url_for("manage.fields"))
        status = 400
    found = db.session().scalars(select(ProcedureField).order_by(ProcedureField.name))
    return render_template("manage/fields.html", form=form, fields=list(found)), status


class HolidayForm(Form):
    day = DayField(validators=[InputRequired()])  # dd/mm/yyyy whatever the browser's locale
    name = StringField(N_("Name"), filters=[strip], validators=[DataRequired(), Length(max=200)])

    def __init__(self, *args, unit: Unit | None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.unit = unit

    def validate_day(self, field) -> None:
        if field.data is not None and _holiday(self.unit, field.data) is not None:
            raise ValidationError(_("this day is a holiday already"))


def _holiday(unit: Unit | None, day: date) -> Holiday | None:
    where = Holiday.unit_id.is_(None) if unit is None else Holiday.unit_id == unit.id
    return db.session().scalar(select(Holiday).where(where, Holiday.day == day))


class WeekendForm(Form):
    days = SelectMultipleField(
        coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )
    inherit = BooleanField()  # a unit's only: use the weekend days of the unit above

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.days.choices = [(number, _(name)) for number, name in enumerate(WEEKDAY_NAMES)]

    def validate_days(self, field) -> None:
        if not self.inherit.data and len(set(field.data or [])) >= len(WEEKDAY_NAMES):
            raise ValidationError(_("at least one day of the week must be a working day"))


def _unit_in_scope(unit_id: int | None) -> Unit | None:
    """The unit whose calendar is asked for (None: the national defaults, which only an
    administrator over the whole tree may set); 404 for a unit outside the scope."""
    if unit_id is None:
        if units_in_scope() is not None:
            abort(403)
        return None
    return unit_or_404(unit_id)


def _target(unit: Unit | None) -> str:
    return f"unit {unit.code}" if unit is not None else "national"


def _page(unit: Unit | None, holiday_form: HolidayForm | None = None,
          weekend_form: WeekendForm | None = None, status: int = 200):  # fmt: skip
    """The calendar of ``unit`` (or the national one): what applies there and where it
    comes from, what the unit sets itself, and the units below to go to."""
    session = db.session()
    unit_id = unit.id if unit is not None else None
    calendar = calendar_of(session, unit_id)
    chain = unit_chain(session, unit_id)
    found = session.scalars(
        select(Holiday)
        .where(Holiday.unit_id.is_(None) | Holiday.unit_id.in_([u.id for u in chain]))
        .order_by(Holiday.day.desc())
    )
    holidays = list(found)
    own = [h for h in holidays if h.unit_id == unit_id]
    inherited = [h for h in holidays if h.unit_id != unit_id]
    names = {u.id: u.name for u in chain}
    weekend = weekend_form or WeekendForm(
        formdata=None,
        days=sorted(calendar.weekend),
        inherit=unit is not None and unit.weekend is None,
    )
    return render_template(
        "manage/holidays.html",
        unit=unit,
        form=holiday_form or HolidayForm(formdata=None, unit=unit),
        weekend_form=weekend,
        weekend_unit=calendar.weekend_unit,
        own=own,
        inherited=inherited,
        source=lambda holiday: names.get(holiday.unit_id) if holiday.unit_id else None,
        tree=unit_tree(),
    ), status


@bp.route("/holidays", methods=["GET", "POST"], defaults={"unit_id": None})
@bp.route("/units/<int:unit_id>/holidays", methods=["GET", "POST"])
@roles_required()
def holidays(unit_id: int | None):
    """Public holidays: a box falls due on its month's last working day; the weekend days
    (Saturday and Sunday unless changed) and these days are not working days."""
    scope = units_in_scope()
    if unit_id is None and scope is not None and request.method == "GET":
        return redirect(url_for("manage.holidays", unit_id=scope[0]))  # their own unit's
    unit = _unit_in_scope(unit_id)
    form = HolidayForm(unit=unit)
    if not form.is_submitted():
        return _page(unit)
    if not form.validate():
        return _page(unit, holiday_form=form, status=400)
    db.session().add(Holiday(unit_id=unit.id if unit else None, day=form.day.data,
                             name=form.name.data))  # fmt: skip
    audit(ChangeKind.HOLIDAY_ADDED, _target(unit), unit_id=unit.id if unit else None,
          day=form.day.data.isoformat(), name=form.name.data)  # fmt: skip
    if not commit(form.day, _("this day is a holiday already")):
        return _page(unit, holiday_form=form, status=400)
    flash(_("The holiday {day} ({name}) is added.").format(
        day=form.day.data.strftime(DAY_FORMAT), name=form.name.data))  # fmt: skip
    return redirect(url_for("manage.holidays", unit_id=unit_id))


@bp.post("/weekend", defaults={"unit_id": None})
@bp.post("/units/<int:unit_id>/weekend")
@roles_required()
def weekend(unit_id: int | None):
    unit = _unit_in_scope(unit_id)
    form = WeekendForm()
    if unit is None:
        form.inherit.data = False  # the national defaults inherit from nothing
    if not form.validate():
        return _page(unit, weekend_form=form, status=400)
    session = db.session()
    days = None if form.inherit.data else sorted(set(form.days.data))
    before = sorted(calendar_of(session, unit_id).weekend)
    if unit is None:
        setting = session.get(Setting, WEEKEND_SETTING) or Setting(key=WEEKEND_SETTING)
        changed = setting.value != {"days": days}
        setting.value = {"days": days}
        session.add(setting)
    else:
        changed, unit.weekend = unit.weekend != days, days
    if changed:
        after = sorted(calendar_of(session, unit_id).weekend)
        audit(ChangeKind.WEEKEND_CHANGED, _target(unit), unit_id=unit_id, before=before,
              after=after, own=days)  # fmt: skip
        session.commit()
    flash(_("The weekend days are saved."))
    return redirect(url_for("manage.holidays", unit_id=unit_id))


@bp.route("/holidays/<int:holiday_id>/remove", methods=["GET", "POST"])
@roles_required()
def holiday_remove(holiday_id: int):
    """Asks first (``web.confirm``): the day becomes a working day again, which may move
    a box's due day; undone by adding it again."""
    holiday = db.session().get(Holiday, holiday_id) or abort(404)
    unit_id = holiday.unit_id
    unit = _unit_in_scope(unit_id)
    day = holiday.day.strftime(DAY_FORMAT)
    form = ConfirmForm()
    if not confirmed(form):
        return ask(
            form,
            title=_("Remove a public holiday"),
            text=_("{day} ({name}) will be a working day again; a box due near it may fall "
                   "due on another day.").format(day=day, name=holiday.name),
            undo=_("This can be undone by adding the holiday again."),
            button=_("Remove the holiday"),
            cancel=url_for("manage.holidays", unit_id=unit_id),
        )  # fmt: skip
    audit(ChangeKind.HOLIDAY_REMOVED, _target(unit), unit_id=unit_id,
          day=holiday.day.isoformat(), name=holiday.name)  # fmt: skip
    db.session().delete(holiday)
    db.session().commit()
    flash(_("The holiday {day} ({name}) is removed.").format(day=day, name=holiday.name))
    return redirect(url_for("manage.holidays", unit_id=unit_id))
