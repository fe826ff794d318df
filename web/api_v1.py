"""The device API, version 1 (``/api/v1/…``): enrollment, records, health, configuration.

The contract is ``docs/sync-protocol.md``. Every request but enrollment is signed with
the device's key (headers ``X-HomPhieu-Device`` and ``X-HomPhieu-Signature`` over the
method, the path and the SHA-256 of the body); acknowledgements and configurations are
signed with the server's key, which the kiosk pinned when it enrolled. Every error is a
JSON ``{"error": code, "message": words}`` with a 4xx status, and stores nothing (an
equivocation's evidence and alert excepted: keeping them is the point). Nothing here
answers, or logs, counts by level or by clerk of a sealed box; the configuration carries
the office totals of the latest box its committee has opened (for the results slip).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from hom_phieu import formatting
from hom_phieu.i18n import LANGUAGES, _, set_request_language
from hom_phieu.ledger.device_key import fingerprint, verify_signature
from hom_phieu.ledger.records import Level, TimeQuality, canonical_bytes
from hom_phieu.protocol.signing import DEVICE_HEADER, SIGNATURE_HEADER, request_message
from web import clock, db
from web.auth import audit, csrf
from web.ingest import Incoming, Refusal, ingest
from web.models import Clerk, Device, Enrollment, Opening
from web.pages import enrollment_hash
from web.server_key import server_public_key_b64, sign_ack
from web.services import services
from web.throttle import EnrollThrottle

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")

MAX_RECORDS = 500  # per push
MAX_PUSH_BYTES = 2 * 1024 * 1024
MAX_SMALL_BYTES = 16 * 1024  # enroll, health
MAX_TEXT = 300  # any one text field of health or enrollment
ENDPOINTS = {"enroll": ("POST",), "records": ("POST",), "health": ("POST",), "config": ("GET",)}
HEALTH_TEXTS = ("printer", "screen", "software", "out_of_service")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    csrf.exempt(bp)  # devices sign their requests; there is no browser session to forge


# --- errors and language -------------------------------------------------------------------
HTTP_ERRORS = {400: "malformed", 404: "not-found", 405: "method-not-allowed", 413: "too-large"}


@bp.errorhandler(Refusal)
def refused(exc: Refusal):
    db.session().rollback()
    return jsonify(exc.answer()), exc.status


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    code = exc.code or 500
    if code == 413:
        return refused(_too_large(request.max_content_length or MAX_PUSH_BYTES))
    return jsonify(
        {"error": HTTP_ERRORS.get(code, f"http-{code}"), "message": exc.description}
    ), code


@bp.before_request
def language() -> None:
    """Devices say which language their staff read (``Accept-Language``)."""
    wanted = request.accept_languages.best_match(LANGUAGES)
    if wanted:
        set_request_language(wanted)


@bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str):
    """JSON, not an HTML page, for paths and methods the API does not have."""
    allowed = ENDPOINTS.get(rest)
    if allowed:
        raise Refusal(
            405,
            "method-not-allowed",
            _("use {methods} for this path").format(methods=", ".join(allowed)),
        )
    raise Refusal(404, "not-found", _("there is no such API path: see docs/sync-protocol.md"))


# --- enrollment -------------------------------------------------------------------------
@bp.post("/enroll")
def enroll():
    """A kiosk trades a one-time code for its identity; the code is the credential."""
    throttle = services().enroll_throttle
    address = request.remote_addr or ""
    if throttle.blocked(address):
        raise Refusal(429, "throttled", _("too many wrong codes: wait 15 minutes, then try again"))
    body = _body(MAX_SMALL_BYTES)
    payload = _json_object(body)
    code = _text(payload, "code", required=True, limit=40)
    public_key = _b64_field(payload, "public_key")
    software = _text(payload, "software", limit=40) or ""
    if len(public_key) != 32:
        raise Refusal(400, "malformed", _("public_key must be 32 bytes (raw Ed25519), in base64"))
    _require_possession(public_key, body)
    session = db.session()
    enrollment = session.scalar(
        select(Enrollment).where(Enrollment.code_hash == enrollment_hash(code))
    )
    if enrollment is None:
        throttle.failed(address)
        raise Refusal(400, "bad-code", _("this enrollment code is not known; check it"))
    device = _enrollable(enrollment, throttle, address)
    device_id = fingerprint(public_key)
    if session.scalar(select(Device.id).where(Device.device_id == device_id)) is not None:
        raise Refusal(
            409,
            "key-in-use",
            _("this device key is already enrolled as {device}").format(device=device_id),
        )
    now = clock.now()
    device.device_id, device.public_key, device.status = device_id, public_key, "active"
    device.enrolled_at = device.last_seen_at = now
    enrollment.used_at = now
    audit("device_enrolled", f"device {device.id}", device_id=device_id, software=software)
    try:
        session.commit()
    except IntegrityError:
        raise Refusal(409, "key-in-use", _("this device key is already enrolled")) from None
    config = device_config(device)
    return jsonify(
        device_id=device_id,
        office={"code": device.office.code, "name": device.office.name},
        counter=device.counter.name if device.counter else None,
        server_public_key=server_public_key_b64(),
        config=config,
        config_sig=sign_ack(config),
    )


def _enrollable(enrollment: Enrollment, throttle: EnrollThrottle, address: str) -> Device:
    if enrollment.used_at is not None:
        throttle.failed(address)
        raise Refusal(
            410, "code-used", _("this enrollment code was already used; ask for a new one")
        )
    if _aware(enrollment.expires_at) < clock.now():
        throttle.failed(address)
        raise Refusal(410, "code-expired", _("this enrollment code has expired; ask for a new one"))
    device = enrollment.device
    if device.status != "pending":
        raise Refusal(
            410,
            "device-not-pending",
            _("the device this code was made for is {status}; register it again").format(
                status=_status_word(device.status)
            ),
        )
    return device


def _require_possession(public_key: bytes, body: bytes) -> None:
    """The enrolling kiosk signs the request with the key it enrolls: nobody can bind a
    key they do not hold (say, another kiosk's) to an office."""
    signature = _signature_header()
    if not verify_signature(public_key, signature, request_message("POST", request.path, body)):
        raise Refusal(401, "bad-signature", _("the request is not signed with the enrolled key"))


# --- records -------------------------------------------------------------------------------
@bp.post("/records")
def push():
    body = _body(MAX_PUSH_BYTES)
    device = _authenticated(body)
    payload = _json_object(body)
    nonce = _text(payload, "nonce", required=True, limit=200)
    items = payload.get("records")
    if not isinstance(items, list):
        raise Refusal(400, "malformed", _("records must be a list"))
    if len(items) > MAX_RECORDS:
        raise Refusal(
            413, "too-many-records", _("at most {limit} records per push").format(limit=MAX_RECORDS)
        )
    batch = [_incoming(position, item) for position, item in enumerate(items)]
    session = db.session()
    outcome = ingest(session, device, batch, services().state_cache)
    if outcome.stored == 0:
        device.last_seen_at = clock.now()
        session.commit()
    ack = {
        "device_id": device.device_id,
        "head_seq": outcome.ack_seq,
        "head_hash": outcome.ack_hash,
        "server_time_ms": clock.now_ms(),
        "nonce": nonce,
    }
    return jsonify(
        stored=outcome.stored,
        duplicates=outcome.duplicates,
        head_seq=outcome.head_seq,
        ack=ack,
        ack_sig=sign_ack(ack),
        config_version=config_version(device),
    )


def _incoming(position: int, item: Any) -> Incoming:
    if not isinstance(item, dict):
        raise Refusal(400, "malformed", _("records[{n}] must be an object").format(n=position))
    seq = item.get("seq")
    if type(seq) is not int or seq < 1:
        raise Refusal(
            400, "malformed", _("records[{n}].seq must be a whole number from 1").format(n=position)
        )
    return Incoming(
        seq,
        _b64_field(item, "data", f"records[{position}]."),
        _b64_field(item, "sig", f"records[{position}]."),
    )


# --- health and configuration -------------------------------------------------------------
@bp.post("/health")
def health():
    body = _body(MAX_SMALL_BYTES)
    device = _authenticated(body)
    payload = _json_object(body)
    report: dict[str, Any] = {}
    unsynced = payload.get("unsynced")
    if unsynced is not None and (type(unsynced) is not int or unsynced < 0):
        raise Refusal(400, "malformed", _("unsynced must be a whole number from 0"))
    report["unsynced"] = unsynced
    quality = payload.get("time_quality")
    if quality is not None and quality not in {q.value for q in TimeQuality}:
        raise Refusal(400, "malformed", _("time_quality must be synced, anchored or unsynced"))
    report["time_quality"] = quality
    for name in HEALTH_TEXTS:
        report[name] = _text(payload, name, limit=MAX_TEXT)
    report["reported_at"] = clock.now().isoformat()
    device.health = report  # a new dict: the JSON column notices the change
    device.last_seen_at = clock.now()
    db.session().commit()
    return jsonify(ok=True, config_version=device_config(device)["version"])


@bp.get("/config")
def config():
    device = _authenticated(_body(MAX_SMALL_BYTES))
    body = device_config(device)
    return jsonify(config=body, sig=sign_ack(body))


VERSION_TTL_S = 30.0


def config_version(device: Device) -> str:
    """The configuration's version for a push answer, worked out at most every 30 s per
    device: a roster change reaches the kiosk that much later, and pushes stay cheap."""
    versions = services().config_versions
    now = clock.monotonic_s()
    known = versions.get(device.id)
    if known is None or now - known[0] > VERSION_TTL_S:
        known = (now, device_config(device)["version"])
        versions[device.id] = known
    return known[1]


def device_config(device: Device) -> dict[str, Any]:
    """What a kiosk shows and records: its office, counter, scale and roster, and the
    results of the office's latest opened box (for the results slip), versioned."""
    office = device.office
    clerks = db.session().scalars(
        select(Clerk)
        .where(Clerk.office_id == office.id, Clerk.active.is_(True))
        .order_by(Clerk.code)
    )
    body: dict[str, Any] = {
        "device_id": device.device_id,
        "office": {"code": office.code, "name": office.name},
        "counter": device.counter.name if device.counter else None,
        "buttons": [{"name": b.name, "label": b.label, "level": b.level} for b in office.scale],
        "clerks": [
            {
                "id": c.code,
                "name": c.name,
                "title": c.title or "",
                "survey_url": url_for(
                    "survey.answer", office_code=office.code, clerk_code=c.code, _external=True
                ),
            }
            for c in clerks
        ],
        "results": office_results(office.id),
    }
    body["version"] = hashlib.sha256(canonical_bytes(body)).hexdigest()
    return body


def office_results(office_id: int) -> dict[str, Any] | None:
    """The office's totals of its most recently opened box, for the kiosk's results slip;
    None before its first opening. Only opened boxes, and only the office totals of the
    minutes' main count: never a sealed box, never a clerk, counter or field."""
    opening = db.session().scalar(
        select(Opening)
        .where(Opening.office_id == office_id, Opening.status == Opening.OPENED)
        .order_by(Opening.opened_at.desc(), Opening.id.desc())
        .limit(1)
    )
    if opening is None or opening.minutes is None:
        return None
    minutes = json.loads(opening.minutes)
    count = minutes["count"]
    return {
        "box": opening.box,
        "opened_at": minutes["opened_at"],
        "votes": count["votes"],
        "by_level": {level.value: count["by_level"].get(level.value, 0) for level in Level},
        "minutes_hash": opening.minutes_hash,
    }


# --- request plumbing ----------------------------------------------------------------------
def _body(limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    request.max_content_length = limit  # also enforced while reading a chunked body
    return request.get_data(cache=True)


def _too_large(limit: int) -> Refusal:
    return Refusal(
        413, "too-large", _("the request is larger than {limit} bytes").format(limit=limit)
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        raise Refusal(400, "malformed", _("the body is not valid JSON")) from None
    if not isinstance(value, dict):
        raise Refusal(400, "malformed", _("the body must be a JSON object"))
    return value


def _text(payload: dict[str, Any], name: str, *, limit: int, required: bool = False) -> str | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value) or len(value) > limit:
        raise Refusal(
            400,
            "malformed",
            _("{name} must be a text of at most {limit} characters").format(name=name, limit=limit),
        )
    return value


def _b64_field(payload: dict[str, Any], name: str, where: str = "") -> bytes:
    value = payload.get(name)
    try:
        if not isinstance(value, str):
            raise ValueError
        return base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        raise Refusal(
            400, "malformed", _("{name} must be base64 text").format(name=where + name)
        ) from None


def _signature_header() -> bytes:
    text = request.headers.get(SIGNATURE_HEADER, "")
    try:
        return base64.b64decode(text, validate=True) if text else b""
    except (ValueError, binascii.Error):
        return b""


def _authenticated(body: bytes) -> Device:
    """The device that signed this request; 401 unknown or forged, 403 revoked."""
    device_id = request.headers.get(DEVICE_HEADER, "")
    if not device_id:
        raise Refusal(
            401,
            "unauthenticated",
            _("sign the request: headers {device} and {signature}").format(
                device=DEVICE_HEADER, signature=SIGNATURE_HEADER
            ),
        )
    device = db.session().scalar(select(Device).where(Device.device_id == device_id[:40]))
    if device is None or device.public_key is None:
        raise Refusal(
            401,
            "unknown-device",
            _("no device {device} is enrolled here").format(device=device_id[:40]),
        )
    message = request_message(request.method, request.path, body)
    if not verify_signature(device.public_key, _signature_header(), message):
        raise Refusal(401, "bad-signature", _("the request signature does not verify"))
    if device.status == "revoked":
        when = device.revoked_at
        raise Refusal(
            403,
            "revoked",
            _(
                "this device was revoked on {date}: its records are refused; ask the technician"
            ).format(date=_date(when)),
        )
    if device.status != "active":
        raise Refusal(403, "not-active", _("this device is not active"))
    return device


def _status_word(status: str) -> str:
    return {"active": _("already enrolled"), "revoked": _("revoked by a technician")}.get(
        status, status
    )


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _date(moment: datetime | None) -> str:
    if moment is None:
        return "?"
    return formatting.date_time(int(_aware(moment).timestamp() * 1000))
