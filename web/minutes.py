"""The minutes of an opening (biên bản mở hòm phiếu) as a typed, frozen model.

One :class:`Minutes` object is what the opening writes and what every rendering reads (the
printable page, the PDF, the XLSX, the CSV, the public results). Its JSON
(:meth:`Minutes.to_json`) is the contract of ``docs/minutes-format.md``: its canonical bytes
are stored with the box and their SHA-256 is the content hash printed on every page, so the
JSON must never change for the same minutes. :meth:`Minutes.from_json` reads stored minutes
back, refusing anything that would not give the same bytes again (unknown or missing keys,
wrong types, times not written the canonical way).

Pure: no database, no Flask. Every field carries a one-line ``doc`` in its metadata;
``tools/minutes_docs.py`` writes the field reference of ``docs/minutes-format.md`` from them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from hom_phieu.ledger.faults import Fault
from web.minutes_changes import ChangeEntry
from web.minutes_count import (
    ClerkChannelRow,
    ClerkRow,
    Comment,
    Count,
    CountRow,
    LevelCounts,
    Supplement,
)
from web.minutes_json import Json, MinutesFormatError, Reader, doc, iso, opt_iso
from web.minutes_seal import Seal, ShareGiver

MINUTES_FORMAT = 1
COMMITTEE_ROLES = (  # web.models.CommitteeRole.ALL (the model stays free of the ORM)
    "ubnd_leader",
    "ubnd_deputy",
    "mttq_chair",
    "union_rep",
    "one_stop_clerk",
    "secretary",
)


class Severity(StrEnum):
    """How bad a check's finding is (and a device's status: its worst check)."""

    OK = "ok"
    WARNING = "warning"  # the committee may open anyway, giving a reason the minutes print
    FAULT = "fault"  # the chain is damaged: records after the damage are not counted


# --- the parts ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfficeHeader:
    """The office whose box was opened, as the header of the minutes names it."""

    code: str = field(metadata=doc("the office's code"))
    name: str = field(metadata=doc("the office's name (the issuing body's second line)"))
    unit: str = field(metadata=doc("its administrative unit (the issuing body's first line)"))
    parent_unit: str | None = field(metadata=doc("the unit above it, if any"))

    def to_json(self) -> Json:
        return {
            "code": self.code,
            "name": self.name,
            "unit": self.unit,
            "parent_unit": self.parent_unit,
        }

    @classmethod
    def from_json(cls, data: object, where: str = "office") -> OfficeHeader:
        r = Reader(data, where)
        made = cls(r.text("code"), r.text("name"), r.text("unit"), r.opt_text("parent_unit"))
        r.done()
        return made


@dataclass(frozen=True, slots=True)
class QuorumSize:
    """How many members had to confirm, of how many active members."""

    required: int = field(metadata=doc("confirmations the office requires"))
    members: int = field(metadata=doc("active members of the office's committee at the opening"))

    def to_json(self) -> Json:
        return {"required": self.required, "members": self.members}

    @classmethod
    def from_json(cls, data: object, where: str = "quorum") -> QuorumSize:
        r = Reader(data, where)
        made = cls(r.integer("required"), r.integer("members"))
        r.done()
        return made


@dataclass(frozen=True, slots=True)
class Attendee:
    """A member present: one who confirmed, or the secretary running the screen."""

    name: str = field(metadata=doc("the member's full name"))
    committee_role: str = field(
        metadata=doc("ubnd_leader, ubnd_deputy, mttq_chair, union_rep, one_stop_clerk or secretary")
    )
    confirmed_at: datetime = field(
        metadata=doc("when the member confirmed (the secretary at the screen: when she started)")
    )

    def to_json(self) -> Json:
        return {
            "name": self.name,
            "committee_role": self.committee_role,
            "confirmed_at": iso(self.confirmed_at),
        }

    @classmethod
    def from_json(cls, data: object, where: str = "attendee") -> Attendee:
        r = Reader(data, where)
        made = cls(r.text("name"), r.text("committee_role"), r.time("confirmed_at"))
        r.done()
        if made.committee_role not in COMMITTEE_ROLES:
            raise MinutesFormatError(f"{where}.committee_role: unknown {made.committee_role!r}")
        return made


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first damaged record of a device's chain."""

    seq: int | None = field(metadata=doc("the sequence number the record claims, if readable"))
    fault: Fault = field(
        metadata=doc("the kind of damage (the ledger's fault codes: altered, removed, …)")
    )
    message: str = field(metadata=doc("what is wrong, in words (Vietnamese)"))

    def to_json(self) -> Json:
        return {"seq": self.seq, "fault": self.fault.value, "message": self.message}

    @classmethod
    def from_json(cls, data: object, where: str = "problem") -> ChainProblem:
        r = Reader(data, where)
        made = cls(r.opt_integer("seq"), r.enum("fault", Fault), r.text("message"))
        r.done()
        return made


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """One device's part of the verification."""

    device_id: str = field(metadata=doc("the device's id (hp-…)"))
    label: str = field(metadata=doc("the device's label"))
    counter: str | None = field(metadata=doc("the counter it is registered to, if any"))
    status: Severity = field(metadata=doc("the worst severity among its checks"))
    records: int = field(metadata=doc("records of this box held and verified"))
    first_seq: int | None = field(metadata=doc("first seq of the box's verified records"))
    last_seq: int | None = field(metadata=doc("last seq of the box's verified records"))
    chain_head: str | None = field(metadata=doc("hash of the last verified record of the box"))
    open_seq: int | None = field(metadata=doc("seq of the box's OPEN (zero report), if held"))
    close_seq: int | None = field(metadata=doc("seq of the box's CLOSE, if held"))
    votes: int = field(metadata=doc("ballots counted from this device"))
    refused: Mapping[str, int] = field(metadata=doc("refused presses by reason (not counted)"))
    unsynced_votes: int = field(
        metadata=doc("ballots cast while the device's clock was not synchronised")
    )
    uncounted: int = field(metadata=doc("records of the box after a fault: held, not counted"))
    problem: ChainProblem | None = field(metadata=doc("the first damaged record, if any"))
    last_seen_at: datetime | None = field(metadata=doc("the device's last contact with the server"))
    evidence: int = field(
        metadata=doc("conflicting records held against this device (equivocation)")
    )

    def to_json(self) -> Json:
        return {
            "device_id": self.device_id,
            "label": self.label,
            "counter": self.counter,
            "status": self.status.value,
            "records": self.records,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "chain_head": self.chain_head,
            "open_seq": self.open_seq,
            "close_seq": self.close_seq,
            "votes": self.votes,
            "refused": dict(sorted(self.refused.items())),
            "unsynced_votes": self.unsynced_votes,
            "uncounted": self.uncounted,
            "problem": None if self.problem is None else self.problem.to_json(),
            "last_seen_at": opt_iso(self.last_seen_at),
            "evidence": self.evidence,
        }

    @classmethod
    def from_json(cls, data: object, where: str = "device") -> DeviceEntry:
        r = Reader(data, where)
        made = cls(
            device_id=r.text("device_id"),
            label=r.text("label"),
            counter=r.opt_text("counter"),
            status=r.enum("status", Severity),
            records=r.integer("records"),
            first_seq=r.opt_integer("first_seq"),
            last_seq=r.opt_integer("last_seq"),
            chain_head=r.opt_text("chain_head"),
            open_seq=r.opt_integer("open_seq"),
            close_seq=r.opt_integer("close_seq"),
            votes=r.integer("votes"),
            refused=r.obj("refused", _int_map),
            unsynced_votes=r.integer("unsynced_votes"),
            uncounted=r.integer("uncounted"),
            problem=r.opt_obj("problem", ChainProblem.from_json),
            last_seen_at=r.opt_time("last_seen_at"),
            evidence=r.integer("evidence"),
        )
        r.done()
        return made


def _int_map(data: object, where: str) -> dict[str, int]:
    r = Reader(data, where)
    values = {key: r.integer(key) for key in sorted(r.data)}
    r.done()
    return values


@dataclass(frozen=True, slots=True)
class CheckEntry:
    """One finding of the verification checklist, in the checklist's order."""

    code: str = field(
        metadata=doc(
            "what was checked: chain, records, open, close, sync, refused, clock, …, committee "
            "(a change of the committee)"
        )
    )
    severity: Severity = field(metadata=doc("how bad the finding is"))
    device_id: str = field(metadata=doc("the device it is about (empty: the office as a whole)"))
    message: str = field(
        metadata=doc("the finding in words, in the language of the minutes (Vietnamese)")
    )

    def to_json(self) -> Json:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "device_id": self.device_id,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: object, where: str = "check") -> CheckEntry:
        r = Reader(data, where)
        made = cls(
            r.text("code"), r.enum("severity", Severity), r.text("device_id"), r.text("message")
        )
        r.done()
        return made


@dataclass(frozen=True, slots=True)
class NextBoxDevice:
    """A device's OPEN (zero report) of the next box."""

    device_id: str = field(metadata=doc("the device's id"))
    label: str = field(metadata=doc("the device's label"))
    open_seq: int = field(metadata=doc("seq of its OPEN record"))
    opened_at: datetime = field(metadata=doc("the OPEN's wall time"))

    def to_json(self) -> Json:
        return {
            "device_id": self.device_id,
            "label": self.label,
            "open_seq": self.open_seq,
            "opened_at": iso(self.opened_at),
        }

    @classmethod
    def from_json(cls, data: object, where: str = "device") -> NextBoxDevice:
        r = Reader(data, where)
        made = cls(r.text("device_id"), r.text("label"), r.integer("open_seq"), r.time("opened_at"))
        r.done()
        return made


@dataclass(frozen=True, slots=True)
class NextBox:
    """The box now collecting, and the zero reports of it held so far."""

    box: str = field(metadata=doc("the next month's box, YYYY-MM"))
    devices: tuple[NextBoxDevice, ...] = field(metadata=doc("OPEN zero reports held so far"))

    def to_json(self) -> Json:
        return {"box": self.box, "devices": [device.to_json() for device in self.devices]}

    @classmethod
    def from_json(cls, data: object, where: str = "next_box") -> NextBox:
        r = Reader(data, where)
        made = cls(r.text("box"), r.items("devices", NextBoxDevice.from_json))
        r.done()
        return made


@dataclass(frozen=True, slots=True)
class Minutes:
    """The whole minutes: everything the committee signs, frozen with the box."""

    format: int = field(metadata=doc("the version of this format: 1"))
    office: OfficeHeader = field(metadata=doc("the office whose box was opened"))
    box: str = field(metadata=doc("the month, YYYY-MM"))
    started_at: datetime = field(metadata=doc("when the ceremony started"))
    opened_at: datetime = field(metadata=doc("when the box was opened"))
    place: str = field(metadata=doc("the place line of the header (the office's unit)"))
    early_reason: str | None = field(
        metadata=doc("why the box was opened before its month's last working day")
    )
    warnings_reason: str | None = field(
        metadata=doc("why the box was opened despite warnings or faults")
    )
    dossiers_returned: int | None = field(
        metadata=doc("dossiers returned that month (none: no participation)")
    )
    quorum: QuorumSize = field(metadata=doc("the quorum"))
    attendees: tuple[Attendee, ...] = field(
        metadata=doc(
            "everyone present: the members who confirmed and the secretary running the screen, "
            "in order of time"
        )
    )
    devices: tuple[DeviceEntry, ...] = field(metadata=doc("the verification, one entry per device"))
    checks: tuple[CheckEntry, ...] = field(metadata=doc("the checklist, in order"))
    count: Count = field(metadata=doc("the main count of the box"))
    supplements: tuple[Supplement, ...] = field(
        metadata=doc("late ballots of boxes opened before, by box")
    )
    next_box: NextBox = field(metadata=doc("the next box, already sealed and collecting"))
    changes: tuple[ChangeEntry, ...] | None = field(
        default=None,
        metadata=doc(
            "the changes made to the settings that reach the office (scale, working calendar, "
            "…) and to its committee (members, roles, quorum, password resets, confirmation "
            "codes) from the first day of the month (or the previous opening, if earlier) to "
            "the opening, in order; absent when there were none"
        ),
    )
    seal: Seal | None = field(
        default=None,
        metadata=doc(
            "how the box was unsealed: the box key's fingerprint, who typed a share, the "
            "escrow if used; absent for a box without a box key opened without it, and in "
            "minutes written before boxes were sealed by keys"
        ),
    )

    def to_json(self) -> Json:
        """The JSON object of ``docs/minutes-format.md`` (hash its canonical bytes)."""
        data: Json = {
            "format": self.format,
            "office": self.office.to_json(),
            "box": self.box,
            "started_at": iso(self.started_at),
            "opened_at": iso(self.opened_at),
            "place": self.place,
            "early_reason": self.early_reason,
            "warnings_reason": self.warnings_reason,
            "dossiers_returned": self.dossiers_returned,
            "quorum": self.quorum.to_json(),
            "attendees": [attendee.to_json() for attendee in self.attendees],
            "devices": [device.to_json() for device in self.devices],
            "checks": [check.to_json() for check in self.checks],
            "count": self.count.to_json(),
            "supplements": [supplement.to_json() for supplement in self.supplements],
            "next_box": self.next_box.to_json(),
        }
        if self.changes is not None:
            data["changes"] = [change.to_json() for change in self.changes]
        if self.seal is not None:
            data["seal"] = self.seal.to_json()
        return data

    @classmethod
    def from_json(cls, data: object, where: str = "minutes") -> Minutes:
        """Stored minutes read back; :class:`MinutesFormatError` names what does not fit."""
        r = Reader(data, where)
        made = cls(
            format=r.integer("format"),
            office=r.obj("office", OfficeHeader.from_json),
            box=r.text("box"),
            started_at=r.time("started_at"),
            opened_at=r.time("opened_at"),
            place=r.text("place"),
            early_reason=r.opt_text("early_reason"),
            warnings_reason=r.opt_text("warnings_reason"),
            dossiers_returned=r.opt_integer("dossiers_returned"),
            quorum=r.obj("quorum", QuorumSize.from_json),
            attendees=r.items("attendees", Attendee.from_json),
            devices=r.items("devices", DeviceEntry.from_json),
            checks=r.items("checks", CheckEntry.from_json),
            count=r.obj("count", Count.from_json),
            supplements=r.items("supplements", Supplement.from_json),
            next_box=r.obj("next_box", NextBox.from_json),
            changes=r.opt_items("changes", ChangeEntry.from_json),
            seal=r.absent_or_obj("seal", Seal.from_json),
        )
        r.done()
        if made.format != MINUTES_FORMAT:
            raise MinutesFormatError(f"{where}.format: {made.format}, not {MINUTES_FORMAT}")
        return made

    @classmethod
    def from_bytes(cls, stored: bytes | str) -> Minutes:
        """Minutes as stored with the box (``openings.minutes``)."""
        try:
            data = json.loads(stored)
        except ValueError as error:
            raise MinutesFormatError(f"minutes: not JSON: {error}") from None
        return cls.from_json(data)

    def device_labels(self) -> dict[str, str]:
        """Each device's label by its id (a check names its device by id)."""
        return {device.device_id: device.label for device in self.devices}


# The parts, outermost first: the order of the field reference in docs/minutes-format.md.
PARTS: tuple[type, ...] = (
    Minutes,
    OfficeHeader,
    QuorumSize,
    Attendee,
    DeviceEntry,
    ChainProblem,
    CheckEntry,
    Count,
    LevelCounts,
    ClerkRow,
    ClerkChannelRow,
    CountRow,
    Comment,
    Supplement,
    NextBox,
    NextBoxDevice,
    ChangeEntry,
    Seal,
    ShareGiver,
)

__all__ = [
    "COMMITTEE_ROLES",
    "MINUTES_FORMAT",
    "PARTS",
    "Attendee",
    "ChainProblem",
    "ChangeEntry",
    "CheckEntry",
    "ClerkChannelRow",
    "ClerkRow",
    "Comment",
    "Count",
    "CountRow",
    "DeviceEntry",
    "LevelCounts",
    "Minutes",
    "MinutesFormatError",
    "NextBox",
    "NextBoxDevice",
    "OfficeHeader",
    "QuorumSize",
    "Seal",
    "Severity",
    "ShareGiver",
    "Supplement",
    "iso",
]
