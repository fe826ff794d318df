"""Every field of every form refuses what no database can hold, next to the field.

A NUL (``%00`` in a form) makes PostgreSQL refuse the whole statement, a lone surrogate
has no UTF-8, a 200-digit number is no database integer: any of them would be a 500
wherever a view (or another field's check) stores or looks up the value. The forms'
``Meta`` (:class:`StorableInputMeta`) puts :func:`storable` first in every field's
validators (an ``IntegerField``'s 200 digits included), so the field shows why, in the
request's language, before any other check of it reads it; and a choice coerced to a
whole number (``SelectField(coerce=int)``) outside the database's integers is not a
number at all (the field's "could not coerce" error, its value None), so no other
field's check can look it up either.
"""

from __future__ import annotations

from typing import Any

from wtforms import Field, Form
from wtforms.meta import DefaultMeta
from wtforms.validators import StopValidation

from hom_phieu.i18n import _
from hom_phieu.protocol.fields import unstorable

DATABASE_INT = 2**31 - 1  # PostgreSQL's integer: every id and number a form names


def storable(_form: Form, field: Field) -> None:
    """A field's text holds no unstorable character, its number fits a database integer."""
    values = field.data if isinstance(field.data, list | tuple) else [field.data]
    for value in values:
        character = unstorable(value) if isinstance(value, str) else None
        if character is not None:
            raise StopValidation(
                _("this text contains a character that cannot be stored ({character})").format(
                    character=character
                )
            )
        if isinstance(value, int) and not -DATABASE_INT <= value <= DATABASE_INT:
            raise StopValidation(_("this number is too large"))


def database_int(value: Any) -> int:
    """``int``, for a choice's coercion, refusing what no database integer holds."""
    number = int(value)
    if not -DATABASE_INT <= number <= DATABASE_INT:
        raise ValueError(value)
    return number


class StorableInputMeta(DefaultMeta):
    """A form's ``Meta`` (or a base of it): storable texts and numbers in every field."""

    def bind_field(self, form: Form, unbound_field: Any, options: dict[str, Any]) -> Field:
        field: Field = super().bind_field(form, unbound_field, options)
        field.validators = [storable, *field.validators]
        if vars(field).get("coerce") is int:  # (not getattr: a FormField passes it on)
            field.coerce = database_int
        return field
