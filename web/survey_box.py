"""The office's phone-survey box, kept straight in the server's database.

Phone answers are sealed like a kiosk's ballots: signed, chained records of a device of
the office (``devices.kind = "survey"``), in monthly boxes with OPEN and CLOSE, so
verification, sealing, counting, supplements and receipts are the kiosks' own. The
server writes them itself, with the same :class:`~hom_phieu.ledger.writer.RecordWriter`
the kiosk's ballot box uses, in the caller's transaction together with the answer's
bookkeeping (its ticket claim, its rate-limit row): one commit, nothing on the server's
disk but the database, so any number of server processes can take answers at once.

Each answer's opinion (level, button, criteria, comment; a refused answer's button) is
sealed to the office's box key of the month, else to the province's escrow key
(:func:`web.box_keys.office_keyring`, looked up at most every 30 s per office), before
it is signed: the database holds no answer's opinion in clear.

The survey device's key is derived from the server key and the office's id (never its
code, which an administrator may rename): every server process that holds the server key
signs as the same device, and no key file per office exists.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from hom_phieu.clock import ClockReading, box_of
from hom_phieu.i18n import _
from hom_phieu.ledger.ballot_box import Receipt
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.errors import BallotBoxError
from hom_phieu.ledger.events import RefusalReason
from hom_phieu.ledger.opinion import KeyRing
from hom_phieu.ledger.records import Channel, Kind, Level, receipt_code
from hom_phieu.ledger.timing import Stamp, TimeState, stamp
from hom_phieu.ledger.writer import Prepared, RecordWriter, Spec
from web import clock, survey_flood
from web.box_keys import office_keyring
from web.device_state import StateCache, device_verifier, insert_rows, move_head, row_of
from web.models import Device, Office
from web.server_key import server_key
from web.services import services

SURVEY_LABEL = "Khảo sát qua điện thoại"  # the phone survey's device, as the office sees it
ATTEMPTS = 5  # writers racing for the same office's next record: the loser tries again
KEYS_TTL_S = 30.0  # a key dealt for the month reaches the phone answers that much later
SERVER_BOOT = {"software": "hom-phieu server", "kernel_boot_id": "server",
               "clock_synced": True, "config_digest": None}  # fmt: skip

Bookkeeping = Callable[[Session], None]


class SurveyUnavailable(BallotBoxError):
    """The answer could not be stored (the database kept refusing): nothing was written."""


def survey_key(office: Office) -> DeviceKey:
    """The office's survey device key: derived from the server key and the office's id."""
    return _derived(server_key(), office.id)


@lru_cache(maxsize=4096)
def _derived(key: DeviceKey, office_id: int) -> DeviceKey:
    """(Derived once per server key and office: a few offices answer all day.)"""
    return key.derive(f"phone-survey office {office_id}")


def survey_keys(session: Session, office: Office) -> KeyRing:
    """The keys the office's phone answers seal to, looked up at most every 30 s (two
    queries saved on each answer). The ring spans last month to a year ahead, so a ring
    a few seconds old still holds the month that has just begun."""
    cached = services().seal_keys
    now = clock.monotonic_s()
    known = cached.get(office.id)
    if known is None or now - known[0] > KEYS_TTL_S:
        known = (now, office_keyring(session, office))
        cached[office.id] = known
    return known[1]


def survey_device(session: Session, office: Office) -> Device:
    """The office's phone-survey device, registered (in the caller's transaction) on first
    use. Locked for the rest of the transaction where the database can lock a row."""
    key = survey_key(office)
    query = select(Device).where(Device.device_id == key.device_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    device = session.scalar(query)
    if device is None:
        now = clock.now()
        device = Device(office_id=office.id, kind="survey", label=SURVEY_LABEL,
                        device_id=key.device_id, public_key=key.public_raw, status="active",
                        enrolled_at=now, last_seen_at=now)  # fmt: skip
        session.add(device)
        session.flush()  # a second process registering it too loses here, and tries again
    return device


def cast(
    session: Session,
    office: Office,
    cache: StateCache,
    *,
    clerk: str,
    button: str,
    level: Level,
    detail: Mapping[str, Any],
    bookkeeping: Bookkeeping | None = None,
) -> Receipt:
    """Record one phone answer, committed with ``bookkeeping``'s rows; its receipt."""

    def specs(writer: RecordWriter) -> list[Spec]:
        state = writer.verifier.state
        votes = state.open_box.votes if state.open_box else 0
        body = {"counter": votes + 1, "clerk": clerk, "button": button,
                "level": Level(level).value, "channel": Channel.PHONE.value, **detail}  # fmt: skip
        return [(Kind.VOTE, body)]

    prepared = _write(session, office, cache, specs, bookkeeping)
    vote = prepared.records[-1]
    return Receipt(seq=vote.seq, box=vote.box, counter=vote.body["counter"],
                   code=receipt_code(vote.hash), wall_ms=vote.wall_ms,
                   time_quality=vote.tq.value)  # fmt: skip


def refuse(
    session: Session,
    office: Office,
    cache: StateCache,
    *,
    reason: RefusalReason,
    clerk: str,
    bookkeeping: Bookkeeping | None = None,
) -> None:
    """Record a refused phone answer (never counted), committed with ``bookkeeping``; in a
    flood, summed (:mod:`web.survey_flood`)."""
    now = clock.now()

    def specs(_writer: RecordWriter) -> list[Spec]:
        return survey_flood.admit(session, office.id, reason, clerk, now)

    _write(session, office, cache, specs, bookkeeping)


def close_if_due(session: Session, office: Office, cache: StateCache) -> None:
    """Close the office's survey box when its month is over (before a ceremony counts it),
    so the box's CLOSE is there even in a month that ended without answers (and any
    flood's sum before it)."""
    _write(session, office, cache, lambda _writer: [], None, closing=True)


def _write(
    session: Session,
    office: Office,
    cache: StateCache,
    specs_of: Callable[[RecordWriter], list[Spec]],
    bookkeeping: Bookkeeping | None,
    *,
    closing: bool = False,
) -> Prepared:
    failure: Exception | None = None
    for _attempt in range(ATTEMPTS):
        try:
            if bookkeeping is not None:
                bookkeeping(session)
            device = survey_device(session, office)
            verifier = device_verifier(session, device, cache)
            writer = RecordWriter(survey_key(office), verifier, survey_keys(session, office))
            moment = _moment(verifier.state.last_wall_ms)
            sums = survey_flood.due_sums(session, office.id, clock.now(), closing=closing)
            opening = _opening_specs(writer, moment)  # (the sums in the box they belong to)
            opening = [*sums, *opening] if verifier.state.open_box else [*opening, *sums]
            before = writer.prepare(moment, opening, boot=verifier.state.boot + 1)
            writer.adopt(before)
            own = writer.prepare(moment, specs_of(writer))  # (after the OPEN: its counter)
            writer.adopt(own)
            signed = before.signed + own.signed
            if signed:
                received = clock.now()
                insert_rows(session, [row_of(device, record, sig, received)
                                      for record, sig in signed])  # fmt: skip
                move_head(device, verifier.state)
                device.last_seen_at = received
            session.commit()
        except (IntegrityError, OperationalError) as exc:  # another writer won the race, or
            session.rollback()  # the database is busy (or full): try again, then give up
            failure = exc
            continue
        cache.put(device.device_id or "", verifier.state)
        return Prepared(signed, verifier.state)
    raise SurveyUnavailable(
        _("the answer could not be stored ({reason})").format(reason=type(failure).__name__)
    ) from failure


def _moment(last_wall_ms: int) -> Stamp:
    """Now, by the server's clock: the time every kiosk anchors to, so it is trusted."""
    reading = clock.clock().read()
    trusted = ClockReading(wall_ms=reading.wall_ms, mono_ns=reading.mono_ns, synced=True)
    return stamp(TimeState(last_wall_ms=last_wall_ms), trusted)


def _opening_specs(writer: RecordWriter, moment: Stamp) -> list[Spec]:
    """What must come before an answer: the device's first BOOT and OPEN, or the CLOSE of
    a month that is over and the OPEN of the present one."""
    state = writer.verifier.state
    if state.head_seq == 0:
        return [(Kind.BOOT, {**SERVER_BOOT, "clock_ms": moment.wall_ms}), (Kind.OPEN, {})]
    open_box = state.open_box
    if open_box is not None and box_of(moment.wall_ms) > open_box.box:
        return [(Kind.CLOSE, {}), (Kind.OPEN, {})]
    return []
