"""What can go wrong with the ballot box. Catch :class:`BallotBoxError` for all of it:
whenever one is raised, nothing was written and nothing may be acknowledged."""

from __future__ import annotations

from hom_phieu.ledger.faults import Problem


class BallotBoxError(RuntimeError):
    """The ballot box cannot take this record; nothing was written."""


class LedgerStoreError(BallotBoxError):
    """The ledger file cannot be used; the message says why and what to do."""


class LedgerBusyError(LedgerStoreError):
    """Another process already writes to this ledger."""


class DiskFullError(LedgerStoreError):
    """SQLite could not commit for lack of space: nothing was written."""


class LedgerCorruptError(BallotBoxError):
    """Verification found damage: the box refuses to append to it."""

    def __init__(self, problem: Problem | str) -> None:
        self.problem = problem
        super().__init__(f"the ballot box ledger is damaged: {problem}")
