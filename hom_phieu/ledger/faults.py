"""What verification can find wrong with a ledger: the kinds of fault and the problem
report that names the first bad record. Shared by the verifier, ``kiosk verify``, the
server's ingest and the opening's checklist."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hom_phieu.i18n import N_, _


class Fault(StrEnum):
    """The kinds of damage verification tells apart."""

    UNREADABLE = "unreadable"
    ALTERED = "altered"
    BAD_SIGNATURE = "bad-signature"
    FOREIGN = "foreign-key"
    REMOVED = "removed"
    REORDERED = "reordered"
    INSERTED = "inserted"
    REPLACED = "replaced"
    TRUNCATED = "truncated"
    TIME_BACKWARDS = "time-backwards"
    MALFORMED = "malformed"  # a well-signed record whose fields break the record grammar
    RULE = "rule"  # a well-signed record that breaks the box grammar

    @property
    def label(self) -> str:
        """The fault's name in the current language (``value`` stays the stable code)."""
        return _(FAULT_LABELS[self])


FAULT_LABELS = {
    Fault.UNREADABLE: N_("unreadable"),
    Fault.ALTERED: N_("altered"),
    Fault.BAD_SIGNATURE: N_("bad signature"),
    Fault.FOREIGN: N_("foreign key"),
    Fault.REMOVED: N_("removed"),
    Fault.REORDERED: N_("reordered"),
    Fault.INSERTED: N_("inserted"),
    Fault.REPLACED: N_("replaced"),
    Fault.TRUNCATED: N_("truncated"),
    Fault.TIME_BACKWARDS: N_("time backwards"),
    Fault.MALFORMED: N_("malformed record"),
    Fault.RULE: N_("rule broken"),
}


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing wrong with a ledger: where, what kind, and in words."""

    position: int  # 1-based position of the row in ledger order
    seq: int | None  # the sequence number the row claims, if readable
    fault: Fault
    message: str

    def __str__(self) -> str:
        where = (
            _("record {seq}").format(seq=self.seq)
            if self.seq is not None
            else _("row {position}").format(position=self.position)
        )
        return f"{where}: {self.fault.label}: {self.message}"
