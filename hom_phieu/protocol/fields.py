"""Strict readers for the fields of the protocol's JSON objects.

Every reader takes the decoded JSON value, checks its type exactly (``type(x) is int``:
``true`` is not a number, ``1.0`` is not a whole number) and its range, and raises
:class:`ProtocolError` naming the field by its path in the document (``records[3].seq``,
``config.clerks[0].name``) in words a person reads. The server turns that into a ``400
malformed``; the kiosk into an answer it does not trust.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from hom_phieu.i18n import _

E = TypeVar("E", bound=StrEnum)
JsonObject = dict[str, Any]  # a document as json.loads gives it and json.dumps takes it
HEX_64 = re.compile(r"[0-9a-f]{64}")
# What no database or UTF-8 output can hold: NUL (PostgreSQL refuses it in text) and a lone
# UTF-16 surrogate (JSON's "\ud800" decodes to one; it has no UTF-8 encoding).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
NAME_LIMIT = 1000  # names, labels, titles, ids and codes in the server's answers
URL_LIMIT = 2000
SIG_LIMIT = 200  # base64 of a 64-byte signature is 88 characters


class ProtocolError(ValueError):
    """A protocol document is not what ``docs/sync-protocol.md`` says; ``message`` says how."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TooManyRecords(ProtocolError):
    """A push carries more records than the server takes at once (``413``, not ``400``)."""


def document(value: Any) -> Mapping[str, Any]:
    """The top-level JSON object of a request or an answer."""
    if not isinstance(value, dict):
        raise ProtocolError(_("the body must be a JSON object"))
    return value


def child(value: Any, name: str) -> Mapping[str, Any]:
    """A JSON object inside a document (``name`` is its path)."""
    if not isinstance(value, dict):
        raise ProtocolError(_("{name} must be an object").format(name=name))
    return value


def items(value: Any, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError(_("{name} must be a list").format(name=name))
    return value


def text(value: Any, name: str, *, limit: int, required: bool = True) -> str:
    """A string of at most ``limit`` characters, every one storable; ``required``: not
    empty either."""
    if not isinstance(value, str) or (required and not value) or len(value) > limit:
        raise ProtocolError(
            _("{name} must be a text of at most {limit} characters").format(name=name, limit=limit)
        )
    found = unstorable(value)
    if found is not None:
        raise ProtocolError(
            _("{name} contains a character that cannot be stored ({character})").format(
                name=name, character=found
            )
        )
    return value


def unstorable(value: str) -> str | None:
    """The first character of ``value`` that cannot be stored or sent (see UNSTORABLE), as
    ``U+0000``; None when every one can. The one rule for protocol texts and form fields."""
    found = UNSTORABLE.search(value)
    return None if found is None else f"U+{ord(found.group()):04X}"


def optional_text(value: Any, name: str, *, limit: int) -> str | None:
    """``null`` (or absent) or a string of at most ``limit`` characters (empty allowed)."""
    return None if value is None else text(value, name, limit=limit, required=False)


def whole(value: Any, name: str, *, minimum: int = 0) -> int:
    if type(value) is not int or value < minimum:
        raise ProtocolError(
            _("{name} must be a whole number from {minimum}").format(name=name, minimum=minimum)
        )
    return value


def optional_whole(value: Any, name: str, *, minimum: int = 0) -> int | None:
    return None if value is None else whole(value, name, minimum=minimum)


def flag(value: Any, name: str) -> bool:
    if type(value) is not bool:
        raise ProtocolError(_("{name} must be true or false").format(name=name))
    return value


def hex_digest(value: Any, name: str, pattern: re.Pattern[str] = HEX_64) -> str:
    """A digest in lower-case hexadecimal (SHA-256 unless ``pattern`` says otherwise)."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ProtocolError(_("{name} must be a digest in hexadecimal").format(name=name))
    return value


def base64_bytes(value: Any, name: str, *, size: int | None = None) -> bytes:
    """Standard base64 (with padding) of raw bytes; ``size``: exactly that many."""
    try:
        if not isinstance(value, str):
            raise ValueError
        raw = base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise ProtocolError(_("{name} must be base64 text").format(name=name)) from None
    if size is not None and len(raw) != size:
        raise ProtocolError(
            _("{name} must be {size} bytes (raw Ed25519), in base64").format(name=name, size=size)
        )
    return raw


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def choice(value: Any, name: str, kind: type[E]) -> E:
    """One of a closed set of words (a :class:`StrEnum`'s values)."""
    if not isinstance(value, str) or value not in kind._value2member_map_:
        raise ProtocolError(
            _("{name} must be one of: {values}").format(
                name=name, values=", ".join(member.value for member in kind)
            )
        )
    return kind(value)


def optional_choice(value: Any, name: str, kind: type[E]) -> E | None:
    return None if value is None else choice(value, name, kind)


def month(value: Any, name: str) -> str:
    """A box's month, ``YYYY-MM``."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise ProtocolError(_("{name} must be a month, YYYY-MM").format(name=name))
    return value


def aware_time(value: Any, name: str) -> str:
    """ISO-8601 text of a moment with its offset (``2026-11-05T09:30:12+07:00``), kept as
    sent: the signature covers the text, not the moment."""
    moment = None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        raise ProtocolError(
            _("{name} must be an ISO-8601 date and time with its offset").format(name=name)
        )
    return str(value)


def signature_text(doc: Mapping[str, Any], name: str) -> str:
    """A signature's base64 text, kept as sent: ``signing.py`` checks it."""
    return text(doc.get(name), name, limit=SIG_LIMIT)
