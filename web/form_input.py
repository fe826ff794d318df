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

The same ``Meta`` turns each ``Length(max=…)`` into :class:`TooLong`: a text too long is
refused with the field's name and its limit, never cut by the browser (no ``maxlength``).
:class:`DayField` is a day typed and shown as dd/mm/yyyy whatever the browser's locale.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from wtforms import Field, Form, StringField
from wtforms.meta import DefaultMeta
from wtforms.validators import Length, StopValidation, ValidationError

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
        label = unbound_field.kwargs.get("label")
        if label is None and unbound_field.args and isinstance(unbound_field.args[0], str):
            label = unbound_field.args[0]
        _uncapped(field, label)
        if vars(field).get("coerce") is int:  # (not getattr: a FormField passes it on)
            field.coerce = database_int
        return field


class TooLong:
    """``Length(max=…)`` said in full: the field's name, its limit and how much was typed.

    WTForms' ``Length`` also puts ``maxlength`` on the input, and a browser then cuts a
    longer pasted text silently (500 characters became 200): :class:`StorableInputMeta`
    puts this check in its place and leaves the input uncapped, so a text too long is
    refused with its reason instead."""

    def __init__(self, limit: int, label: str | None) -> None:
        self.limit, self.label = limit, label

    def __call__(self, _form: Form, field: Field) -> None:
        length = len(field.data) if isinstance(field.data, str) else 0
        if length <= self.limit:
            return
        if self.label:
            message = _("{field}: at most {limit} characters ({length} typed)").format(
                field=_(self.label), limit=self.limit, length=length
            )
        else:
            message = _("at most {limit} characters ({length} typed)").format(
                limit=self.limit, length=length
            )
        raise ValidationError(message)


def _uncapped(field: Field, label: str | None) -> None:
    """Each ``Length`` with a maximum (and no message of its own) becomes :class:`TooLong`."""
    validators = []
    for validator in field.validators:
        if isinstance(validator, Length) and validator.max != -1 and validator.message is None:
            validators.append(TooLong(validator.max, label))
            if validator.min != -1:
                validators.append(Length(min=validator.min))
        else:
            validators.append(validator)
    if any(isinstance(validator, TooLong) for validator in validators):
        field.validators = validators
        if "maxlength" in vars(field.flags):
            delattr(field.flags, "maxlength")


DAY_PATTERN = re.compile(r"\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*")
ISO_DAY = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})\s*")
DAY_FORMAT = "%d/%m/%Y"
FIRST_YEAR, LAST_YEAR = 2000, 2099  # (a typo such as 0202 is no holiday)


def parse_day(text: str) -> date:
    """``02/09/2026`` (or ``2/9/2026``) as a date; ValueError saying how to type it.
    (ISO ``2026-09-02``, unambiguous, pasted from a sheet or sent by a script, is taken too.)"""
    found = DAY_PATTERN.fullmatch(text)
    iso = ISO_DAY.fullmatch(text)
    try:
        if iso is not None:
            year, month, day = (int(part) for part in iso.groups())
        elif found is not None:
            day, month, year = (int(part) for part in found.groups())
        else:
            raise ValueError(text)
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValueError(text)
        return date(year, month, day)
    except ValueError:
        raise ValueError(
            _("type the day as dd/mm/yyyy (day/month/year), for example 02/09/2026")
        ) from None


class DayField(StringField):
    """A day shown and typed as dd/mm/yyyy whatever the browser's locale.

    ``<input type="date">`` shows the day in the browser's format (mm/dd/yyyy on an
    English browser): this is a text input with a pattern and a placeholder, parsed on the
    server (:func:`parse_day`), whose error says how to type it. Empty: ``None`` (take
    ``InputRequired`` for a required day: ``DataRequired`` would repeat a parse error)."""

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        render_kw = {"pattern": r"\d{1,2}/\d{1,2}/\d{4}", "placeholder": "dd/mm/yyyy",
                     "inputmode": "numeric", "autocomplete": "off", "size": 10,
                     **(kwargs.pop("render_kw", None) or {})}  # fmt: skip
        super().__init__(label, validators, render_kw=render_kw, **kwargs)

    def __call__(self, **kwargs: Any) -> Any:
        # What a browser shows (with its own words) when the pattern is not matched.
        kwargs.setdefault("title", _("day/month/year, for example 02/09/2026"))
        return super().__call__(**kwargs)

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.data = None
        text = valuelist[0] if valuelist and isinstance(valuelist[0], str) else ""
        if text.strip():
            self.data = parse_day(text)

    def _value(self) -> str:
        if self.raw_data:
            return str(self.raw_data[0])
        return self.data.strftime(DAY_FORMAT) if isinstance(self.data, date) else ""
