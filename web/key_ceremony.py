"""The key ceremonies' pages: an office's box keys dealt among its committee, the share
cards printed once, read back by their holders, replaced before their month begins (with
the cards of enough of their holders: ``web.key_replacement``).

The cards exist only in the answer to the dealing (never stored, never cached: printed
from that page, then gone); the server keeps the public keys, their fingerprints and who
holds which share (``web.box_keys``). Every deal, retirement and read-back is audited,
never a word of a card. The province's escrow key: ``web.key_escrow``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    request,
    url_for,
)
from flask import render_template as render
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import BooleanField, IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from hom_phieu.clock import box_of
from hom_phieu.i18n import _, language
from hom_phieu.ledger.key_shares import MAX_MEMBERS, ShareError
from web import box_keys, clock, db, key_replacement
from web.auth import audit, roles_required
from web.box_keys import DealtKey, Holder
from web.ceremony import _membership, _require_secretary, _secretary_of
from web.ceremony_calendar import box_label, boxes_from, next_box
from web.committee_changes import lock_office
from web.labels import COMMITTEE_ROLE_LABELS, label
from web.manage.common import Form
from web.models import CommitteeRole, Office, Role, Unit
from web.models_seal import BoxKey
from web.opening import active_members
from web.pages import office_or_404
from web.unit_calendar import unit_chain

bp = Blueprint("key_ceremony", __name__)
# Who may read an office's keys page besides its committee members (in the unit's scope).
KEY_READERS = (Role.TECHNICIAN, Role.COMMITTEE)
MAX_MONTHS = 12
MIN_THRESHOLD = 2  # no one person opens a box


def init_app(app: Flask) -> None:
    from web import key_escrow  # (its routes join this blueprint)

    assert key_escrow.bp is bp
    app.register_blueprint(bp)


# --- the printable cards --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardEntry:
    """One key on a holder's card: its month (or the escrow's name), fingerprint, words."""

    title: str
    fingerprint: str
    words: tuple[str, ...]
    threshold: int
    holders: int


@dataclass(frozen=True, slots=True)
class CardPage:
    """One holder's printed page: every key dealt to them at this ceremony."""

    name: str
    role: str
    entries: tuple[CardEntry, ...]


def card_pages(dealt: Sequence[DealtKey], title_of: Callable[[BoxKey], str]) -> list[CardPage]:
    """The cards of ``dealt`` (the same holders for every key), one page per holder;
    ``title_of(key)`` names each key on the card."""
    pages = []
    for index, first in enumerate(dealt[0].cards if dealt else ()):
        entries = tuple(_entry(item, index, title_of) for item in dealt)
        holder = first.holder
        if holder.role == box_keys.ESCROW_ROLE:
            role = _("Escrow holder")
        else:
            role = label(COMMITTEE_ROLE_LABELS, holder.role)
        pages.append(CardPage(holder.name, role, entries))
    return pages


def _entry(item: DealtKey, index: int, title_of: Callable[[BoxKey], str]) -> CardEntry:
    key = item.key
    words = tuple(item.cards[index].mnemonic.split())
    return CardEntry(title_of(key), key.fingerprint, words, key.threshold, key.holders)


def cards_response(place: str, heading: str, pages: list[CardPage]) -> Response:
    """The cards, printed from this answer only: in Vietnamese, never cached."""
    with language("vi"):  # the cards are handed out as an official paper, in Vietnamese
        body = render("keys/cards.html", place=place, heading=heading, pages=pages)
    response = make_response(body, 200)
    response.headers["Cache-Control"] = "no-store, max-age=0"
    response.headers["Pragma"] = "no-cache"
    return response


def no_store(body: str, status: int = 200) -> Response:
    response = make_response(body, status)
    response.headers["Cache-Control"] = "no-store, max-age=0"
    return response


# --- who may do what ------------------------------------------------------------------------


def _office_for_reader(office_id: int) -> Office:
    """The office, for those who manage it (in scope) and its committee's members."""
    office = office_or_404(office_id)
    if current_user.role in (Role.ADMIN, Role.TECHNICIAN):
        return office
    if _membership(office.id, current_user.id) is None:
        abort(403)
    return office


def _office_key_or_404(office: Office, key_id: int) -> BoxKey:
    key = db.session().get(BoxKey, key_id)
    if key is None or key.purpose != BoxKey.BOX or key.office_id != office.id:
        abort(404)
    return key


# --- forms ----------------------------------------------------------------------------------


def month_choices() -> list[tuple[str, str]]:
    """This month and the twelve after it (``YYYY-MM``, shown ``mm/yyyy``)."""
    return [(box, box_label(box)) for box in boxes_from(box_of(clock.now_ms()), MAX_MONTHS + 1)]


class DealForm(Form):
    first = SelectField(validators=[DataRequired()])
    months = IntegerField(validators=[InputRequired(), NumberRange(min=1, max=MAX_MONTHS)])
    threshold = IntegerField(
        validators=[InputRequired(), NumberRange(min=MIN_THRESHOLD, max=MAX_MEMBERS)]
    )
    replace = BooleanField()

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.first.choices = month_choices()


class ReadBackForm(Form):
    card = TextAreaField(validators=[DataRequired(), Length(max=2000)])


# --- the office's keys page -----------------------------------------------------------------


def _holders(office: Office) -> list[Holder]:
    """The office's active committee, in the order of the committee's roles."""
    members = sorted(
        active_members(db.session(), office.id),
        key=lambda m: (CommitteeRole.ALL.index(m.committee_role)
                       if m.committee_role in CommitteeRole.ALL else 99, m.user.display_name),
    )  # fmt: skip
    return [Holder(m.user_id, m.user.display_name, m.committee_role) for m in members]


def _keys_of(office: Office) -> list[BoxKey]:
    return list(
        db.session().scalars(
            select(BoxKey)
            .where(BoxKey.office_id == office.id, BoxKey.purpose == BoxKey.BOX)
            .order_by(BoxKey.box.desc(), BoxKey.retired_at.is_not(None), BoxKey.id.desc())
        )
    )


def top_unit(unit: Unit) -> Unit:
    """The topmost unit above ``unit`` (its province)."""
    return unit_chain(db.session(), unit.id)[-1]


def _replaceable(office: Office) -> list[BoxKey]:
    """The office's keys of months that have not begun (replaced only with their cards)."""
    now_box = box_of(clock.now_ms())
    return [k for k in _keys_of(office) if k.retired_at is None and (k.box or "") > now_box]


def _keys_page(office: Office, form: DealForm | None = None, status: int = 200,
               card_error: str = "") -> Response:  # fmt: skip
    holders = _holders(office)
    secretary = _secretary_of(office.id)
    escrow = box_keys.escrow_key_for(db.session(), office.unit_id)
    if secretary and form is None:
        form = DealForm(formdata=None, months=3, first=next_box(box_of(clock.now_ms())),
                        threshold=min(max(office.quorum, MIN_THRESHOLD), len(holders)))  # fmt: skip
    body = render(
        "keys/office.html",
        office=office,
        keys=_keys_of(office),
        holders=holders,
        secretary=secretary,
        form=form if secretary else None,
        escrow=escrow,
        escrow_unit=db.session().get(Unit, escrow.unit_id) if escrow else None,
        province=top_unit(office.unit),
        box_label=box_label,
        card_fields=key_replacement.field_count(_replaceable(office)) if secretary else 0,
        card_error=card_error,
    )
    return no_store(body, status)


@bp.get("/offices/<int:office_id>/keys")
@roles_required(*KEY_READERS)
def office_keys(office_id: int) -> ResponseReturnValue:
    return _keys_page(_office_for_reader(office_id))


@bp.post("/offices/<int:office_id>/keys/deal")
@roles_required(Role.COMMITTEE)
def deal(office_id: int) -> ResponseReturnValue:
    """The secretary deals the next months' keys among the active committee: the answer
    is the cards, once."""
    office = office_or_404(office_id)
    _require_secretary(office.id)
    form = DealForm()
    if not form.validate():
        return _keys_page(office, form, 400)
    session = db.session()
    lock_office(session, office.id)
    holders, boxes = _holders(office), boxes_from(form.first.data, form.months.data)
    if form.threshold.data > len(holders):
        form.threshold.errors.append(
            _("the committee has {n} active members: at most {n} can be needed").format(
                n=len(holders)
            )
        )
        return _keys_page(office, form, 400)
    now_box = box_of(clock.now_ms())
    old = {box: box_keys.current_key(session, office.id, box) for box in boxes if box > now_box}
    future = [box for box, key in old.items() if key is not None]
    if future and not form.replace.data:
        form.replace.errors.append(
            _("{months} already have keys: tick “replace” to deal new ones (their old cards "
              "will no longer be valid)").format(months=", ".join(map(box_label, future)))
        )  # fmt: skip
        return _keys_page(office, form, 400)
    try:  # k holders of each key replaced consent with their cards (never kept)
        replaced = [key for key in old.values() if key is not None]
        agreed = key_replacement.consents(session, office.id, replaced, request.form)
    except ShareError as refused:
        session.rollback()  # (the reason may quote a word of a card: not audited)
        audit("box_key_replacement_refused", f"office {office.code}", office_id=office.id,
              boxes=future)  # fmt: skip
        session.commit()
        return _keys_page(office, form, 400, card_error=str(refused))
    try:
        dealt = box_keys.deal_box_keys(
            session, office, boxes, form.threshold.data, holders, current_user.id
        )
    except ShareError as refused:
        session.rollback()
        form.first.errors.append(str(refused))
        return _keys_page(office, form, 400)
    for consent in agreed:
        audit("box_key_retired", f"office {office.code} box {consent.key.box}",
              office_id=office.id, **key_replacement.audit_detail(consent))  # fmt: skip
    audit("box_keys_dealt", f"office {office.code}", office_id=office.id, boxes=boxes,
          fingerprints=[item.key.fingerprint for item in dealt],
          threshold=form.threshold.data, holders=[h.name for h in holders])  # fmt: skip
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        abort(409)
    with language("vi"):
        pages = card_pages(dealt, lambda key: _("Box of {month}").format(month=box_label(key.box)))
    return cards_response(f"{office.name} · {office.unit.name}", office.name, pages)


# --- reading a card back --------------------------------------------------------------------


def read_back_page(key: BoxKey, place: str, back: str, form: ReadBackForm | None = None,
                   status: int = 200) -> Response:  # fmt: skip
    title = box_label(key.box) if key.box else _("Escrow key")
    body = render("keys/read_back.html", key=key, place=place, title=title, back=back,
                  form=form or ReadBackForm(formdata=None))  # fmt: skip
    return no_store(body, status)


def read_back(key: BoxKey, place: str, back: str, target: str, **where: int) -> Response:
    """A holder types their card: it is recognised (and marked) or the fault is named."""
    form = ReadBackForm()
    if not form.validate():
        return read_back_page(key, place, back, ReadBackForm(formdata=None), 400)
    session = db.session()
    try:
        share = box_keys.read_back(key, form.card.data)
    except ShareError as refused:
        audit("key_share_read_back_refused", target, fingerprint=key.fingerprint, **where)
        session.commit()
        empty = ReadBackForm(formdata=None)  # the typed words are not sent back
        empty.card.errors = [str(refused)]
        return read_back_page(key, place, back, empty, 400)
    audit("key_share_read_back", target, fingerprint=key.fingerprint, holder=share.holder_name,
          member_index=share.member_index, **where)  # fmt: skip
    session.commit()
    title = box_label(key.box) if key.box else _("the escrow key")
    flash(_("The card of {name} for {key} is read back: it is right.").format(
        name=share.holder_name, key=title))  # fmt: skip
    return redirect(back)


@bp.route("/offices/<int:office_id>/keys/<int:key_id>/read-back", methods=["GET", "POST"])
@roles_required(*KEY_READERS)
def office_read_back(office_id: int, key_id: int) -> ResponseReturnValue:
    office = _office_for_reader(office_id)
    key = _office_key_or_404(office, key_id)
    back = url_for("key_ceremony.office_read_back", office_id=office.id, key_id=key.id)
    if request.method != "POST":
        return read_back_page(key, office.name, back)
    return read_back(key, office.name, back, f"office {office.code} box {key.box}",
                     office_id=office.id)  # fmt: skip
