"""``POST /api/v1/enroll``: a kiosk trades a one-time code for its identity.

The code is the credential; the request is also signed by the key being enrolled, which
proves the kiosk holds it. The answer pins the server's key on the kiosk.
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, jsonify, request
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hom_phieu.i18n import _
from hom_phieu.ledger.device_key import fingerprint, verify_signature
from hom_phieu.protocol.models import EnrollAnswer, EnrollRequest, ErrorCode, OfficeRef
from hom_phieu.protocol.signing import request_message
from web import clock, db
from web.api_v1_config import device_config
from web.api_v1_requests import MAX_SMALL_BYTES, aware, body, read, signature_header
from web.auth import audit
from web.ingest import Refusal
from web.models import Device, Enrollment
from web.pages import enrollment_hash
from web.server_key import server_key, sign_ack
from web.throttle import enroll_blocked, enroll_failed


def enroll() -> Response:
    """A kiosk trades a one-time code for its identity; the code is the credential."""
    session = db.session()
    address = request.remote_addr or ""
    if enroll_blocked(session, address):
        raise Refusal(
            429,
            ErrorCode.THROTTLED,
            _("too many wrong codes: wait 15 minutes, then try again"),
        )
    data = body(MAX_SMALL_BYTES)
    asked = read(data, EnrollRequest.from_json)
    _require_possession(asked.public_key, data)
    enrollment = session.scalar(
        select(Enrollment).where(Enrollment.code_hash == enrollment_hash(asked.code))
    )
    if enrollment is None:
        enroll_failed(session, address)
        raise Refusal(400, ErrorCode.BAD_CODE, _("this enrollment code is not known; check it"))
    device = _enrollable(session, enrollment, address)
    device_id = fingerprint(asked.public_key)
    if session.scalar(select(Device.id).where(Device.device_id == device_id)) is not None:
        raise Refusal(
            409,
            ErrorCode.KEY_IN_USE,
            _("this device key is already enrolled as {device}").format(device=device_id),
        )
    try:
        _claim(session, enrollment, device, device_id, asked.public_key, clock.now())
        audit("device_enrolled", f"device {device.id}", device_id=device_id,
              software=asked.software or "")  # fmt: skip
        session.commit()
    except IntegrityError:  # (the same key enrolled at this moment with another code)
        session.rollback()
        raise Refusal(409, ErrorCode.KEY_IN_USE, _("this device key is already enrolled")) from None
    config = device_config(device)
    answer = EnrollAnswer(
        device_id=device_id,
        office=OfficeRef(device.office.code, device.office.name),
        counter=device.counter.name if device.counter else None,
        server_public_key=server_key().public_raw,
        config=config,
        config_sig=sign_ack(config.to_json()),
    )
    return jsonify(answer.to_json())


def _claim(
    session: Session,
    enrollment: Enrollment,
    device: Device,
    device_id: str,
    public_key: bytes,
    now: datetime,
) -> None:
    """Use the code and bind the key in conditional updates: of two kiosks sending the same
    code at the same moment (both past ``_enrollable``'s checks), the database lets one
    change the rows; the other is told the code was used, and nothing of it is kept."""
    used = session.execute(
        update(Enrollment)
        .where(Enrollment.id == enrollment.id, Enrollment.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        session.rollback()
        raise Refusal(410, ErrorCode.CODE_USED, _code_used())
    bound = session.execute(
        update(Device)
        .where(Device.id == device.id, Device.status == "pending")
        .values(
            device_id=device_id,
            public_key=public_key,
            status="active",
            enrolled_at=now,
            last_seen_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if bound.rowcount != 1:  # (enrolled at this moment with another code of the device)
        session.rollback()
        raise Refusal(410, ErrorCode.DEVICE_NOT_PENDING, _not_pending("active"))
    session.expire(enrollment)
    session.expire(device)


def _code_used() -> str:
    return _("this enrollment code was already used; ask for a new one")


def _not_pending(status: str) -> str:
    return _("the device this code was made for is {status}; register it again").format(
        status=_status_word(status)
    )


def _enrollable(session: Session, enrollment: Enrollment, address: str) -> Device:
    if enrollment.used_at is not None:
        enroll_failed(session, address)
        raise Refusal(410, ErrorCode.CODE_USED, _code_used())
    if aware(enrollment.expires_at) < clock.now():
        enroll_failed(session, address)
        raise Refusal(
            410, ErrorCode.CODE_EXPIRED, _("this enrollment code has expired; ask for a new one")
        )
    device = enrollment.device
    if device.status != "pending":
        raise Refusal(410, ErrorCode.DEVICE_NOT_PENDING, _not_pending(device.status))
    return device


def _require_possession(public_key: bytes, data: bytes) -> None:
    """The enrolling kiosk signs the request with the key it enrolls: nobody can bind a
    key they do not hold (say, another kiosk's) to an office."""
    signature = signature_header()
    if not verify_signature(public_key, signature, request_message("POST", request.path, data)):
        raise Refusal(
            401, ErrorCode.BAD_SIGNATURE, _("the request is not signed with the enrolled key")
        )


def _status_word(status: str) -> str:
    return {"active": _("already enrolled"), "revoked": _("revoked by a technician")}.get(
        status, status
    )
