"""The province's escrow key: dealt once among chosen officials, m of them needed.

Each box key dealt under the unit afterwards carries its master sealed to this key
(``web.box_keys``), so that the escrow holders together can recover a box whose committee
lost more than n − k cards: a documented, minuted, audited path
(``docs/opening-ceremony.md``). The cards are printed once, like the committee's
(``web.key_ceremony``).
"""

from __future__ import annotations

from flask import abort, request, url_for
from flask import render_template as render
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import or_, select
from wtforms import IntegerField, SelectMultipleField, ValidationError
from wtforms.validators import InputRequired, NumberRange
from wtforms.widgets import CheckboxInput, ListWidget

from hom_phieu.i18n import _, language
from hom_phieu.ledger.key_shares import MAX_MEMBERS, ShareError
from web import box_keys, db
from web.auth import audit, require_unit, roles_required
from web.box_keys import ESCROW_ROLE, Holder
from web.key_ceremony import (
    MIN_THRESHOLD,
    bp,
    card_pages,
    cards_response,
    no_store,
    read_back,
    read_back_page,
)
from web.manage.common import Form, unit_or_404
from web.models import Role, Unit, User
from web.models_seal import BoxKey
from web.unit_tree import subtree


class EscrowForm(Form):
    holders = SelectMultipleField(
        coerce=int, widget=ListWidget(prefix_label=False), option_widget=CheckboxInput()
    )
    threshold = IntegerField(
        validators=[InputRequired(), NumberRange(min=MIN_THRESHOLD, max=MAX_MEMBERS)]
    )

    def __init__(self, unit: Unit, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.holders.choices = [(user.id, f"{user.display_name} ({user.username})")
                                for user in candidates(unit)]  # fmt: skip

    def validate_holders(self, field: SelectMultipleField) -> None:
        chosen = len(field.data or [])
        if not MIN_THRESHOLD <= chosen <= MAX_MEMBERS:
            words = _("choose {low} to {high} holders")
            raise ValidationError(words.format(low=MIN_THRESHOLD, high=MAX_MEMBERS))
        if self.threshold.data is not None and self.threshold.data > chosen:
            raise ValidationError(_("more holders needed than chosen"))


def candidates(unit: Unit) -> list[User]:
    """Who may hold a card of the unit's escrow key: the active accounts of the unit and
    below it, and those over the whole tree (not the clerks)."""
    scope = subtree(db.session(), unit.id)
    return list(
        db.session().scalars(
            select(User)
            .where(User.active.is_(True), User.role != Role.CLERK,
                   or_(User.unit_id.in_(scope), User.unit_id.is_(None)))
            .order_by(User.display_name, User.id)
        )
    )  # fmt: skip


def _page(unit: Unit, form: EscrowForm | None = None, status: int = 200) -> ResponseReturnValue:
    key = box_keys.escrow_key_for(db.session(), unit.id, exact=True)
    above = None if key else box_keys.escrow_key_for(db.session(), unit.id)
    form = form or EscrowForm(unit, formdata=None, threshold=MIN_THRESHOLD)
    body = render("keys/escrow.html", unit=unit, key=key, above=above, form=form)
    return no_store(body, status)


@bp.get("/units/<int:unit_id>/escrow")
@roles_required()
def escrow(unit_id: int) -> ResponseReturnValue:
    unit = unit_or_404(unit_id)
    return _page(unit)


@bp.post("/units/<int:unit_id>/escrow")
@roles_required()
def escrow_deal(unit_id: int) -> ResponseReturnValue:
    """An administrator over the unit deals its escrow key: the answer is the cards, once."""
    unit = unit_or_404(unit_id)
    form = EscrowForm(unit)
    if not form.validate():
        return _page(unit, form, 400)
    session = db.session()
    users = {user.id: user for user in candidates(unit)}
    holders = [Holder(uid, users[uid].display_name, ESCROW_ROLE) for uid in form.holders.data]
    try:
        dealt = box_keys.deal_escrow_key(session, unit, form.threshold.data, holders,
                                         current_user.id)  # fmt: skip
    except ShareError as refused:
        session.rollback()
        form.holders.errors = [*form.holders.errors, str(refused)]
        return _page(unit, form, 400)
    audit("escrow_key_dealt", f"unit {unit.code}", unit_id=unit.id,
          fingerprint=dealt.key.fingerprint, threshold=dealt.key.threshold,
          holders=[h.name for h in holders])  # fmt: skip
    session.commit()
    with language("vi"):
        pages = card_pages([dealt], lambda key: _("Escrow key of {unit}").format(unit=unit.name))
        return cards_response(unit.name, _("Escrow key of {unit}").format(unit=unit.name), pages)


def _escrow_key_for_reader(unit_id: int) -> tuple[Unit, BoxKey]:
    """The unit's escrow key, for an administrator over it or one of its holders."""
    unit = db.session().get(Unit, unit_id) or abort(404)
    key = box_keys.escrow_key_for(db.session(), unit.id, exact=True)
    holder = key is not None and any(s.user_id == current_user.id for s in key.shares)
    if not holder:
        if current_user.role != Role.ADMIN:
            abort(404)
        require_unit(unit.id)
    if key is None:
        abort(404)
    return unit, key


@bp.route("/units/<int:unit_id>/escrow/read-back", methods=["GET", "POST"])
@roles_required(*Role.ALL)
def escrow_read_back(unit_id: int) -> ResponseReturnValue:
    unit, key = _escrow_key_for_reader(unit_id)
    back = url_for("key_ceremony.escrow_read_back", unit_id=unit.id)
    if request.method == "POST":
        return read_back(key, unit.name, back, f"unit {unit.code} escrow", unit_id=unit.id)
    return read_back_page(key, unit.name, back)
