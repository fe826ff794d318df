"""``POST /api/v1/health`` and ``GET /api/v1/config``: what a device reports, and the
signed configuration it runs with (office, counter, scale, roster, latest results, and the
public keys its boxes are sealed to, months ahead, with the province's escrow key).

Nothing here carries counts of a sealed box: the configuration's ``results`` are the
office totals of the latest box its committee has opened (for the results slip).
"""

from __future__ import annotations

import json

from flask import Response, jsonify, url_for
from sqlalchemy import select

from hom_phieu.ledger.records import Level
from hom_phieu.protocol.models import (
    ConfigAnswer,
    DeviceConfig,
    HealthAnswer,
    HealthReport,
    OfficeRef,
    OfficeResults,
    RosterClerk,
    ScaleButton,
    SealKeyRef,
)
from web import clock, db, fleet_history
from web.api_v1_requests import MAX_SMALL_BYTES, authenticated, body, read
from web.box_keys import office_keyring
from web.models import Clerk, Device, Opening
from web.server_key import sign_ack
from web.services import services

VERSION_TTL_S = 30.0


def health() -> Response:
    data = body(MAX_SMALL_BYTES)
    device = authenticated(data)
    report = read(data, HealthReport.from_json)
    fleet_history.keep(db.session(), device, report.to_json(), clock.now())  # (and kept)
    db.session().commit()
    return jsonify(HealthAnswer(config_version=device_config(device).version).to_json())


def config() -> Response:
    device = authenticated(body(MAX_SMALL_BYTES))
    current = device_config(device)
    return jsonify(ConfigAnswer(current, sign_ack(current.to_json())).to_json())


def config_version(device: Device) -> str:
    """The configuration's version for a push answer, worked out at most every 30 s per
    device: a roster change reaches the kiosk that much later, and pushes stay cheap."""
    versions = services().config_versions
    now = clock.monotonic_s()
    known = versions.get(device.id)
    if known is None or now - known[0] > VERSION_TTL_S:
        known = (now, device_config(device).version)
        versions[device.id] = known
    return known[1]


def device_config(device: Device) -> DeviceConfig:
    """What a kiosk shows and records: its office, counter, scale and roster, the
    results of the office's latest opened box (for the results slip) and the keys its
    boxes are sealed to, versioned."""
    office = device.office
    ring = office_keyring(db.session(), office)
    clerks = db.session().scalars(
        select(Clerk)
        .where(Clerk.office_id == office.id, Clerk.active.is_(True))
        .order_by(Clerk.code)
    )
    return DeviceConfig.versioned(
        device_id=device.device_id or "",
        office=OfficeRef(office.code, office.name),
        counter=device.counter.name if device.counter else None,
        buttons=tuple(ScaleButton(b.name, b.label, Level(b.level)) for b in office.scale),
        clerks=tuple(
            RosterClerk(
                id=c.code,
                name=c.name,
                title=c.title or "",
                survey_url=url_for(
                    "survey.answer", office_code=office.code, clerk_code=c.code, _external=True
                ),
            )
            for c in clerks
        ),
        results=office_results(office.id),
        seal_keys=tuple(SealKeyRef.of(box, key) for box, key in sorted(ring.boxes.items())),
        escrow_key=None if ring.escrow is None else SealKeyRef.of(None, ring.escrow),
    )


def office_results(office_id: int) -> OfficeResults | None:
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
    return OfficeResults(
        box=opening.box,
        opened_at=minutes["opened_at"],
        votes=count["votes"],
        by_level={level: count["by_level"].get(level.value, 0) for level in Level},
        minutes_hash=opening.minutes_hash,
    )
