"""Full verification of a device's ledger: every link, every signature, every rule.

Pure: it reads rows handed to it and returns the first problem, named and explained,
so the device at start-up, ``hom-phieu kiosk verify`` and (later) the server all apply
the same checks. What is checked, in ledger order:

* the row decodes as a canonical record of a known version;
* it belongs to this device (its fingerprint) and its signature verifies;
* its sequence number is the next one (else: removed, reordered or inserted records);
* it links to the hash of the record before it (else: a replaced record);
* every field fits the record grammar (``hom_phieu.ledger.grammar``: types, allowed
  words, sizes), so nothing after this reads a list where a word belongs;
* wall time never goes backwards (but at a clock correction: ``hom_phieu.ledger.correction``);
  boot counters step by one;
* the format never goes back from 2 (opinions sealed) to 1 (in clear);
* the box grammar: BOOT first; OPEN only when no box is open, with a zero report;
  VOTE/REFUSED only into the open box, ballot counters stepping by one; CLOSE seals
  exactly the counts recomputed from the box's records and the hash of the record
  before it, and is always followed by the OPEN of the next box (they are written in
  one transaction), so a ledger that ends in a CLOSE has been truncated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hom_phieu.clock import local_iso
from hom_phieu.i18n import _
from hom_phieu.ledger.correction import correction_problem, is_correction
from hom_phieu.ledger.events import EventType
from hom_phieu.ledger.faults import Fault, Problem
from hom_phieu.ledger.grammar import record_problem
from hom_phieu.ledger.records import Kind, Record, RecordFormatError, decode
from hom_phieu.ledger.state import BoxTally, LedgerState

__all__ = ["LedgerWalk", "Row", "Verifier", "good_signatures", "verify_records", "verify_rows"]


@dataclass(slots=True)
class Row:
    """A stored record as it lies in the database: its key, bytes and signature. (Not
    frozen: an opening makes a million, and a frozen dataclass is made five times slower.)"""

    seq: int
    data: bytes
    sig: bytes


def good_signatures(public_key_raw: bytes, signed: Iterable[tuple[bytes, bytes]]) -> list[bool]:
    """Whether each (data, signature) pair verifies under the device key: the one thing a
    worker process is given to do while the walk applies the rules (``web.parallel``)."""
    key = Ed25519PublicKey.from_public_bytes(public_key_raw)
    answers = []
    for data, sig in signed:
        try:
            key.verify(sig, data)
        except InvalidSignature:
            answers.append(False)
        else:
            answers.append(True)
    return answers


class Verifier:
    """Walks records in order, checking each against everything before it.

    Used whole by :func:`verify_rows`, and record by record by the ballot box as it
    appends, so a record that would break the rules is never written.
    """

    def __init__(self, public_key_raw: bytes, device_id: str) -> None:
        self._public_key = Ed25519PublicKey.from_public_bytes(public_key_raw)
        self.device_id = device_id
        self.state = LedgerState()

    def signature_ok(self, data: bytes, sig: bytes) -> bool:
        try:
            self._public_key.verify(sig, data)
        except InvalidSignature:
            return False
        return True

    def is_own(self, row: Row) -> bool:
        """Whether ``row`` holds a record of this device, numbered as the row says, and
        signed by its key (a copy offered to repair or stand in for a held record)."""
        try:
            record = decode(row.data)
        except RecordFormatError:
            return False
        return (
            record.seq == row.seq
            and record.device == self.device_id
            and self.signature_ok(row.data, row.sig)
        )

    def check_rule(self, record: Record, placed: bool = False) -> tuple[Fault, str] | None:
        """Why ``record`` may not follow the ledger so far, or None. Does not change state.

        The record grammar comes first: every rule after it may trust the fields' types.
        ``placed``: the walk checked its device, seq and link already."""
        malformed = record_problem(record, placed)
        if malformed is not None:
            return Fault.MALFORMED, malformed
        if record.wall_ms < self.state.last_wall_ms and not is_correction(record):
            return Fault.TIME_BACKWARDS, _(
                "wall time runs backwards: {wall} is before {last}"
            ).format(wall=local_iso(record.wall_ms), last=local_iso(self.state.last_wall_ms))
        reason = self._rule_problem(record)
        return (Fault.RULE, reason) if reason is not None else None

    def _rule_problem(self, record: Record) -> str | None:
        state = self.state
        kind, body = record.kind, record.body
        if state.head_seq == 0 and kind is not Kind.BOOT:
            return _("the ledger must begin with a BOOT record")
        if kind is Kind.BOOT:
            if record.boot != state.boot + 1:
                return _("boot counter {boot} does not follow {previous}").format(
                    boot=record.boot, previous=state.boot
                )
        elif record.boot != state.boot:
            return _("boot counter {boot} differs from the current boot {current}").format(
                boot=record.boot, current=state.boot
            )
        last = state.last_record
        if last is not None and record.fields["v"] < last.fields["v"]:
            return _(
                "a record in clear (format {version}) after sealed records: a ledger never "
                "goes back to storing opinions in clear"
            ).format(version=record.fields["v"])
        if last is not None and last.kind is Kind.CLOSE and kind is not Kind.OPEN:
            return _("a CLOSE must be followed by the OPEN of the next box")
        open_box = state.open_box
        expected_box = open_box.box if open_box else ""
        if kind is Kind.OPEN:
            if open_box is not None:
                return _("box {box} opened while box {open} is still open").format(
                    box=record.box, open=open_box.box
                )
            if is_correction(record):  # goes back to the server's time: its own rule
                correction = correction_problem(record, state)
                if correction is not None:
                    return correction
            elif state.closed_boxes and record.box <= state.closed_boxes[-1]:
                return _("box {box} does not come after closed box {closed}").format(
                    box=record.box, closed=state.closed_boxes[-1]
                )
            if body.get("votes") != 0 or body.get("refused") != 0:
                return _("the zero report of an OPEN must show 0 ballots and 0 refused presses")
            previous_close = last.hash if last is not None and last.kind is Kind.CLOSE else None
            if body.get("previous_close") != previous_close:
                return _("the OPEN does not name the CLOSE before it")
            return None
        if record.box != expected_box:
            return _('record in box "{box}" while the open box is "{open}"').format(
                box=record.box, open=expected_box
            )
        if kind is Kind.VOTE:
            if open_box is None:
                return _("a VOTE while no box is open")
            if body.get("counter") != open_box.votes + 1:
                return _("ballot counter {counter} does not follow {previous}").format(
                    counter=body.get("counter"), previous=open_box.votes
                )
        elif kind is Kind.CLOSE:
            if open_box is None:
                return _("a CLOSE while no box is open")
            if body.get("last_hash") != state.head_hash:
                return _("the CLOSE does not seal the hash of the record before it")
            if body.get("open_seq") != open_box.open_seq:
                return _("the CLOSE names the wrong OPEN")
            expected = open_box.seal(record.fields["v"])
            if {name: body.get(name) for name in expected} != expected:
                return _("the CLOSE counts differ from the records of its box")
        return None

    def accept(self, record: Record) -> None:
        """Advance the state past ``record`` (already checked)."""
        state = self.state
        kind = record.kind
        if kind is Kind.BOOT:
            state.boot = record.boot
            state.last_boot = record
        elif kind is Kind.OPEN:
            state.open_box = BoxTally(box=record.box, open_seq=record.seq)
        elif kind is Kind.VOTE:
            assert state.open_box is not None
            state.open_box.add_vote(record)
        elif kind is Kind.REFUSED and state.open_box is not None:
            state.open_box.refused += 1
        elif kind is Kind.CLOSE:
            state.closed_boxes.append(record.box)
            state.open_box = None
        elif kind is Kind.EVENT:
            event_type = record.body.get("type")
            if event_type == EventType.CLERK_ON_DUTY:
                state.clerk_on_duty = record.body.get("clerk")
            elif event_type == EventType.RESULTS_SLIP:
                state.results_slips.add(record.body.get("box", ""))
        state.head_seq = record.seq
        state.head_hash = record.hash
        state.last_wall_ms = record.wall_ms
        state.last_record = record


class LedgerWalk:
    """Verified records of a ledger, one at a time, stopping at the first problem.

    Iterate it to get each record once it has passed every check; afterwards
    :attr:`problem` names what stopped the walk (None: the whole ledger is intact) and
    :attr:`verifier` holds the state after the last good record. Streams: one row and
    the one after it are in memory at a time, so a year of records verifies in flat
    memory. Only on the failure path is the rest read, to tell a reordered record from
    a removed one.

    ``complete``: the rows are the whole ledger, so one that ends in a CLOSE was
    truncated (the device writes a CLOSE and the next OPEN in one transaction). A copy
    still being received, as on the server, may end between them.
    """

    def __init__(
        self,
        rows: Iterable[Row],
        public_key_raw: bytes,
        device_id: str,
        complete: bool = True,
        verifier: Verifier | None = None,
        position: int = 0,
    ) -> None:
        # ``verifier``: one of the caller's making (e.g. with signatures checked ahead, or
        # resuming from a checkpoint: ``position`` rows were verified before these).
        self.verifier = verifier or Verifier(public_key_raw, device_id)
        self.problem: Problem | None = None
        self._rows, self._complete, self._position = rows, complete, position

    def __iter__(self) -> Iterator[Record]:
        verifier = self.verifier
        iterator = iter(self._rows)
        current = _decoded(next(iterator, None))
        position = self._position
        while current is not None:
            position += 1
            following = _decoded(next(iterator, None))
            self.problem = _check_position(verifier, position, current, following, iterator)
            if self.problem is not None:
                return
            record = current[1]
            assert record is not None
            verifier.accept(record)
            yield record
            current = following
        last = verifier.state.last_record
        if self._complete and last is not None and last.kind is Kind.CLOSE:
            self.problem = Problem(
                position,
                last.seq,
                Fault.TRUNCATED,
                _(
                    "the ledger ends with the CLOSE of box {box} without the OPEN of the next "
                    "box that is always written with it: records after it were removed"
                ).format(box=last.box),
            )


def verify_rows(
    rows: Iterable[Row], public_key_raw: bytes, device_id: str
) -> tuple[Problem | None, Verifier]:
    """Check a whole ledger. Returns the first problem (or None) and the verifier's state."""
    walk = LedgerWalk(rows, public_key_raw, device_id)
    for _record in walk:
        pass
    return walk.problem, walk.verifier


Decoded = tuple[Row, Record | None]


def _decoded(row: Row | None) -> Decoded | None:
    if row is None:
        return None
    try:
        return row, decode(row.data)
    except RecordFormatError:
        return row, None


def _later_seqs(following: Decoded | None, rest: Iterator[Row]) -> Iterator[int | None]:
    """Sequence numbers claimed by the rows after the current one (read lazily)."""
    if following is not None:
        yield following[1].seq if following[1] is not None else None
    for row in rest:
        decoded = _decoded(row)
        yield decoded[1].seq if decoded and decoded[1] is not None else None


def _check_position(
    verifier: Verifier,
    position: int,
    current: Decoded,
    following_item: Decoded | None,
    rest: Iterator[Row],
) -> Problem | None:
    row, record = current
    state = verifier.state
    if (  # the usual record, at once (an opening checks a million); else one by one below
        record is not None
        and record.device == verifier.device_id
        and record.seq == state.head_seq + 1
        and record.prev == state.head_hash
        and verifier.signature_ok(record.data, row.sig)
    ):
        broken = verifier.check_rule(record, placed=True)
        return None if broken is None else Problem(position, record.seq, *broken)
    return _position_problem(verifier, position, current, following_item, rest)


def _position_problem(
    verifier: Verifier,
    position: int,
    current: Decoded,
    following_item: Decoded | None,
    rest: Iterator[Row],
) -> Problem | None:
    row, record = current
    following = following_item[1] if following_item is not None else None
    state = verifier.state
    expected_seq = state.head_seq + 1

    def problem(fault: Fault, message: str, seq: int | None = None) -> Problem:
        return Problem(position, seq if seq is not None else row.seq, fault, message)

    if record is None:
        try:
            decode(row.data)
        except RecordFormatError as exc:
            reason = str(exc)
        return problem(
            Fault.UNREADABLE,
            _("the stored bytes are not a record ({reason})").format(reason=reason),
        )
    if record.device != verifier.device_id:
        return problem(
            Fault.FOREIGN,
            _("the record belongs to device {other}, not to this device {device}").format(
                other=record.device, device=verifier.device_id
            ),
            record.seq,
        )
    if not verifier.signature_ok(record.data, row.sig):
        linked = following is not None and following.prev == record.hash
        if linked:
            return problem(
                Fault.BAD_SIGNATURE,
                _(
                    "the content is intact (the next record links to it) but its signature "
                    "does not verify with the device key"
                ),
                record.seq,
            )
        return problem(
            Fault.ALTERED,
            _(
                "the content does not match its signature: the record was changed after it "
                "was written"
            ),
            record.seq,
        )
    if record.seq > expected_seq:
        if expected_seq in _later_seqs(following_item, rest):
            return problem(
                Fault.REORDERED,
                _("record {seq} stands before record {expected}").format(
                    seq=record.seq, expected=expected_seq
                ),
                record.seq,
            )
        message = (
            _("record {first} is missing: removed from the ledger")
            if record.seq == expected_seq + 1
            else _("records {first}–{last} are missing: removed from the ledger")
        )
        return problem(
            Fault.REMOVED, message.format(first=expected_seq, last=record.seq - 1), record.seq
        )
    if record.seq < expected_seq:
        return problem(
            Fault.INSERTED,
            _(
                "a record claiming number {seq} stands where record {expected} belongs: "
                "inserted or duplicated"
            ).format(seq=record.seq, expected=expected_seq),
            record.seq,
        )
    if record.prev != state.head_hash:
        return problem(
            Fault.REPLACED,
            _(
                "it does not link to the record {previous} stored before it: a record was "
                "replaced or inserted here"
            ).format(previous=record.seq - 1),
            record.seq,
        )
    broken = verifier.check_rule(record, placed=True)
    if broken is not None:
        return problem(broken[0], broken[1], record.seq)
    return None


def verify_records(rows: Iterable[Row], public_key_raw: bytes, device_id: str) -> Problem | None:
    """Convenience: just the first problem."""
    return verify_rows(rows, public_key_raw, device_id)[0]
