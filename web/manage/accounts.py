"""Accounts (administrators only, within their unit)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms import (
    PasswordField,
    SelectField,
    StringField,
    ValidationError,
)
from wtforms.validators import DataRequired, Length

from hom_phieu.i18n import LANGUAGES, N_, _
from web import committee_codes, db, passwords, user_sessions
from web.alert_mail_settings import email_address
from web.auth import audit, create_user, roles_required, set_password, units_in_scope
from web.confirm import ConfirmForm, ask, confirmed
from web.manage.common import (
    LANGUAGE_LABELS,
    ROLE_LABELS,
    USERNAME,
    Form,
    bp,
    choices,
    commit,
    strip,
    unit_choices,
    unit_tree,
)
from web.models import User

WHOLE_TREE = 0


def _check_password(field, of: passwords.Owner) -> None:
    """The rules of ``web.passwords``, shown next to the field."""
    reason = passwords.refusal(field.data or "", of)
    if reason is not None:
        raise ValidationError(reason)


class UserForm(Form):
    username = StringField(
        N_("Account name"), filters=[strip], validators=[DataRequired(), Length(max=80)]
    )
    display_name = StringField(
        N_("Full name"), filters=[strip], validators=[DataRequired(), Length(max=200)]
    )
    role = SelectField(validators=[DataRequired()])
    unit = SelectField(coerce=int)
    language = SelectField(validators=[DataRequired()])
    password = PasswordField(N_("Initial password"), validators=[DataRequired(), Length(max=200)])
    email = StringField(filters=[strip], validators=[email_address])  # (web.alert_mail)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = choices(ROLE_LABELS)
        self.unit.choices = unit_choices(unit_tree())
        if units_in_scope() is None:
            self.unit.choices.insert(0, (WHOLE_TREE, _("— the whole tree —")))
        self.language.choices = [(code, LANGUAGE_LABELS[code]) for code in LANGUAGES]

    def validate_username(self, field) -> None:
        if not USERNAME.fullmatch(field.data):
            raise ValidationError(_("use 3 to 80 of a-z, 0-9, '.', '_' and '-'"))
        if db.session().scalar(select(User.id).where(User.username == field.data)):
            raise ValidationError(_("the account {name} exists already").format(name=field.data))

    def validate_password(self, field) -> None:
        of = passwords.owner(self.username.data or "", self.display_name.data or "",
                               self.unit.data or None)  # fmt: skip
        _check_password(field, of)


class PasswordForm(Form):
    password = PasswordField(N_("New password"), validators=[DataRequired(), Length(max=200)])
    confirm = PasswordField(
        N_("The new password again"), validators=[DataRequired(), Length(max=200)]
    )

    def __init__(self, user: User, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.of = passwords.owner(user.username, user.display_name, user.unit_id)

    def validate_password(self, field) -> None:
        _check_password(field, self.of)

    def validate_confirm(self, field) -> None:
        if field.data != self.password.data:
            raise ValidationError(_("the two passwords differ"))


def users_in_scope() -> list[User]:
    query = select(User).order_by(User.username)
    scope = units_in_scope()
    if scope is not None:
        query = query.where(User.unit_id.in_(scope))
    return list(db.session().scalars(query))


def user_or_404(user_id: int) -> User:
    user = db.session().get(User, user_id)
    scope = units_in_scope()
    if user is None or (scope is not None and user.unit_id not in scope):
        abort(404)
    return user


@bp.get("/users")
@roles_required()
def users():
    return render_template("manage/users.html", users=users_in_scope())


@bp.route("/users/new", methods=["GET", "POST"])
@roles_required()
def user_new():
    form = UserForm()
    if not form.is_submitted():
        form.language.data = "vi"
        return render_template("manage/user_new.html", form=form)
    if form.validate():
        try:
            user = create_user(
                form.username.data,
                form.password.data,
                form.display_name.data,
                form.role.data,
                form.unit.data or None,
            )
        except ValueError as error:  # raced by another administrator
            db.session().rollback()
            form.username.errors = [*form.username.errors, str(error)]
        else:
            user.language = form.language.data
            user.email = form.email.data or None  # (web.alert_mail)
            audit("user_added", f"user {user.username}", role=user.role,
                  unit=user.unit.code if user.unit else None, language=user.language)  # fmt: skip
            if commit(form.username, _("the account {name} exists already").format(
                name=form.username.data
            )):  # fmt: skip
                flash(_("The account {name} is created.").format(name=user.username))
                return redirect(url_for("manage.users"))
    return render_template("manage/user_new.html", form=form), 400


@bp.route("/users/<int:user_id>/deactivate", methods=["GET", "POST"])
@roles_required()
def user_deactivate(user_id: int):
    """Asks first (``web.confirm``); undone by reactivating."""
    user = user_or_404(user_id)
    if user.id == current_user.id:
        abort(400)  # the form is not offered for one's own account
    form = ConfirmForm()
    if user.active and not confirmed(form):
        return ask(
            form,
            title=_("Deactivate an account"),
            text=_("{name} ({username}) will be logged out everywhere at once and can no "
                   "longer log in.").format(name=user.display_name, username=user.username),
            undo=_("This can be undone: the account can be reactivated from the list of "
                   "accounts (its password stays the same)."),
            button=_("Deactivate the account"),
            cancel=url_for("manage.users"),
        )  # fmt: skip
    return _set_active(user, False)


@bp.post("/users/<int:user_id>/reactivate")
@roles_required()
def user_reactivate(user_id: int):
    return _set_active(user_or_404(user_id), True)


def _set_active(user: User, active: bool):
    """Accounts are deactivated, never deleted: the audit log names them."""
    if user.active != active:
        user.active = active
        if not active:
            user_sessions.revoke_all(db.session(), user.id)  # logged out everywhere at once
        audit("user_reactivated" if active else "user_deactivated", f"user {user.username}")
        db.session().commit()
    if active:
        flash(_("The account {name} is active again.").format(name=user.username))
    else:
        flash(_("The account {name} is deactivated; “Reactivate” below undoes it.").format(
            name=user.username))  # fmt: skip
    return redirect(url_for("manage.users"))


@bp.route("/users/<int:user_id>/password", methods=["GET", "POST"])
@roles_required()
def user_password(user_id: int):
    user = user_or_404(user_id)
    form = PasswordForm(user)
    if not form.is_submitted():
        return render_template("manage/user_password.html", form=form, user=user)
    if not form.validate():
        return render_template("manage/user_password.html", form=form, user=user), 400
    set_password(user, passwords.hash_password(form.password.data, form.of))  # ends its sessions
    audit("password_reset", f"user {user.username}")  # never the password itself
    committee_codes.void_on_reset(user)  # its confirmation codes are suspended
    db.session().commit()
    flash(_("The password of {name} is reset: every session of the account is logged out.").format(
        name=user.username))  # fmt: skip
    return redirect(url_for("manage.users"))
