"""The unit tree (province → commune/ward, any depth) and the offices of each unit."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from wtforms import SelectField, StringField, ValidationError
from wtforms.validators import DataRequired, Length

from hom_phieu.i18n import N_, _
from web import db
from web.auth import audit, roles_required, units_in_scope
from web.manage.common import (
    EDITORS,
    READERS,
    Form,
    bp,
    check_code,
    commit,
    strip,
    unit_choices,
    unit_or_404,
    unit_tree,
)
from web.models import Office, ScaleButton, Unit
from web.pages import office_or_404

TOP_LEVEL = 0
DEFAULT_SCALE = (  # what the paper ballots of the one-stop counters offer
    ("rat_hai_long", "Rất hài lòng", "very_satisfied"),
    ("hai_long", "Hài lòng", "satisfied"),
    ("khong_hai_long", "Không hài lòng", "not_satisfied"),
)


@bp.get("/")
@roles_required(*READERS)
def index():
    return redirect(url_for("manage.units"))


@bp.get("/units")
@roles_required(*READERS)
def units():
    tree = unit_tree()
    counts = dict(
        db.session().execute(select(Office.unit_id, func.count()).group_by(Office.unit_id)).all()
    )
    return render_template("manage/units.html", tree=tree, offices=counts)


class UnitForm(Form):
    parent = SelectField(coerce=int)
    code = StringField(N_("Code"), filters=[strip], validators=[DataRequired(), Length(max=40)])
    name = StringField(N_("Name"), filters=[strip], validators=[DataRequired(), Length(max=200)])
    kind = StringField(N_("Kind"), filters=[strip], validators=[DataRequired(), Length(max=40)])

    def validate_code(self, field) -> None:
        check_code(field)
        if db.session().scalar(select(Unit.id).where(Unit.code == field.data)) is not None:
            raise ValidationError(_("a unit with this code exists already"))


@bp.route("/units/new", methods=["GET", "POST"])
@roles_required()
def unit_new():
    form = UnitForm()
    form.parent.choices = unit_choices(unit_tree())
    if units_in_scope() is None:  # only an account over the whole tree may add a root
        form.parent.choices.insert(0, (TOP_LEVEL, _("— top level (a province) —")))
    if request.method == "GET":
        form.parent.data = request.args.get("parent", type=int)
    if request.method == "POST":
        if form.validate():
            parent = unit_or_404(form.parent.data) if form.parent.data != TOP_LEVEL else None
            unit = Unit(
                parent_id=parent.id if parent else None,
                code=form.code.data,
                name=form.name.data,
                kind=form.kind.data,
            )
            db.session().add(unit)
            audit("unit_added", f"unit {unit.code}", name=unit.name, kind=unit.kind,
                  parent=parent.code if parent else None)  # fmt: skip
            if commit(form.code, _("a unit with this code exists already")):
                flash(_("The unit {name} is added.").format(name=unit.name))
                return redirect(url_for("manage.units"))
        return render_template("manage/unit_new.html", form=form), 400
    return render_template("manage/unit_new.html", form=form)


@bp.get("/units/<int:unit_id>/offices")
@roles_required(*READERS)
def unit_offices(unit_id: int):
    unit = unit_or_404(unit_id)
    offices = db.session().scalars(
        select(Office).where(Office.unit_id == unit.id).order_by(Office.name)
    )
    return render_template("manage/unit_offices.html", unit=unit, offices=list(offices))


class OfficeForm(Form):
    code = StringField(N_("Code"), filters=[strip], validators=[DataRequired(), Length(max=40)])
    name = StringField(N_("Name"), filters=[strip], validators=[DataRequired(), Length(max=200)])

    def __init__(self, *args, office: Office | None = None, **kwargs) -> None:
        super().__init__(*args, obj=office, **kwargs)
        self.office = office

    def validate_code(self, field) -> None:
        check_code(field)
        taken = db.session().scalar(select(Office.id).where(Office.code == field.data))
        if taken is not None and (self.office is None or taken != self.office.id):
            raise ValidationError(_("an office with this code exists already"))


@bp.route("/units/<int:unit_id>/offices/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def office_new(unit_id: int):
    unit = unit_or_404(unit_id)
    form = OfficeForm()
    if request.method == "POST":
        if form.validate():
            office = Office(unit_id=unit.id, code=form.code.data, name=form.name.data)
            session = db.session()
            session.add(office)
            session.flush()
            for position, (name, text, level) in enumerate(DEFAULT_SCALE):
                session.add(ScaleButton(office_id=office.id, position=position, name=name,
                                        label=text, level=level))  # fmt: skip
            audit("office_added", f"office {office.code}", unit=unit.code, name=office.name,
                  scale=[name for name, _text, _level in DEFAULT_SCALE])  # fmt: skip
            if commit(form.code, _("an office with this code exists already")):
                flash(_("The office {name} is added.").format(name=office.name))
                return redirect(url_for("manage.office", office_id=office.id))
        return render_template("manage/office_form.html", form=form, unit=unit, office=None), 400
    return render_template("manage/office_form.html", form=form, unit=unit, office=None)


@bp.route("/offices/<int:office_id>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def office_edit(office_id: int):
    office = office_or_404(office_id)
    form = OfficeForm(office=office)
    if request.method == "POST":
        if form.validate():
            before = {"code": office.code, "name": office.name}
            office.code, office.name = form.code.data, form.name.data
            audit("office_changed", f"office {office.code}", before=before,
                  after={"code": office.code, "name": office.name})  # fmt: skip
            if commit(form.code, _("an office with this code exists already")):
                flash(_("The office {name} is saved.").format(name=office.name))
                return redirect(url_for("manage.office", office_id=office.id))
        return render_template(
            "manage/office_form.html", form=form, unit=office.unit, office=office
        ), 400
    return render_template("manage/office_form.html", form=form, unit=office.unit, office=office)
