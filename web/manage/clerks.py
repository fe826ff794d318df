"""An office's clerks: who serves at which counter, in which field, with an optional photo.

A photo is accepted only as a JPEG or PNG of at most 500 KB that Pillow can decode, and is
then re-encoded (turned upright, shrunk, metadata such as GPS dropped) before it is kept:
the bytes served back are always ones we wrote.

A clerk may be linked to their own account (role "clerk", active, of the office's unit or
below, linked to no other clerk): that account reads the clerk's opened results
(``web.my_results``) and nothing else of anyone's.
"""

from __future__ import annotations

import io

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_wtf.file import FileField
from PIL import Image, ImageOps
from sqlalchemy import select
from wtforms import BooleanField, SelectField, StringField, ValidationError
from wtforms.validators import DataRequired, Length

from hom_phieu.i18n import N_, _
from web import db
from web.auth import audit, roles_required
from web.confirm import ConfirmForm, ask, confirmed
from web.manage.common import EDITORS, READERS, Form, bp, check_code, commit, strip
from web.models import Clerk, Office, ProcedureField, Role, User
from web.pages import office_or_404
from web.unit_tree import subtree

MAX_PHOTO_BYTES = 500 * 1024
MAX_PHOTO_PIXELS = 16_000_000  # refuse before decoding: a small file can hide a huge image
PHOTO_BOX = (480, 640)  # kept at most this size (portrait ID photo)
NONE = 0


class ClerkForm(Form):
    code = StringField(N_("Code"), filters=[strip], validators=[DataRequired(), Length(max=40)])
    name = StringField(
        N_("Full name"), filters=[strip], validators=[DataRequired(), Length(max=200)]
    )
    title = StringField(N_("Title"), filters=[strip], validators=[Length(max=200)])
    procedure_field = SelectField(coerce=int)
    counter = SelectField(coerce=int)
    contact = StringField(N_("Public contact"), filters=[strip], validators=[Length(max=200)])
    photo = FileField()
    remove_photo = BooleanField()
    # Checked by validate_account (with a message saying why), not against the choices.
    account = SelectField(coerce=int, validate_choice=False)

    def __init__(self, *args, office: Office, clerk: Clerk | None = None, **kwargs) -> None:
        super().__init__(*args, obj=clerk, **kwargs)
        self.office, self.clerk, self.photo_bytes = office, clerk, None
        fields = db.session().scalars(select(ProcedureField).order_by(ProcedureField.name))
        self.procedure_field.choices = [(NONE, "—")] + [(f.id, f.name) for f in fields]
        own = clerk.counter_id if clerk is not None else None
        counters = sorted(office.counters, key=lambda counter: counter.id)
        self.counter.choices = [(NONE, "—")] + [
            (c.id, c.name) for c in counters if c.retired_at is None or c.id == own
        ]
        current = clerk.user_id if clerk is not None else None
        self.account.choices = [(NONE, "—")] + [
            (user.id, f"{user.display_name} ({user.username})")
            for user in linkable_accounts(office, current)
        ]
        if clerk is not None and not self.is_submitted():
            self.procedure_field.data = clerk.field_id or NONE
            self.counter.data = clerk.counter_id or NONE
            self.account.data = clerk.user_id or NONE

    def validate_account(self, field) -> None:
        """The account to link (None: not sent, no change; NONE: unlink)."""
        current = self.clerk.user_id if self.clerk is not None else None
        if field.data in (None, NONE, current):
            return
        user = db.session().get(User, field.data)
        if user is None or not user.active:
            raise ValidationError(_("this account does not exist or is deactivated"))
        if user.role != Role.CLERK:
            raise ValidationError(_("only an account with the role clerk can be linked"))
        if user.unit_id not in subtree(db.session(), self.office.unit_id):
            raise ValidationError(_("this account belongs to another unit than the office"))
        if db.session().scalar(select(Clerk.id).where(Clerk.user_id == user.id)) is not None:
            raise ValidationError(_("this account is linked to another clerk already"))

    def validate_code(self, field) -> None:
        if self.clerk is not None:  # the code is in the kiosks' records: it never changes
            field.data = self.clerk.code
            return
        check_code(field)
        taken = db.session().scalar(
            select(Clerk.id).where(Clerk.office_id == self.office.id, Clerk.code == field.data)
        )
        if taken is not None:
            raise ValidationError(_("this office has a clerk with this code already"))

    def validate_photo(self, field) -> None:
        upload = field.data
        if upload is None or not getattr(upload, "filename", ""):
            return
        self.photo_bytes = reencode_photo(upload.read(MAX_PHOTO_BYTES + 1))


def linkable_accounts(office: Office, current: int | None) -> list[User]:
    """Active clerk accounts of the office's unit (or below) linked to no clerk, and the
    account linked now (``current``), by name."""
    session = db.session()
    linked = select(Clerk.user_id).where(Clerk.user_id.is_not(None))
    if current is not None:
        linked = linked.where(Clerk.user_id != current)
    return list(
        session.scalars(
            select(User)
            .where(
                User.active.is_(True),
                User.role == Role.CLERK,
                User.unit_id.in_(subtree(session, office.unit_id)),
                User.id.not_in(linked),
            )
            .order_by(User.display_name, User.username)
        )
    )


def reencode_photo(data: bytes) -> bytes:
    """A JPEG of the uploaded JPEG or PNG, or a ValidationError that says what is wrong."""
    if len(data) > MAX_PHOTO_BYTES:
        raise ValidationError(_("the photo is larger than 500 KB"))
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("JPEG", "PNG"):
                raise ValidationError(_("the photo must be a JPEG or PNG image"))
            if image.width * image.height > MAX_PHOTO_PIXELS:
                raise ValidationError(_("the photo has too many pixels"))
            image.load()
            upright = ImageOps.exif_transpose(image)
            upright.thumbnail(PHOTO_BOX)
            if upright.mode in ("RGBA", "LA", "P"):
                rgba = upright.convert("RGBA")
                upright = Image.new("RGB", rgba.size, "white")
                upright.paste(rgba, mask=rgba.getchannel("A"))
            out = io.BytesIO()
            upright.convert("RGB").save(out, format="JPEG", quality=85, optimize=True)
            return out.getvalue()
    except ValidationError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ValidationError(_("the photo must be a JPEG or PNG image")) from error


def clerk_or_404(clerk_id: int) -> Clerk:
    clerk = db.session().get(Clerk, clerk_id)
    if clerk is None:
        abort(404)
    office_or_404(clerk.office_id)
    return clerk


def _apply(form: ClerkForm, clerk: Clerk) -> None:
    clerk.name, clerk.title, clerk.contact = form.name.data, form.title.data, form.contact.data
    clerk.field_id = form.procedure_field.data or None
    clerk.counter_id = form.counter.data or None
    if form.account.data is not None:
        clerk.user_id = form.account.data or None
    if form.photo_bytes is not None:
        clerk.photo = form.photo_bytes
    elif form.remove_photo.data:
        clerk.photo = None


def _summary(clerk: Clerk) -> dict:
    """What the audit log keeps of a clerk (the photo only as present or not; the linked
    account by its name)."""
    account = db.session().get(User, clerk.user_id) if clerk.user_id is not None else None
    return {"name": clerk.name, "title": clerk.title, "field": clerk.field_id,
            "counter": clerk.counter_id, "contact": clerk.contact,
            "photo": clerk.photo is not None,
            "account": account.username if account is not None else None}  # fmt: skip


LINK_TAKEN = N_("this account is linked to another clerk already")


@bp.route("/offices/<int:office_id>/clerks/new", methods=["GET", "POST"])
@roles_required(*EDITORS)
def clerk_new(office_id: int):
    office = office_or_404(office_id)
    form = ClerkForm(office=office)
    if form.is_submitted():
        if form.validate():
            clerk = Clerk(office_id=office.id, code=form.code.data, active=True)
            _apply(form, clerk)
            db.session().add(clerk)
            audit("clerk_added", f"clerk {office.code}/{clerk.code}", **_summary(clerk))
            # A unique value taken meanwhile: the account if one is linked, else the code.
            taken = (form.account, _(LINK_TAKEN)) if clerk.user_id else (form.code, "")
            if commit(*taken):
                flash(_("The clerk {name} is added.").format(name=clerk.name))
                return redirect(url_for("manage.office", office_id=office.id) + "#clerks")
        return render_template("manage/clerk_form.html", form=form, office=office, clerk=None), 400
    return render_template("manage/clerk_form.html", form=form, office=office, clerk=None)


@bp.route("/clerks/<int:clerk_id>/edit", methods=["GET", "POST"])
@roles_required(*EDITORS)
def clerk_edit(clerk_id: int):
    clerk = clerk_or_404(clerk_id)
    office = clerk.office
    form = ClerkForm(office=office, clerk=clerk)
    if form.is_submitted():
        if form.validate():
            before = _summary(clerk)
            _apply(form, clerk)
            audit("clerk_changed", f"clerk {office.code}/{clerk.code}", before=before,
                  after=_summary(clerk))  # fmt: skip
            if commit(form.account, _(LINK_TAKEN)):
                flash(_("The clerk {name} is saved.").format(name=clerk.name))
                return redirect(url_for("manage.office", office_id=office.id) + "#clerks")
        page = render_template("manage/clerk_form.html", form=form, office=office, clerk=clerk)
        return page, 400
    return render_template("manage/clerk_form.html", form=form, office=office, clerk=clerk)


@bp.route("/clerks/<int:clerk_id>/deactivate", methods=["GET", "POST"])
@roles_required(*EDITORS)
def clerk_deactivate(clerk_id: int):
    """Asks first (``web.confirm``); undone by reactivating."""
    clerk = clerk_or_404(clerk_id)
    form = ConfirmForm()
    if clerk.active and not confirmed(form):
        return ask(
            form,
            title=_("Deactivate a clerk"),
            text=_("{name} ({code}) will no longer be offered on the kiosks of {office}; the "
                   "ballots already cast for them keep their name.").format(
                name=clerk.name, code=clerk.code, office=clerk.office.name),
            undo=_("This can be undone: the clerk can be reactivated from the office's page."),
            button=_("Deactivate the clerk"),
            cancel=url_for("manage.office", office_id=clerk.office_id) + "#clerks",
        )  # fmt: skip
    return _set_active(clerk, False)


@bp.post("/clerks/<int:clerk_id>/reactivate")
@roles_required(*EDITORS)
def clerk_reactivate(clerk_id: int):
    return _set_active(clerk_or_404(clerk_id), True)


def _set_active(clerk: Clerk, active: bool):
    """Clerks are deactivated, never deleted: past ballots name them."""
    if clerk.active != active:
        clerk.active = active
        action = "clerk_reactivated" if active else "clerk_deactivated"
        audit(action, f"clerk {clerk.office.code}/{clerk.code}", name=clerk.name)
        db.session().commit()
    if active:
        flash(_("The clerk {name} is active again.").format(name=clerk.name))
    else:
        flash(_("The clerk {name} is deactivated; “Reactivate” below undoes it.").format(
            name=clerk.name))  # fmt: skip
    return redirect(url_for("manage.office", office_id=clerk.office_id) + "#clerks")


@bp.get("/clerks/<int:clerk_id>/photo")
@roles_required(*READERS)
def clerk_photo(clerk_id: int):
    clerk = clerk_or_404(clerk_id)
    if not clerk.photo:
        abort(404)
    kind = "image/png" if clerk.photo.startswith(b"\x89PNG") else "image/jpeg"
    response = Response(clerk.photo, mimetype=kind)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
