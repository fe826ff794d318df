"""Read tokens of the results API (administrators only, within their unit).

An administrator issues a token for a unit in his scope (a province system then reads that
unit and everything below it: ``web.api_results``); the token is shown once, on the page
that answers the issuing, and only its SHA-256 is stored. Revoking asks for confirmation
first. Every issue and revocation is audited.
"""

from __future__ import annotations

from flask import Response, abort, flash, make_response, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from hom_phieu.i18n import N_, _
from web import clock, db
from web.api_results_auth import new_token, token_hash
from web.auth import audit, roles_required, units_in_scope
from web.manage.common import Form, bp, strip, unit_choices, unit_tree
from web.models import Unit, User
from web.models_results import ReadToken


class IssueForm(Form):
    label = StringField(N_("Label"), filters=[strip], validators=[DataRequired(), Length(max=200)])
    unit = SelectField(coerce=int, validators=[DataRequired()])

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.unit.choices = unit_choices(unit_tree())


class RevokeForm(Form):
    """Only the CSRF token: the confirmation page is the confirmation."""


def _tokens() -> list[tuple[ReadToken, Unit, User | None]]:
    query = (
        select(ReadToken, Unit, User)
        .join(Unit, Unit.id == ReadToken.unit_id)
        .outerjoin(User, User.id == ReadToken.created_by)
        .order_by(ReadToken.revoked_at.is_not(None), ReadToken.created_at.desc(), ReadToken.id)
    )
    scope = units_in_scope()
    if scope is not None:
        query = query.where(ReadToken.unit_id.in_(scope))
    return [(row[0], row[1], row[2]) for row in db.session().execute(query)]


def token_or_404(token_id: int) -> ReadToken:
    row = db.session().get(ReadToken, token_id)
    scope = units_in_scope()
    if row is None or (scope is not None and row.unit_id not in scope):
        abort(404)  # another unit's token is not confirmed to exist
    return row


def _page(form: IssueForm, status: int = 200, issued: str | None = None) -> Response:
    page = render_template("manage/tokens.html", form=form, tokens=_tokens(), issued=issued)
    response = make_response(page, status)
    response.headers["Cache-Control"] = "no-store"  # the issued token must not be cached
    return response


@bp.route("/tokens", methods=["GET", "POST"])
@roles_required()
def tokens() -> ResponseReturnValue:
    form = IssueForm()
    if not form.is_submitted():
        return _page(form)
    if not form.validate():
        return _page(form, 400)
    unit = db.session().get(Unit, form.unit.data)
    if unit is None:  # gone meanwhile (the choices are in scope)
        abort(404)
    secret = new_token()
    row = ReadToken(unit_id=unit.id, label=form.label.data, token_hash=token_hash(secret),
                    created_by=current_user.id, created_at=clock.now())  # fmt: skip
    db.session().add(row)
    db.session().flush()
    audit("read_token_issued", f"read token {row.id}", label=row.label, unit=unit.code)
    db.session().commit()
    return _page(IssueForm(formdata=None), issued=secret)


@bp.route("/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@roles_required()
def token_revoke(token_id: int) -> ResponseReturnValue:
    row = token_or_404(token_id)
    form = RevokeForm()
    if form.is_submitted() and form.validate():
        if row.revoked_at is None:
            row.revoked_at, row.revoked_by = clock.now(), current_user.id
            unit = db.session().get(Unit, row.unit_id)
            audit("read_token_revoked", f"read token {row.id}", label=row.label,
                  unit=unit.code if unit else None)  # fmt: skip
            db.session().commit()
            flash(_("The token “{label}” is revoked: it reads nothing any more.").format(
                label=row.label))  # fmt: skip
        return redirect(url_for("manage.tokens"))
    unit = db.session().get(Unit, row.unit_id)
    status = 400 if form.is_submitted() else 200
    page = render_template("manage/tokens.html", revoking=row, unit=unit, form=form)
    return page, status
