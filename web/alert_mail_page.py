"""The alert e-mail's pages: the SMTP settings (``/manage/alert-mail``, administrators of
the whole tree, with a "send a test e-mail" button), an account's address for alerts
(``/manage/users/<id>/alert-mail``, administrators within their unit) and one's own choice
to receive them (``/account/alert-mail``, everyone). CSRF on every form; every change is
audited (never the password, which is never shown back: ``web.alert_mail_settings``).
The test e-mail is the only mail sent from a request, with a short timeout; its failure
is named (connection refused, login refused …), never a 500.
"""

from __future__ import annotations

import re

from flask import Blueprint, Flask, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from wtforms import (
    BooleanField,
    PasswordField,
    SelectField,
    StringField,
    ValidationError,
)
from wtforms.validators import DataRequired, Length

from hom_phieu.i18n import N_, _
from web import alert_mail, alert_mail_settings, db
from web.alert_mail_compose import Connection, explain, trial_message
from web.alert_mail_settings import PER_HOUR, SmtpSettings, email_address, password_source
from web.auth import audit, roles_required, units_in_scope
from web.manage.accounts import user_or_404
from web.manage.common import Form, strip
from web.models import User

bp = Blueprint("alert_mail", __name__)
WEB_ADDRESS = re.compile(r"https?://[^\s/]+(/\S*)?")
SECURITY_LABELS = {"starttls": N_("STARTTLS (usually port 587)"),
                   "ssl": N_("SSL/TLS (usually port 465)"),
                   "none": N_("none (a relay on this machine or its network only)")}  # fmt: skip


def _whole(field: StringField, low: int, high: int) -> None:
    text = field.data or ""
    if not text.isascii() or not text.isdigit() or len(text) > 6 or not low <= int(text) <= high:
        raise ValidationError(_("enter a whole number from {low} to {high}").format(
            low=low, high=high))  # fmt: skip


def _web_address(_form: Form, field: StringField) -> None:
    if field.data and (len(field.data) > 300 or not WEB_ADDRESS.fullmatch(field.data)):
        raise ValidationError(_("enter an address starting with https://"))


class SettingsForm(Form):
    enabled = BooleanField()
    host = StringField(filters=[strip], validators=[Length(max=253)])
    port = StringField(filters=[strip], validators=[lambda f, field: _whole(field, 1, 65535)])
    security = SelectField()
    user = StringField(filters=[strip], validators=[Length(max=254)])
    password = PasswordField(validators=[Length(max=200)])  # empty: keep the stored one
    forget_password = BooleanField()
    sender = StringField(filters=[strip], validators=[email_address])
    base_url = StringField(filters=[strip], validators=[_web_address])
    per_hour = StringField(filters=[strip], validators=[lambda f, field: _whole(field, *PER_HOUR)])

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.security.choices = [(key, _(text)) for key, text in SECURITY_LABELS.items()]


class TestForm(Form):
    to = StringField(filters=[strip], validators=[DataRequired(), email_address])


class AddressForm(Form):
    email = StringField(filters=[strip], validators=[email_address])
    alert_mail = BooleanField()


class ChoiceForm(Form):
    alert_mail = BooleanField()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _whole_tree_admin() -> None:
    if units_in_scope() is not None:
        abort(403)  # one server's mail settings: not for an administrator of one unit


def _render(form: SettingsForm, test: TestForm, settings: SmtpSettings, status: int = 200):
    count, error = alert_mail.waiting(db.session())
    page = render_template("alert_mail/settings.html", form=form, test=test,
                           source=password_source(settings), waiting=count,
                           last_error=error)  # fmt: skip
    return page, status


@bp.route("/manage/alert-mail", methods=["GET", "POST"])
@roles_required()
def settings():
    _whole_tree_admin()
    session = db.session()
    stored = alert_mail_settings.load(session)
    test = TestForm(formdata=None, data={"to": current_user.user.email or ""})
    form = SettingsForm()
    if not form.is_submitted():
        form = SettingsForm(formdata=None, data=_public(stored))
        return _render(form, test, stored)
    if not form.validate():
        return _render(form, test, stored, 400)
    chosen = SmtpSettings(
        host=form.host.data or "", port=int(form.port.data), security=form.security.data,
        user=form.user.data or "", sender=form.sender.data or "",
        base_url=(form.base_url.data or "").rstrip("/"), per_hour=int(form.per_hour.data),
        enabled=bool(form.enabled.data), password_sealed=stored.password_sealed,
    )  # fmt: skip
    if form.forget_password.data:
        chosen = alert_mail_settings.with_password(chosen, None)
    elif form.password.data:
        chosen = alert_mail_settings.with_password(chosen, form.password.data)
    alert_mail_settings.save(session, chosen)
    changed = chosen.password_sealed != stored.password_sealed  # (whether, never what)
    audit("alert_mail_settings_changed", "alert mail", before=_public(stored),
          after=_public(chosen), password_changed=changed)  # fmt: skip
    session.commit()
    flash(_("The e-mail settings are saved."))
    return redirect(url_for("alert_mail.settings"))


@bp.post("/manage/alert-mail/test")
@roles_required()
def send_test():
    _whole_tree_admin()
    stored = alert_mail_settings.load(db.session())
    test = TestForm()
    form = SettingsForm(formdata=None, data=_public(stored))
    if not test.validate():
        return _render(form, test, stored, 400)
    if not stored.host or not stored.sender:
        test.to.errors = [_("Save the SMTP server and the sender address first.")]
        return _render(form, test, stored, 400)
    connection = Connection(stored)
    try:
        connection.send(trial_message(stored, test.to.data))
    except Exception as error:  # (named for the administrator; never a 500)
        test.to.errors = [explain(error, stored)]
        return _render(form, test, stored, 400)
    finally:
        connection.close()
    audit("alert_mail_test_sent", "alert mail", to=test.to.data)
    db.session().commit()
    flash(_("A test e-mail was sent to {address}.").format(address=test.to.data))
    return redirect(url_for("alert_mail.settings"))


@bp.route("/manage/users/<int:user_id>/alert-mail", methods=["GET", "POST"])
@roles_required()
def user_address(user_id: int):
    user = user_or_404(user_id)
    form = AddressForm()
    if not form.is_submitted():
        form = AddressForm(formdata=None, data={"email": user.email or "",
                                                "alert_mail": user.alert_mail})  # fmt: skip
        return render_template("alert_mail/user.html", form=form, user=user)
    if not form.validate():
        return render_template("alert_mail/user.html", form=form, user=user), 400
    before = {"email": user.email, "alert_mail": user.alert_mail}
    user.email, user.alert_mail = form.email.data or None, bool(form.alert_mail.data)
    audit("user_alert_mail_changed", f"user {user.username}", before=before,
          after={"email": user.email, "alert_mail": user.alert_mail})  # fmt: skip
    db.session().commit()
    flash(_("The alert e-mail of {name} is saved.").format(name=user.username))
    return redirect(url_for("manage.users"))


@bp.route("/account/alert-mail", methods=["GET", "POST"])
@login_required
def own_choice():
    form = ChoiceForm()
    if not form.is_submitted():
        form = ChoiceForm(formdata=None, data={"alert_mail": current_user.user.alert_mail})
    elif form.validate():
        return _own_choice(form)
    return render_template(
        "alert_mail/account.html", form=form, email=current_user.user.email
    ), 200 if not form.errors else 400


def _own_choice(form: ChoiceForm):
    user = db.session().get(User, current_user.id)
    if user is None:
        abort(404)
    if user.alert_mail != bool(form.alert_mail.data):
        user.alert_mail = bool(form.alert_mail.data)
        audit("own_alert_mail_changed", f"user {user.username}", alert_mail=user.alert_mail)
        db.session().commit()
    flash(_("You will receive alerts by e-mail.") if user.alert_mail
          else _("You will no longer receive alerts by e-mail."))  # fmt: skip
    return redirect(url_for("alert_mail.own_choice"))


def _public(settings: SmtpSettings) -> dict:
    """What the form shows and the audit keeps: everything but the password."""
    return {"enabled": settings.enabled, "host": settings.host, "port": settings.port,
            "security": settings.security, "user": settings.user, "sender": settings.sender,
            "base_url": settings.base_url, "per_hour": settings.per_hour}  # fmt: skip
