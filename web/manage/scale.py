"""An office's rating scale: 2–5 ordered buttons, each mapped to one of the statutory
three levels. Kiosks record each vote with the level its button had then.

Only an administrator (within his scope) changes a scale, and a button whose label or name
names a level (``web.scale_labels``) counts as that level. Every change is in the audit log
with the office (listed in the checklist and the minutes of the box's month:
``web.month_changes``), and it changes the office's device configuration, whose version is
the digest of its scale among the rest: each kiosk fetches it and records an EVENT
``config_change``.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import delete
from wtforms import FieldList, FormField, SelectField, StringField, ValidationError
from wtforms.validators import Length

from hom_phieu.i18n import N_, _
from web import db
from web.auth import audit, roles_required
from web.labels import LEVEL_LABELS, label
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
from web.models import Office, Role, ScaleButton
from web.month_changes import ChangeKind
from web.pages import office_or_404
from web.scale_labels import level_named

MIN_BUTTONS, MAX_BUTTONS = 2, 5


class ButtonForm(SubForm):
    name = StringField(N_("Name (a-z, 0-9, _)"), filters=[strip], validators=[Length(max=40)])
    label = StringField(N_("Label on the kiosk"), filters=[strip], validators=[Length(max=100)])
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
        if self.blank:
            return
        if field.data not in LEVELS:
            raise ValidationError(_("choose one of the three levels"))
        # A citizen reads the label (and the kiosk's buttons are wired by name): one that
        # names a level counts as that level, never as another.
        for words, message in (
            (self.label.data, _("the label names the level {named}: it cannot count as {level}")),
            (self.name.data, _("the name names the level {named}: it cannot count as {level}")),
        ):
            named = level_named(words or "")
            if named is not None and named != field.data:
                raise ValidationError(
                    message.format(
                        named=label(LEVEL_LABELS, named), level=label(LEVEL_LABELS, field.data)
                    )
                )


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


def can_edit_scale() -> bool:
    """Only administrators change scales: a technician sets kiosks up, not what votes mean."""
    return bool(current_user.is_authenticated and current_user.role == Role.ADMIN)


@bp.app_context_processor
def scale_rights() -> dict:
    return {"can_edit_scale": can_edit_scale}


@bp.route("/offices/<int:office_id>/scale", methods=["GET", "POST"])
@roles_required(*EDITORS)
def scale(office_id: int):
    office = office_or_404(office_id)  # first: another commune's office stays a 404
    if not can_edit_scale():
        abort(403)
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
    if after == before:
        session.rollback()  # saved unchanged: nothing to record, nothing to list
        flash(_("Nothing changed: the rating scale is as it was."))
    else:
        audit(ChangeKind.SCALE_CHANGED, f"office {office.code}", office_id=office.id,
              before=before, after=after)  # fmt: skip
        session.commit()
        flash(_("The rating scale is saved."))
    return redirect(url_for("manage.office", office_id=office.id) + "#scale")
