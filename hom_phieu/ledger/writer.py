"""Making a device's next records: the one place that knows how a record is built.

A :class:`RecordWriter` turns what should be written ((kind, body) pairs at a stamped
moment) into records that follow the device's verified ledger: sequence, link, box, the
bodies of CLOSE (the seal, recomputed from the records) and OPEN (the zero report), the
ledger's own rules checked before anything is signed. Storing them is the caller's job,
in one transaction; only then is the new state adopted. The kiosk's ballot box writes
to its SQLite file, the server's phone-survey box to the server's database.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hom_phieu.clock import box_of
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.errors import BallotBoxError
from hom_phieu.ledger.grammar import clear_body_problem
from hom_phieu.ledger.opinion import OPINION_FIELDS, Sealer, SealingSessions, seal_body
from hom_phieu.ledger.records import FORMAT_VERSION, Kind, Record, canonical_bytes
from hom_phieu.ledger.state import LedgerState
from hom_phieu.ledger.timing import Stamp
from hom_phieu.ledger.verify import Verifier

Spec = tuple[Kind, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class Prepared:
    """Signed records ready to store, and the ledger state once they are stored."""

    signed: list[tuple[Record, bytes]]
    state: LedgerState | None  # None: one record, accepted into the current state later

    @property
    def records(self) -> list[Record]:
        return [record for record, _sig in self.signed]


class RecordWriter:
    """Builds, checks and signs records for ``key``'s device against ``verifier``'s state."""

    def __init__(self, key: DeviceKey, verifier: Verifier, sealer: Sealer | None = None) -> None:
        self.key = key
        self.verifier = verifier
        self.sealer = sealer  # None: no key is known (yet), records stay in format 1
        self._sessions = SealingSessions(key.device_id)  # in memory only

    def prepare(
        self,
        moment: Stamp,
        specs: Sequence[Spec],
        *,
        boot: int | None = None,
        new_box: str | None = None,
        open_moment: Stamp | None = None,
    ) -> Prepared:
        """The records of ``specs``, in order, each checked against the ones before it.

        Raises :class:`BallotBoxError` (nothing is changed) when a rule refuses one.
        ``boot``: the boot counter of a BOOT; ``new_box``: the box an OPEN opens (else the
        month of ``moment``); ``open_moment``: the OPEN's own moment (a clock correction's,
        earlier than the CLOSE before it). A single record (a vote: the hot path) is
        checked against the live state, which is not copied.
        """
        verifier = self.verifier
        saved = verifier.state
        several = len(specs) > 1
        verifier.state = copy.deepcopy(saved) if several else saved
        signed: list[tuple[Record, bytes]] = []
        try:
            for kind, spec_body in specs:
                at = open_moment if open_moment is not None and kind is Kind.OPEN else moment
                record = self._build(kind, spec_body, at, boot, new_box)
                broken = verifier.check_rule(record)
                if broken is not None:
                    raise BallotBoxError(f"refusing to write a {kind.value} record: {broken[1]}")
                if several:
                    verifier.accept(record)
                signed.append((record, self.key.sign(record.data)))
            after = verifier.state if several else None
        finally:
            verifier.state = saved
        return Prepared(signed, after)

    def adopt(self, prepared: Prepared) -> None:
        """The records of ``prepared`` are stored: the ledger's state moves past them."""
        if not prepared.signed:
            return
        if prepared.state is None:
            self.verifier.accept(prepared.signed[0][0])
        else:
            self.verifier.state = prepared.state

    def _build(
        self,
        kind: Kind,
        spec_body: Mapping[str, Any],
        moment: Stamp,
        boot: int | None,
        new_box: str | None,
    ) -> Record:
        state = self.verifier.state
        body = dict(spec_body)
        box = state.open_box.box if state.open_box else ""
        if kind is Kind.CLOSE:
            if state.open_box is None:
                raise BallotBoxError("refusing to write a CLOSE record: no box is open")
            body = {
                **state.open_box.seal(self._version(box)),
                "open_seq": state.open_box.open_seq,
                "last_hash": state.head_hash,
            }
        elif kind is Kind.OPEN:
            last = state.last_record
            previous_close = last.hash if last and last.kind is Kind.CLOSE else None
            box = new_box or box_of(moment.wall_ms)
            body = {**body, "votes": 0, "refused": 0, "previous_close": previous_close}
        seq = state.head_seq + 1
        version, body = self._sealed(kind, body, box, seq)
        fields = {
            "v": version,
            "device": self.key.device_id,
            "seq": seq,
            "prev": state.head_hash,
            "kind": kind.value,
            "box": box,
            "wall_ms": moment.wall_ms,
            "tq": moment.tq.value,
            "boot": boot if kind is Kind.BOOT and boot is not None else state.boot,
            "mono_ns": moment.mono_ns,
            "body": body,
        }
        return Record.of(canonical_bytes(fields), fields)

    def _version(self, box: str) -> int:
        """Format 2 once a key is known for ``box`` (or the escrow's), and for ever after
        the ledger's first sealed record; format 1 before (a ledger that never had a key)."""
        last = self.verifier.state.last_record
        if last is not None and last.fields["v"] >= 2:
            return FORMAT_VERSION
        sealer = self.sealer
        return FORMAT_VERSION if sealer is not None and sealer.key_for(box) else 1

    def _sealed(
        self, kind: Kind, body: dict[str, Any], box: str, seq: int
    ) -> tuple[int, dict[str, Any]]:
        version = self._version(box)
        if version < 2 or kind not in OPINION_FIELDS:
            return version, body
        problem = clear_body_problem(kind, body)  # checked in clear: sealed, it is opaque
        if problem is not None:
            raise BallotBoxError(f"refusing to write a {kind.value} record: {problem}")
        key = self.sealer.key_for(box) if self.sealer is not None else None
        if key is None:
            raise BallotBoxError(
                f"no key to seal the opinion of box {box} to (neither the box's nor the "
                "province's escrow key): the ledger seals opinions and never goes back"
            )
        return version, seal_body(kind, body, key.public, self.key.device_id, seq, self._sessions)
