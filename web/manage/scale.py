"""An office's rating scale: 2–5 ordered buttons, each mapped to one of the statutory
three levels. Kiosks store the button pressed; reports map it to its level."""

from __future__ import annotations

from flask import redirect, render_template, url_for
from sqlalchemy import delete
from wtforms import FieldList, FormField, SelectField, StringField, ValidationError
from wtforms.validators import Length

from hom_phieu.i18n import _
from web import db
from web.auth import audit, roles_required
from web.labels import LEVEL_LABELS
from web.manage.common import (
    EDITORS,
    IDENTIFIER,
    LEVELS,
    Form,
    SubForm,
    bp,
    choices,
    strip,
)
from web.models import Office, ScaleButton
from web.pages import office_or_404

MIN_BUTTONS, MAX_BUTTONS = 2, 5


class ButtonForm(SubForm):
    name = StringField(filters=[strip], validators=[Length(max=40)])
    label = StringField(filters=[strip], validators=[Length(max=100)])
    level = SelectField(validate_choice=False)  # checked below, only on filled rows

    @property
    def blank(self) -> bool:
        return not self.name.data and not self.label.data

    def validate_name(self, field) -> None:
        if self.blank:
            return
        if not field.data:
            raise ValidationError(_("give the button a name"))
        if not IDENTIFIER.fullmatch(field.data):
            raise ValidationError(_("use only a-z, 0-9 and _"))

    def validate_label(self, field) -> None:
        if not self.blank and not field.data:
            raise ValidationError(_("give the button a label"))

    def validate_level(self, field) -> None:
        if not self.blank and field.data not in LEVELS:
            raise ValidationError(_("choose one of the three levels"))


class ScaleForm(Form):
    # No max_entries: WTForms would silently drop the rows past it; too many is an error.
    buttons = FieldList(FormField(ButtonForm), min_entries=MAX_BUTTONS)

    def __init__(self, *args, office: Office, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_submitted():
            for entry, button in zip(self.buttons, office.scale, strict=False):
                entry.form.name.data = button.name
                entry.form.label.data = button.label
                entry.form.level.data = button.level
        for entry in self.buttons:
            entry.form.level.choices = choices(LEVEL_LABELS)

    def filled(self) -> list[ButtonForm]:
        return [entry.form for entry in self.buttons if not entry.form.blank]

    def validate_buttons(self, field) -> None:
        filled = self.filled()
        if not MIN_BUTTONS <= len(filled) <= MAX_BUTTONS:
            raise ValidationError(
                _("a scale has {low} to {high} buttons").format(low=MIN_BUTTONS, high=MAX_BUTTONS)
            )
        names = [button.name.data for button in filled]
        if len(set(names)) != len(names):
            raise ValidationError(_("each button needs its own name"))


@bp.route("/offices/<int:office_id>/scale", methods=["GET", "POST"])
@roles_required(*EDITORS)
def scale(office_id: int):
    office = office_or_404(office_id)
    form = ScaleForm(office=office)
    if not form.is_submitted():
        return render_template("manage/scale.html", form=form, office=office)
    if not form.validate():
        return render_template("manage/scale.html", form=form, office=office), 400
    session = db.session()
    before = [[b.name, b.label, b.level] for b in office.scale]
    # Replaced whole, in one transaction: the old rows go first (names are unique per office).
    session.execute(delete(ScaleButton).where(ScaleButton.office_id == office.id))
    after = []
    for position, button in enumerate(form.filled()):
        row = [button.name.data, button.label.data, button.level.data]
        session.add(ScaleButton(office_id=office.id, position=position, name=row[0],
                                label=row[1], level=row[2]))  # fmt: skip
        after.append(row)
    audit("scale_changed", f"office {office.code}", before=before, after=after)
    session.commit()
    return redirect(url_for("manage.office", office_id=office.id) + "#scale")
