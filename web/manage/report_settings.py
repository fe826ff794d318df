"""The report settings page (``/manage/report-settings``): the two numbers that keep the
reports fair (``web.report_settings``), the minimum number of ballots before the emulation
table ranks a clerk or an office, and the smallest cell the public pages show.

Both reach every unit, so only an administrator over the whole tree may change them (like
the national calendar: an administrator of one unit gets 403). Every change is audited
with the numbers before and after.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from wtforms import StringField, ValidationError

from hom_phieu.i18n import _
from web import db
from web.auth import audit, roles_required, units_in_scope
from web.manage.common import Form, bp, strip
from web.report_settings import (
    LIMITS,
    PUBLIC_MINIMUM,
    RANKING_MINIMUM,
    public_minimum,
    ranking_minimum,
    set_minimum,
)


def _whole_number(_form: Form, field: StringField) -> None:
    """A whole number within the settings' limits; the message says which."""
    text = field.data or ""
    low, high = LIMITS
    if not text.isascii() or not text.isdigit() or len(text) > 6 or not low <= int(text) <= high:
        words = _("enter a whole number from {low} to {high}")
        raise ValidationError(words.format(low=low, high=f"{high:,}".replace(",", ".")))


class ReportSettingsForm(Form):
    ranking_minimum = StringField(filters=[strip], validators=[_whole_number])
    public_minimum = StringField(filters=[strip], validators=[_whole_number])


@bp.route("/report-settings", methods=["GET", "POST"])
@roles_required()
def report_settings():
    if units_in_scope() is not None:
        abort(403)  # settings of the whole tree: not for an administrator of one unit
    session = db.session()
    before = {"ranking_minimum": ranking_minimum(session),
              "public_minimum": public_minimum(session)}  # fmt: skip
    form = ReportSettingsForm()
    if not form.is_submitted():
        form = ReportSettingsForm(formdata=None, data={k: str(v) for k, v in before.items()})
        return render_template("manage/report_settings.html", form=form)
    if not form.validate():
        return render_template("manage/report_settings.html", form=form), 400
    after = {"ranking_minimum": int(form.ranking_minimum.data),
             "public_minimum": int(form.public_minimum.data)}  # fmt: skip
    if after != before:
        set_minimum(session, RANKING_MINIMUM, after["ranking_minimum"])
        set_minimum(session, PUBLIC_MINIMUM, after["public_minimum"])
        audit("report_settings_changed", "reports", before=before, after=after)
        session.commit()
        flash(
            _(
                "The report settings are saved: at least {ranking} ballots to be ranked, "
                "figures of fewer than {public} ballots hidden on public pages."
            ).format(ranking=after["ranking_minimum"], public=after["public_minimum"])
        )
    else:
        flash(_("Nothing changed: the report settings are as they were."))
    return redirect(url_for("manage.report_settings"))
