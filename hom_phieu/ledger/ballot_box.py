"""The device's sealed monthly ballot box: the only way records get into the ledger.

Every write builds a record, checks it against the verified ledger's rules, signs
it, and commits it in one durable SQLite transaction before anything is
acknowledged. Boxes follow calendar months in Vietnam time; a month is closed
(CLOSE seal, then the next month's OPEN zero report, in one transaction) only at a
moment whose wall time is trusted. Until then votes keep going into the open box,
flagged with their time quality: never dropped.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hom_phieu import __version__
from hom_phieu.clock import Clock, ClockReading, SystemClock, box_of
from hom_phieu.ledger.acks import acked_head_problem
from hom_phieu.ledger.clock_events import clock_specs
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.errors import BallotBoxError, LedgerCorruptError
from hom_phieu.ledger.events import EventType, RefusalReason
from hom_phieu.ledger.opinion import KeyRing, Sealer, SealingKey
from hom_phieu.ledger.records import (
    FORMAT_VERSION,
    Channel,
    Kind,
    Level,
    Record,
    decode,
    receipt_code,
    record_hash,
)
from hom_phieu.ledger.state import BoxTally, LedgerState
from hom_phieu.ledger.store import LedgerStore
from hom_phieu.ledger.timing import (
    ClockFault,
    Stamp,
    TimeState,
    anchor_wanted,
    corrected,
    resumed,
    stamp,
    with_anchor,
)
from hom_phieu.ledger.verify import Verifier, verify_rows
from hom_phieu.ledger.writer import RecordWriter


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the citizen's acknowledgement may say about a committed vote. No level."""

    seq: int
    box: str
    counter: int
    code: str
    wall_ms: int
    time_quality: str


class BallotBox:
    """Open one with :meth:`open`; close it with :meth:`close` (or use ``with``)."""

    def __init__(
        self,
        store: LedgerStore,
        key: DeviceKey,
        clock: Clock,
        verifier: Verifier,
        sealer: Sealer | None = None,
    ) -> None:
        self._store = store
        self._key = key
        self._clock = clock
        self._verifier = verifier
        self._writer = RecordWriter(key, verifier, sealer)
        self._time = TimeState(last_wall_ms=verifier.state.last_wall_ms)
        self.started_at_seq = verifier.state.head_seq  # the ledger's head before this run

    # --- life cycle ------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        ledger_path: Path,
        key: DeviceKey,
        clock: Clock | None = None,
        *,
        kernel_boot_id: str | None = None,
        config_digest: str | None = None,
        sealer: Sealer | None = None,
    ) -> BallotBox:
        """Open (or create) the ledger, verify all of it, and record this start (BOOT).

        ``config_digest`` (a hash of the device configuration) goes into the BOOT record;
        when it differs from the previous start's, a ``config_change`` EVENT follows.
        ``sealer``: the box keys the opinions are sealed to (``hom_phieu.ledger.opinion``);
        None until the device has any, when records stay in clear (format 1).
        """
        clock = clock or SystemClock()
        store = LedgerStore(ledger_path)
        try:
            verifier = _verified(store, key)
            box = cls(store, key, clock, verifier, sealer)
            box._boot(kernel_boot_id or _kernel_boot_id(), config_digest)
        except BaseException:
            store.close()
            raise
        return box

    def close(self) -> None:
        self._store.close()

    def __enter__(self) -> BallotBox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- what the kiosk does ---------------------------------------------------------
    def cast_vote(
        self,
        *,
        clerk: str,
        button: str,
        level: Level,
        channel: Channel = Channel.BUTTON,
        **detail: Any,
    ) -> Receipt:
        """Record one ballot. Returns only once it is durable on disk.

        ``detail``: more of the ballot (a phone answer's criteria and comment), sealed
        with it."""
        _require_text("clerk", clerk)
        _require_text("button", button)
        level, channel = Level(level), Channel(channel)
        moment = self._advance_time()
        counter = self._open_box().votes + 1
        body: dict[str, Any] = {
            "counter": counter,
            "clerk": clerk,
            "button": button,
            "level": level.value,
            "channel": channel.value,
        }
        if detail:  # (most votes have none: nothing extra on the vote path)
            body = _with_details(body, detail)
        (record,) = self._write(moment, [(Kind.VOTE, body)])
        return Receipt(
            seq=record.seq,
            box=record.box,
            counter=counter,
            code=receipt_code(record.hash),
            wall_ms=record.wall_ms,
            time_quality=record.tq.value,
        )

    def refuse(
        self, *, button: str, reason: RefusalReason, clerk: str = "", **detail: Any
    ) -> Record:
        """Record a press refused by the anti-stuffing rules: logged, never counted."""
        _require_text("button", button)
        _require_text("reason", reason)
        moment = self._advance_time()
        # str(): the plain word (the grammar checks exact types; a StrEnum is a subclass)
        body = _with_details({"button": button, "reason": str(reason), "clerk": clerk}, detail)
        (record,) = self._write(moment, [(Kind.REFUSED, body)])
        return record

    def event(self, event_type: EventType, **detail: Any) -> Record:
        """Record a device event: a fault, a configuration change, a clock change…"""
        _require_text("event type", event_type)
        moment = self._advance_time()
        body = _with_details({"type": str(event_type)}, detail)
        (record,) = self._write(moment, [(Kind.EVENT, body)])
        return record

    def record_time_anchor(self, server_wall_ms: int, mono_ns: int, **detail: Any) -> Record:
        """Remember a server-signed time taken at ``mono_ns`` of this run, and log it."""
        self._time = with_anchor(self._time, server_wall_ms, mono_ns, self._clock.read())
        return self.event(EventType.TIME_ANCHOR, server_wall_ms=server_wall_ms, **detail)

    def anchor_wanted(self, server_wall_ms: int, mono_ns: int) -> bool:
        """Whether a server time (an ack's) tells this run something: see ``timing``."""
        return anchor_wanted(self._time, server_wall_ms, mono_ns, self._clock.read())

    def peek_time(self) -> Stamp:
        """The time a record written now would carry, and its doubts; writes nothing."""
        return stamp(self._time, self._clock.read())

    def tick(self, checkpoint: bool = True) -> list[Record]:
        """Called from the main loop between votes: notes clock jumps, closes the month when
        it is due, and checkpoints the WAL (kept out of the votes' commits) unless told not
        to (a caller that ticks on every vote checkpoints less often)."""
        before = self._verifier.state.head_seq
        self._advance_time()
        if checkpoint:
            self._store.checkpoint()
        return self.records_after(before)

    def use_keys(self, sealer: Sealer | None) -> None:
        """The box keys to seal to from now on (a new signed configuration brought them).

        Key rings are merged, the new one first: a configuration that lacks a key the
        device held (an older or misconfigured server) never leaves a sealed ledger with
        nothing to seal to, which would stop the votes."""
        held = self._writer.sealer
        if isinstance(sealer, KeyRing) and isinstance(held, KeyRing):
            sealer = KeyRing({**held.boxes, **sealer.boxes}, sealer.escrow or held.escrow)
        elif sealer is None:
            sealer = held
        self._writer.sealer = sealer

    @property
    def sealing_key(self) -> SealingKey | None:
        """The key the open box's opinions are sealed to now (None: not sealed: no key)."""
        sealer, box = self._writer.sealer, self._verifier.state.open_box
        return sealer.key_for(box.box) if sealer is not None and box is not None else None

    # --- what others may read ----------------------------------------------------------
    @property
    def device_id(self) -> str:
        return self._key.device_id

    @property
    def state(self) -> LedgerState:
        """The verified ledger's state (counts of the open box are sealed: don't show them)."""
        return self._verifier.state

    def records_after(self, seq: int) -> list[Record]:
        return [decode(row.data) for row in self._store.iter_rows(after_seq=seq)]

    @property
    def store(self) -> LedgerStore:
        return self._store

    # --- internals -----------------------------------------------------------------
    def _open_box(self) -> BoxTally:
        box = self._verifier.state.open_box
        if box is None:  # only before the very first OPEN, which _boot writes
            raise BallotBoxError("no box is open")
        return box

    def _boot(self, kernel_boot_id: str, config_digest: str | None) -> None:
        previous = self._verifier.state.last_boot
        previous_digest = previous.body.get("config_digest") if previous else None
        same_kernel = (  # monotonic time still counts from the last run's start
            previous is not None
            and kernel_boot_id != str(uuid.UUID(int=0))
            and previous.body.get("kernel_boot_id") == kernel_boot_id
        )
        reading = self._clock.read()
        self._time = resumed(self._time.last_wall_ms, self._verifier.state.last_record,
                             same_kernel, reading)  # fmt: skip
        moment = stamp(self._time, reading)
        body = {
            "software": __version__,
            "kernel_boot_id": kernel_boot_id,
            "clock_ms": reading.wall_ms,
            "clock_synced": reading.synced,
            "config_digest": config_digest,
        }
        specs: list[tuple[Kind, dict[str, Any]]] = [(Kind.BOOT, body)]
        if self._verifier.state.open_box is None:
            specs.append((Kind.OPEN, {}))  # the first box: the month the clock shows
        self._write(moment, specs, boot=self._verifier.state.boot + 1)
        self._settle(moment, reading, None)
        if previous is not None and config_digest != previous_digest:
            self.event(
                EventType.CONFIG_CHANGE, previous_digest=previous_digest, digest=config_digest
            )

    def _advance_time(self) -> Stamp:
        """Stamp the present and settle what the clock did (see :meth:`_settle`)."""
        reading = self._clock.read()
        return self._settle(stamp(self._time, reading), reading, self._time.fault)

    def _settle(self, moment: Stamp, reading: ClockReading, fault: ClockFault | None) -> Stamp:
        """Log a clock jump and a clock fault's start or end (``fault``: the last one
        written); go back to the server's time when it and this machine's clock both say the
        ledger's is far ahead; close the month if a trusted clock says so."""
        for _round in range(2):
            specs = clock_specs(fault, moment)
            if specs:
                self._write(moment, specs)
            fault = moment.fault
            if moment.correction is None or self._verifier.state.open_box is None:
                break
            self._correct(moment)  # CLOSE the box dated ahead, reopen the server's month
            moment = stamp(self._time, reading)
        self._roll_over_if_due(moment)
        return moment

    def _correct(self, moment: Stamp) -> None:
        back = corrected(moment)
        assert moment.correction is not None
        body = {"corrected_from_ms": moment.correction.abandoned_ms,
                "server_wall_ms": moment.correction.server_wall_ms}  # fmt: skip
        specs: list[tuple[Kind, dict[str, Any]]] = [(Kind.CLOSE, {}), (Kind.OPEN, body)]
        self._write(moment, specs, new_box=box_of(back.wall_ms), open_moment=back)

    def _roll_over_if_due(self, moment: Stamp) -> None:
        open_box = self._verifier.state.open_box
        if open_box is None or not moment.tq.trusted:
            return
        new_box = box_of(moment.wall_ms)
        if new_box <= open_box.box:
            return
        self._write(
            moment,
            [(Kind.CLOSE, {}), (Kind.OPEN, {})],  # bodies are made by _write
            new_box=new_box,
        )

    def _write(
        self,
        moment: Stamp,
        specs: list[tuple[Kind, dict[str, Any]]],
        *,
        boot: int | None = None,
        new_box: str | None = None,
        open_moment: Stamp | None = None,
    ) -> list[Record]:
        """Build, check, sign and commit ``specs`` as one transaction; then advance state."""
        prepared = self._writer.prepare(
            moment, specs, boot=boot, new_box=new_box, open_moment=open_moment
        )
        self._store.append(
            [(r.seq, r.kind.value, r.box, r.data, sig) for r, sig in prepared.signed]
        )
        self._writer.adopt(prepared)
        self._time = (open_moment or moment).state
        return prepared.records


def _verified(store: LedgerStore, key: DeviceKey) -> Verifier:
    """Check the file, its identity and every record; refuse to go on if anything is wrong."""
    damage = store.integrity_problem()
    if damage is not None:
        raise LedgerCorruptError(f"SQLite integrity check failed: {damage}")
    meta = store.meta()
    public_b64 = base64.b64encode(key.public_raw).decode()
    if not meta:
        store.init_meta(
            {"device_id": key.device_id, "public_key": public_b64, "format": str(FORMAT_VERSION)}
        )
    elif meta.get("public_key") != public_b64:
        raise LedgerCorruptError(
            f"the ledger belongs to device {meta.get('device_id')}, but the device key is "
            f"{key.device_id}: restore the matching key file, never a new one"
        )
    problem, verifier = verify_rows(store.iter_rows(), key.public_raw, key.device_id)
    if problem is None:  # records cut below what the server holds: appending would fork
        problem = acked_head_problem(
            store.acked(), verifier.state, lambda seq: _hash_at(store, seq)
        )
    if problem is not None:
        raise LedgerCorruptError(problem)
    return verifier


def _hash_at(store: LedgerStore, seq: int) -> str | None:
    row = store.row_at(seq)
    return record_hash(row.data) if row is not None else None


def _with_details(body: dict[str, Any], detail: Mapping[str, Any]) -> dict[str, Any]:
    clash = sorted(set(body) & set(detail))
    if clash:
        raise BallotBoxError(f"details may not redefine {', '.join(clash)}")
    return {**body, **detail}


def _require_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise BallotBoxError(f"{name} must be a non-empty text, got {value!r}")


def _kernel_boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return str(uuid.UUID(int=0))


__all__ = ["BallotBox", "BallotBoxError", "LedgerCorruptError", "Receipt"]
