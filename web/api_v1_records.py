"""``POST /api/v1/records``: a device pushes its ledger; the answer is a signed ack.

The checks themselves are :func:`web.ingest.ingest`'s; here the push is read, handed
over, and answered with what the server now vouches for.
"""

from __future__ import annotations

from functools import partial

from flask import Response, jsonify

from hom_phieu.protocol.models import Ack, PushAnswer, PushRequest
from web import clock, db
from web.api_v1_config import config_version
from web.api_v1_requests import MAX_PUSH_BYTES, MAX_RECORDS, authenticated, body, read
from web.ingest import Incoming, ingest
from web.server_key import sign_ack
from web.services import services


def push() -> Response:
    data = body(MAX_PUSH_BYTES)
    device = authenticated(data)
    pushed = read(data, partial(PushRequest.from_json, max_records=MAX_RECORDS))
    batch = [Incoming(record.seq, record.data, record.sig) for record in pushed.records]
    session = db.session()
    outcome = ingest(session, device, batch, services().state_cache)
    if outcome.stored == 0:
        device.last_seen_at = clock.now()
        session.commit()
    ack = Ack(
        device_id=device.device_id or "",
        head_seq=outcome.ack_seq,
        head_hash=outcome.ack_hash,
        server_time_ms=clock.now_ms(),
        nonce=pushed.nonce,
    )
    answer = PushAnswer(
        stored=outcome.stored,
        duplicates=outcome.duplicates,
        head_seq=outcome.head_seq,
        ack=ack,
        ack_sig=sign_ack(ack.to_json()),
        config_version=config_version(device),
    )
    return jsonify(answer.to_json())
