"""Verifying and counting an office's box of a month from the records the server holds.

Pure (no database, no Flask): the caller streams each device's rows in sequence order;
this module walks them with the kiosk's own verifier (:class:`hom_phieu.ledger.verify.LedgerWalk`,
the checks ``hom-phieu kiosk verify`` makes on the device) and counts only records that
passed. Counts are always recomputed from records, never read from stored counters.

One walk over a device's chain serves the whole ceremony: the box being opened (the
main count), late ballots of boxes opened before (their supplements), ballots in
earlier boxes nobody has opened, and the next box's OPEN zero report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hom_phieu.ledger.box_key import BoxPrivateKey
from hom_phieu.ledger.faults import Problem
from hom_phieu.ledger.opinion import SEALED, OpinionError, Unsealer
from hom_phieu.ledger.records import Kind, Level, Record, TimeQuality
from hom_phieu.ledger.state import LedgerState
from hom_phieu.ledger.verify import LedgerWalk, Row
from web.ballot_channels import BallotChannel, TicketRule, no_tickets
from web.clock_ahead import counted_box
from web.parallel import AheadVerifier, SignatureWorkers
from web.tally import Tally

LEVELS = tuple(level.value for level in Level)


@dataclass(slots=True)
class HeldRow(Row):
    """A record as the server holds it: the signed bytes plus the server's own columns."""

    box: str = ""
    office_id: int = 0
    received_ms: int | None = None  # when it reached the server (web.clock_ahead)
    kind: str = ""  # the stored kind column ("": not known), as the bundle files it


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A device's chain verified up to record ``seq`` (of hash ``hash``), and the
    verifier's state after it (:meth:`hom_phieu.ledger.state.LedgerState.to_json`)."""

    seq: int
    hash: str
    state: str


@dataclass(frozen=True, slots=True)
class DeviceRef:
    """What the count needs to know of a device besides its records."""

    pk: int
    device_id: str
    public_key: bytes
    label: str
    counter: str | None
    last_seen_at: datetime | None
    evidence: int = 0  # equivocation evidence held against it
    survey: bool = False  # the server's ledger of phone answers, filed just before counting
    counter_id: int | None = None  # the counter it is registered to (reports group by it)
    # An adopted branch of a forked chain (web.forks): the device its records name and
    # the common prefix's verified state its walk starts from (its public_key: the same's)
    signer: str = ""
    base: Checkpoint | None = None


@dataclass(slots=True)
class DeviceCheck:
    """One device's part of the verification: what its chain says about the box."""

    device: DeviceRef
    records: int = 0  # records of the box verified and counted by this opening
    first_seq: int | None = None
    last_seq: int | None = None
    chain_head: str | None = None
    open_seq: int | None = None
    close_seq: int | None = None
    votes: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    unsynced_votes: int = 0
    uncounted: int = 0  # records of the box held but not verified (after a problem)
    problem: Problem | None = None
    last_verified_seq: int = 0  # of the whole chain
    counted_through: dict[str, int] = field(default_factory=dict)  # box -> last seq counted
    supplement_votes: Counter[str] = field(default_factory=Counter)  # earlier box -> votes
    unopened_votes: Counter[str] = field(default_factory=Counter)  # earlier box -> votes
    next_open: tuple[int, int] | None = None  # (seq, wall_ms) of the next box's OPEN
    # the box a wrong clock chose -> ballots counted here by their arrival (web.clock_ahead)
    ahead_votes: Counter[str] = field(default_factory=Counter)
    resumed_from: int = 0  # the checkpoint's seq the walk started after (0: the genesis)
    # where the next opening may start: every record of the office up to it is in a box
    # opened before or counted now (web.chain_checkpoints)
    checkpoint: Checkpoint | None = None


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A verified VOTE whose sealed opinion could not be read (so not counted): sealed to
    a key not given for this opening (a substituted key), or altered."""

    device_pk: int
    seq: int
    box: str
    key: str  # the fingerprint the record names
    message: str


@dataclass(slots=True)
class BoxCount:
    """The whole count: the main box, its supplements and each device's check.

    ``keys``: the box keys rebuilt for this opening, by fingerprint. None before the
    opening (the ceremony's preview): sealed ballots are then only numbered, in
    ``sealed``, never read."""

    box: str
    main: Tally = field(default_factory=Tally)
    supplements: dict[str, Tally] = field(default_factory=dict)
    devices: list[DeviceCheck] = field(default_factory=list)
    tickets: TicketRule = field(default_factory=lambda: TicketRule(no_tickets))
    # phone answers' times per clerk (wall_ms), official or not: the checklist's bursts
    answer_times: defaultdict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    keys: Mapping[str, BoxPrivateKey] | None = None
    sealed: int = 0  # sealed ballots not read (no keys given: before the opening)
    unreadable: list[Unreadable] = field(default_factory=list)
    keys_used: Counter[str] = field(default_factory=Counter)  # fingerprint -> ballots opened
    _unsealer: Unsealer | None = field(default=None, repr=False)

    @property
    def counter_votes(self) -> int:
        """Ballots of the box cast at the counters (the phone survey's apart): what the
        dossiers returned are compared with (each dossier served gives one press)."""
        return sum(check.votes for check in self.devices if not check.device.survey)

    def merge(self, part: BoxCount) -> None:
        """Add ``part``, the count of further devices walked by another process (merged in
        the devices' order, it is the count one walk over them all would give)."""
        self.main.merge(part.main)
        for box, tally in part.supplements.items():
            self.supplements.setdefault(box, Tally()).merge(tally)
        self.devices += part.devices
        for clerk, times in part.answer_times.items():
            self.answer_times[clerk] += times
        self.sealed += part.sealed
        self.unreadable += part.unreadable
        self.keys_used.update(part.keys_used)

    def forget_keys(self) -> None:
        """Drop the box keys (and what was made of them) once the ballots are read."""
        self.keys, self._unsealer = None, None

    def _unsealed(self, record: Record, keys: Mapping[str, BoxPrivateKey]) -> Mapping[str, Any]:
        if self._unsealer is None:
            self._unsealer = Unsealer(keys)
        return self._unsealer.opened(record)

    def add_vote(self, tally: Tally, device_pk: int, record: Record) -> None:
        """Count a verified VOTE into ``tally`` (the main count's or a supplement's)."""
        body = record.body
        if SEALED in body:
            if self.keys is None:
                self.sealed += 1
                return
            try:
                body = self._unsealed(record, self.keys)
            except OpinionError as error:
                self.unreadable.append(
                    Unreadable(device_pk, record.seq, record.box, error.key, str(error))
                )
                return
            self.keys_used[body_key(record)] += 1
        channel = self.tickets.channel(body, record.wall_ms)
        tally.add(device_pk, body, channel)
        if channel is not BallotChannel.BUTTON:
            self.answer_times[record.body["clerk"]].append(record.wall_ms)


def count_device(
    count: BoxCount,
    device: DeviceRef,
    rows: Iterable[HeldRow],
    *,
    office_id: int,
    next_box: str,
    opened_boxes: frozenset[str],
    already_counted: dict[str, int],
    held_in_box: int,
    start: Checkpoint | None = None,
    workers: SignatureWorkers | None = None,
) -> DeviceCheck:
    """Walk one device's chain and add what it holds for ``count.box`` (and late ballots
    of ``opened_boxes``) to ``count``.

    ``already_counted``: box → last seq of this device that earlier openings counted.
    ``held_in_box``: how many of the device's stored rows (of this office) are filed
    under the box, so that records after a problem are reported as uncounted.
    ``start``: a checkpoint of an earlier opening (``web.chain_checkpoints``): the walk
    goes on from it, with its verifier state, over the rows after it (rows at or before
    it are skipped). ``workers``: the processes checking the signatures ahead (none: here).
    The walk leaves in ``check.checkpoint`` where the next opening may start.
    """
    check = DeviceCheck(device)
    box = count.box
    start = start or device.base  # (an adopted branch begins after the fork point)
    signer = device.signer or device.device_id
    ahead = _Ahead(office_id, box, opened_boxes, already_counted, start.seq if start else 0)
    verifier = AheadVerifier(device.public_key, signer, workers)
    if start is not None:
        verifier.state = LedgerState.from_json(start.state)
        check.resumed_from = check.last_verified_seq = start.seq
        check.checkpoint = start
    walk = LedgerWalk(verifier.checking_ahead(ahead.rows(rows)), device.public_key,
                      signer, complete=False, verifier=verifier,
                      position=check.resumed_from)  # fmt: skip
    settled = True  # every record of the office so far lies in a box opened or counted now
    for record in walk:
        check.last_verified_seq = record.seq
        filed = counted_box(record, ahead.arrivals.pop(record.seq, None))  # or its arrival's
        if ahead.offices.pop(record.seq, None) == office_id:
            _count_record(check, count, record, filed, ahead, next_box)
            settled = settled and ahead.settled(record.box) and ahead.settled(filed)
        if settled and (record.kind is Kind.CLOSE or record.seq + 1 in ahead.unsettled):
            check.checkpoint = Checkpoint(record.seq, record.hash, verifier.state.to_json())
        ahead.unsettled.discard(record.seq)
    state = verifier.state
    if settled and state.head_seq > check.resumed_from:
        check.checkpoint = Checkpoint(state.head_seq, state.head_hash, state.to_json())
    check.problem = walk.problem
    check.uncounted = max(0, held_in_box - check.records)
    count.devices.append(check)
    return check


def _count_record(
    check: DeviceCheck,
    count: BoxCount,
    record: Record,
    filed: str,
    ahead: _Ahead,
    next_box: str,
) -> None:
    """Add one verified record of the office to the count: the main box, a supplement of
    an earlier box opened before, a ballot of an earlier box nobody opened, or the next
    box's OPEN."""
    box = count.box
    dated_ahead = filed != record.box and record.kind is Kind.VOTE
    if filed == box:
        if dated_ahead:
            check.ahead_votes[record.box] += 1
        _count_main(check, count, record)
    elif filed < box:
        if filed not in ahead.opened_boxes:
            if record.kind is Kind.VOTE:
                check.unopened_votes[filed] += 1
        elif record.seq > ahead.already_counted.get(filed, 0):
            check.counted_through[filed] = record.seq
            if dated_ahead:
                check.ahead_votes[record.box] += 1
            if record.kind is Kind.VOTE:
                check.supplement_votes[filed] += 1
                supplement = count.supplements.setdefault(filed, Tally())
                count.add_vote(supplement, check.device.pk, record)
    elif record.box == next_box and record.kind is Kind.OPEN:
        check.next_open = (record.seq, record.wall_ms)


class _Ahead:
    """What the walk notes of the rows as they pass on to the verifier (it reads ahead of
    the records it gives out; each entry is popped as its record comes out): the office
    each row was filed under, when it arrived, and which rows of the office lie in a box
    neither opened before nor counted now (a checkpoint stays before them)."""

    def __init__(
        self,
        office_id: int,
        box: str,
        opened_boxes: frozenset[str],
        already_counted: Mapping[str, int],
        after_seq: int,
    ) -> None:
        self.office_id, self.box, self.after_seq = office_id, box, after_seq
        self.opened_boxes, self.already_counted = opened_boxes, already_counted
        self.offices: dict[int, int] = {}
        self.arrivals: dict[int, int | None] = {}
        self.unsettled: set[int] = set()

    def settled(self, box: str) -> bool:
        """Whether every record of ``box`` is counted once this opening is done ("": the
        records outside any box, which count nowhere)."""
        return box == "" or box == self.box or (box < self.box and box in self.opened_boxes)

    def rows(self, rows: Iterable[HeldRow]) -> Iterator[HeldRow]:
        for row in rows:
            if row.seq <= self.after_seq:
                continue  # verified before, up to the checkpoint
            self.offices[row.seq] = row.office_id
            self.arrivals[row.seq] = row.received_ms
            if row.office_id == self.office_id and not self.settled(row.box):
                self.unsettled.add(row.seq)
            yield row


def _count_main(check: DeviceCheck, count: BoxCount, record: Record) -> None:
    check.records += 1
    if check.first_seq is None:
        check.first_seq = record.seq
    check.last_seq, check.chain_head = record.seq, record.hash
    check.counted_through[count.box] = record.seq  # (a record dated ahead: by its arrival)
    kind = record.kind
    if kind is Kind.VOTE:
        check.votes += 1
        count.add_vote(count.main, check.device.pk, record)
        if record.fields["tq"] == TimeQuality.UNSYNCED:
            check.unsynced_votes += 1
    elif kind is Kind.REFUSED:
        check.refused[record.body.get("reason", "")] += _refusals(record.body)
    elif kind is Kind.OPEN:
        check.open_seq = record.seq
    elif kind is Kind.CLOSE:
        check.close_seq = record.seq


def _refusals(body: dict) -> int:
    """How many refusals a REFUSED record stands for: one, or the number a flood's summing
    record gives (``presses`` on a kiosk, ``answers`` on the phone survey)."""
    for name in ("presses", "answers"):
        number = body.get(name)
        if type(number) is int and number > 0:
            return number
    return 1


def body_key(record: Record) -> str:
    """The fingerprint of the key a sealed record names ("" for one in clear)."""
    sealed = record.body.get(SEALED)
    return sealed["key"] if isinstance(sealed, dict) else ""
