"""What every management page shares: the blueprint, the role sets, forms whose own
messages speak the request's language, labels for stored codes, and scope lookups."""

from __future__ import annotations

import re
from collections import defaultdict

from flask import Blueprint, abort
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import Form as PlainForm
from wtforms import ValidationError
from wtforms.fields import Field

from hom_phieu.i18n import N_, _
from hom_phieu.ledger.records import Level
from web import db
from web.auth import require_unit, units_in_scope
from web.form_input import StorableInputMeta
from web.labels import LANGUAGE_LABELS as LANGUAGE_LABELS  # (the users' page's too)
from web.models import Role, Unit

bp = Blueprint("manage", __name__, url_prefix="/manage")

# Who may read the management pages, and who may change offices, counters and clerks
# (administrators always may: roles_required lets them through; the scale only they change:
# web.manage.scale).
READERS = (Role.TECHNICIAN, Role.VIEWER, Role.COMMITTEE)
EDITORS = (Role.TECHNICIAN,)

CODE = re.compile(r"[a-z0-9_-]{1,40}")
IDENTIFIER = re.compile(r"[a-z0-9_]{1,40}")
USERNAME = re.compile(r"[a-z0-9._-]{3,80}")
LEVELS = tuple(level.value for level in Level)

ROLE_LABELS = {
    Role.ADMIN: N_("Administrator"),
    Role.TECHNICIAN: N_("Technician"),
    Role.COMMITTEE: N_("Committee member"),
    Role.CLERK: N_("Clerk"),
    Role.VIEWER: N_("Viewer"),
}


def choices(table: dict[str, str]) -> list[tuple[str, str]]:
    return [(key, _(text)) for key, text in table.items()]


class _Translations:
    """WTForms' own messages ("This field is required." …) through our catalog."""

    def gettext(self, string: str) -> str:
        return _(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        # Vietnamese has one form: the catalog keeps each form as a message of its own.
        return _(singular if n == 1 else plural)


class _Meta(StorableInputMeta):
    def get_translations(self, form: PlainForm) -> _Translations:
        return _Translations()


class Form(FlaskForm):
    """A CSRF-protected form whose messages are in the request's language, and whose
    fields refuse what no database can hold (``web.form_input``)."""

    Meta = _Meta


class SubForm(PlainForm):
    """A row inside a Form (no CSRF token of its own)."""

    Meta = _Meta


def _catalog_entries() -> None:  # pragma: no cover - only read by tools/catalogs.py
    """The WTForms messages our forms can show, so that the catalog translates them."""
    N_("This field is required.")
    N_("Not a valid choice.")
    N_("Invalid Choice: could not coerce.")
    N_("Field cannot be longer than %(max)d character.")
    N_("Field cannot be longer than %(max)d characters.")


def check_code(field: Field) -> None:
    """Codes go into records, URLs and file names: keep them plain."""
    if field.data and not CODE.fullmatch(field.data):
        raise ValidationError(_("use only a-z, 0-9, _ and - (at most 40 characters)"))


def unit_or_404(unit_id: int) -> Unit:
    unit = db.session().get(Unit, unit_id)
    if unit is None:
        abort(404)
    require_unit(unit.id)
    return unit


def unit_tree() -> list[tuple[Unit, int]]:
    """The units the current user may see, depth first, each with its depth."""
    query = select(Unit).order_by(Unit.name)
    scope = units_in_scope()
    if scope is not None:
        query = query.where(Unit.id.in_(scope))
    units = list(db.session().scalars(query))
    ids = {unit.id for unit in units}
    children: dict[int, list[Unit]] = defaultdict(list)
    roots = []
    for unit in units:
        if unit.parent_id in ids:
            children[unit.parent_id].append(unit)
        else:
            roots.append(unit)
    rows: list[tuple[Unit, int]] = []
    stack = [(unit, 0) for unit in reversed(roots)]
    while stack:
        unit, depth = stack.pop()
        rows.append((unit, depth))
        stack.extend((child, depth + 1) for child in reversed(children[unit.id]))
    return rows


def unit_choices(tree: list[tuple[Unit, int]]) -> list[tuple[int, str]]:
    return [(unit.id, "\u2003" * depth + f"{unit.name} ({unit.code})") for unit, depth in tree]


def ancestors(unit: Unit) -> list[int]:
    """The unit and every unit above it."""
    found, seen = [], set()
    current: Unit | None = unit
    while current is not None and current.id not in seen:
        seen.add(current.id)
        found.append(current.id)
        current = current.parent
    return found


def commit(field: Field | None = None, message: str = "") -> bool:
    """Commit the request's changes (and their audit entries) together. A unique value
    taken by someone else meanwhile becomes an error on ``field``, never a stack trace."""
    session = db.session()
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if field is not None:
            field.errors = [*field.errors, message or _("this value is taken already")]
        return False
    return True


def can_edit() -> bool:
    """May the current user change offices, counters and clerks?"""
    return current_user.role in (Role.ADMIN, *EDITORS)


def strip(value: object) -> object:
    """A field filter: no leading or trailing blanks in what is stored."""
    return value.strip() if isinstance(value, str) else value
