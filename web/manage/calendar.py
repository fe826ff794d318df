"""The working calendar (public holidays, weekend days) and the list of procedure fields:
settings that decide when a box falls due and how clerks are grouped."""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from sqlalchemy import select
from wtforms import DateField, SelectMultipleField, StringField, ValidationError
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from hom_phieu.i18n import N_, _
from web import db
from web.auth import audit, roles_required
from web.manage.common import Form, bp, commit, strip
from web.models import Holiday, ProcedureField, Setting
from web.opening import WEEKEND_SETTING, weekend_days


class FieldForm(Form):
    name = StringField(filters=[strip], validators=[DataRequired(), Length(max=200)])

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
                return redirect(url_for("manage.fields"))
        status = 400
    found = db.session().scalars(select(ProcedureField).order_by(ProcedureField.name))
    return render_template("manage/fields.html", form=form, fields=list(found)), status


class HolidayForm(Form):
    day = DateField(validators=[DataRequired()])
    name = StringField(filters=[strip], validators=[DataRequired(), Length(max=200)])


WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"),
            N_("Saturday"), N_("Sunday"))  # fmt: skip


class WeekendForm(Form):
    days = SelectMultipleField(
        coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.days.choices = [(number, _(name)) for number, name in enumerate(WEEKDAYS)]

    def validate_days(self, field) -> None:
        if len(field.data or []) >= len(WEEKDAYS):
            raise ValidationError(_("at least one day of the week must be a working day"))


def _calendar_page(holiday_form: HolidayForm, weekend_form: WeekendForm, status: int = 200):
    found = db.session().scalars(select(Holiday).order_by(Holiday.day.desc()))
    return render_template("manage/holidays.html", form=holiday_form, weekend_form=weekend_form,
                           holidays=list(found)), status  # fmt: skip


@bp.route("/holidays", methods=["GET", "POST"])
@roles_required()
def holidays():
    """Public holidays: a box falls due on its month's last working day; the weekend days
    (Saturday and Sunday unless changed) and these days are not working days."""
    form = HolidayForm()
    weekend = WeekendForm(formdata=None, days=sorted(weekend_days(db.session())))
    if form.is_submitted():
        if form.validate():
            db.session().add(Holiday(day=form.day.data, name=form.name.data))
            audit("holiday_added", form.day.data.isoformat(), name=form.name.data)
            if commit(form.day, _("this day is a holiday already")):
                return redirect(url_for("manage.holidays"))
        return _calendar_page(form, weekend, 400)
    return _calendar_page(form, weekend)


@bp.post("/weekend")
@roles_required()
def weekend():
    form = WeekendForm()
    if not form.validate():
        return _calendar_page(HolidayForm(formdata=None), form, 400)
    session = db.session()
    setting = session.get(Setting, WEEKEND_SETTING) or Setting(key=WEEKEND_SETTING)
    before = sorted(weekend_days(session))
    setting.value = {"days": sorted(set(form.days.data))}
    session.add(setting)
    audit("weekend_changed", WEEKEND_SETTING, before=before, after=setting.value["days"])
    session.commit()
    return redirect(url_for("manage.holidays"))


@bp.post("/holidays/<int:holiday_id>/remove")
@roles_required()
def holiday_remove(holiday_id: int):
    holiday = db.session().get(Holiday, holiday_id) or abort(404)
    audit("holiday_removed", holiday.day.isoformat(), name=holiday.name)
    db.session().delete(holiday)
    db.session().commit()
    return redirect(url_for("manage.holidays"))
