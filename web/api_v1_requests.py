"""Reading a device's request: size limits, JSON, the protocol's models, the signature.

Whatever a device sends is read into a model of :mod:`hom_phieu.protocol.models` or
refused with a 4xx and a reason (:class:`~web.ingest.Refusal`): no input reaches a 500.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from flask import request
from sqlalchemy import select

from hom_phieu import formatting
from hom_phieu.i18n import _
from hom_phieu.ledger.device_key import verify_signature
from hom_phieu.protocol.fields import ProtocolError, TooManyRecords
from hom_phieu.protocol.models import ErrorCode
from hom_phieu.protocol.signing import DEVICE_HEADER, SIGNATURE_HEADER, request_message
from web import db
from web.ingest import Refusal
from web.models import Device

MAX_RECORDS = 500  # per push
MAX_PUSH_BYTES = 2 * 1024 * 1024
MAX_SMALL_BYTES = 16 * 1024  # enroll, health, config
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")  # as device_key.fingerprint makes them

M = TypeVar("M")


def body(limit: int) -> bytes:
    """The request's bytes, refused (413) over ``limit``."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    request.max_content_length = limit  # also enforced while reading a chunked body
    return request.get_data(cache=True)


def too_large(limit: int) -> Refusal:
    return Refusal(
        413, ErrorCode.TOO_LARGE, _("the request is larger than {limit} bytes").format(limit=limit)
    )


def read(data: bytes, reader: Callable[[Any], M]) -> M:
    """``data`` as JSON, read by a model's ``from_json``: 400 ``malformed`` naming the
    first wrong field (413 ``too-many-records`` for a push over the limit)."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise Refusal(400, ErrorCode.MALFORMED, _("the body is not valid JSON")) from None
    try:
        return reader(value)
    except TooManyRecords as exc:
        raise Refusal(413, ErrorCode.TOO_MANY_RECORDS, exc.message) from None
    except ProtocolError as exc:
        raise Refusal(400, ErrorCode.MALFORMED, exc.message) from None


def signature_header() -> bytes:
    text = request.headers.get(SIGNATURE_HEADER, "")
    try:
        return base64.b64decode(text, validate=True) if text else b""
    except (ValueError, binascii.Error):
        return b""


def authenticated(data: bytes) -> Device:
    """The device that signed this request; 401 unknown or forged, 403 revoked."""
    device_id = request.headers.get(DEVICE_HEADER, "")
    if not device_id:
        raise Refusal(
            401,
            ErrorCode.UNAUTHENTICATED,
            _("sign the request: headers {device} and {signature}").format(
                device=DEVICE_HEADER, signature=SIGNATURE_HEADER
            ),
        )
    device = None
    if DEVICE_ID.fullmatch(device_id):  # else it names no device: never a database query
        device = db.session().scalar(select(Device).where(Device.device_id == device_id))
    if device is None or device.public_key is None:
        raise Refusal(
            401,
            ErrorCode.UNKNOWN_DEVICE,
            _("no device {device} is enrolled here").format(device=device_id[:40]),
        )
    message = request_message(request.method, request.path, data)
    if not verify_signature(device.public_key, signature_header(), message):
        raise Refusal(401, ErrorCode.BAD_SIGNATURE, _("the request signature does not verify"))
    if device.status == "revoked":
        raise Refusal(
            403,
            ErrorCode.REVOKED,
            _(
                "this device was revoked on {date}: its records are refused; ask the technician"
            ).format(date=_date(device.revoked_at)),
        )
    if device.status != "active":
        raise Refusal(403, ErrorCode.NOT_ACTIVE, _("this device is not active"))
    return device


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _date(moment: datetime | None) -> str:
    if moment is None:
        return "?"
    return formatting.date_time(int(aware(moment).timestamp() * 1000))
