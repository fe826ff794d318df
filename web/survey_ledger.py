"""The phone survey's ballot box on the server: one signed ledger per office.

Phone answers go into the same sealed monthly boxes as the buttons. For each office the
server keeps a ballot box exactly like a kiosk's (:class:`hom_phieu.ledger.ballot_box.BallotBox`:
signed, chained, a monthly OPEN and CLOSE on the server's synchronised clock) in its
instance folder, and files its records as those of the office's *phone survey* device
through the same ingest the kiosks' pushes go through. So the ceremony verifies and
counts phone answers like any device's (channel ``phone``), and nothing of them shows
before the opening. An answer is durable in the office's ledger before it is confirmed;
records not yet filed (a crash in between) are filed by the next call.

A SQLite connection belongs to the thread that made it, and a ledger has one writer: one
thread of the server process owns every office's ledger, and requests hand it their work.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from hom_phieu.clock import Clock, ClockReading
from hom_phieu.ledger.ballot_box import BallotBox, Receipt
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Channel
from hom_phieu.ledger.verify import Row
from web import clock
from web.ingest import Incoming, StateCache, ingest
from web.models import Device, Office

SURVEY_LABEL = "Khảo sát qua điện thoại"  # the phone survey's device, as the office sees it
T = TypeVar("T")
CHECKPOINT_EVERY = 64  # answers between WAL checkpoints (each costs a sync of the file)


class ServerClock:
    """The server's own clock, trusted: it is the time every kiosk anchors to (signed
    acknowledgements), so the survey ledger's months close on it like a synced kiosk's.
    Keep the server on NTP."""

    def __init__(self, base: Clock) -> None:
        self._base = base

    def read(self) -> ClockReading:
        reading = self._base.read()
        return ClockReading(wall_ms=reading.wall_ms, mono_ns=reading.mono_ns, synced=True)


class SurveyLedgers:
    """Every office's phone-survey ledger, owned by one worker thread."""

    def __init__(self, folder: Path, clock: Clock) -> None:
        self._folder = folder
        self._clock = ServerClock(clock)
        self._boxes: dict[str, BallotBox] = {}
        self._ticks: dict[str, int] = {}
        self._identities: dict[str, tuple[str, bytes]] = {}
        self._jobs: queue.Queue[tuple[Callable[[], Any], Future] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="survey-ledgers", daemon=True)
        self._thread.start()

    # --- what requests ask for (each runs on the worker thread) ---------------------------
    def identity(self, office_code: str) -> tuple[str, bytes]:
        """The office's survey device: its id and public key."""
        return self._call(lambda: self._identity(office_code))

    def cast(self, office_code: str, **vote: Any) -> Receipt:
        return self._call(lambda: self._box(office_code).cast_vote(channel=Channel.PHONE, **vote))

    def refuse(self, office_code: str, **refusal: Any) -> None:
        self._call(lambda: self._box(office_code).refuse(**refusal))

    def rows_after(self, office_code: str, seq: int) -> list[Row]:
        """Records after ``seq``, once the month has been closed if it is due."""

        def read() -> list[Row]:
            box = self._box(office_code)
            self._ticks[office_code] = ticks = self._ticks.get(office_code, 0) + 1
            box.tick(checkpoint=ticks % CHECKPOINT_EVERY == 0)
            return list(box.store.iter_rows(after_seq=seq))

        return self._call(read)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=10)

    # --- the worker ------------------------------------------------------------------------
    def _call(self, job: Callable[[], T]) -> T:
        future: Future = Future()
        self._jobs.put((job, future))
        return future.result(timeout=60)

    def _work(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, future = item
            try:
                future.set_result(job())
            except BaseException as exc:  # handed to the request that asked
                future.set_exception(exc)
        for box in self._boxes.values():
            box.close()

    def _key(self, office_code: str) -> DeviceKey:
        return DeviceKey.load_or_create(self._folder / f"{office_code}.key")

    def _identity(self, office_code: str) -> tuple[str, bytes]:
        if office_code not in self._identities:
            key = self._key(office_code)
            self._identities[office_code] = key.device_id, key.public_raw
        return self._identities[office_code]

    def _box(self, office_code: str) -> BallotBox:
        box = self._boxes.get(office_code)
        if box is None:
            self._folder.mkdir(parents=True, exist_ok=True)
            path = self._folder / f"{office_code}.sqlite3"
            box = BallotBox.open(path, self._key(office_code), self._clock)
            self._boxes[office_code] = box
        return box


def survey_device(session: Session, office: Office, ledgers: SurveyLedgers) -> Device:
    """The office's phone-survey device, registered on first use."""
    device_id, public_raw = ledgers.identity(office.code)
    device = session.scalar(select(Device).where(Device.device_id == device_id))
    if device is None:
        now = clock.now()
        device = Device(office_id=office.id, kind="survey", label=SURVEY_LABEL,
                        device_id=device_id,
                        public_key=public_raw, status="active", enrolled_at=now,
                        last_seen_at=now)  # fmt: skip
        session.add(device)
        session.commit()
    return device


def file_pending(
    session: Session, office: Office, ledgers: SurveyLedgers, cache: StateCache
) -> Device:
    """File the office's survey records not yet held (closing the month when due), so the
    server's copy is complete: before every answer and before every count."""
    device = survey_device(session, office, ledgers)
    rows = ledgers.rows_after(office.code, device.head_seq)
    batch = [Incoming(row.seq, row.data, row.sig) for row in rows]
    ingest(session, device, batch, cache)
    return device
