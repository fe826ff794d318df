"""The ledger's SQLite file: append-only rows, durable on commit.

WAL journal with ``synchronous=FULL``: a COMMIT returns only after the WAL is on
disk, so a record acknowledged after :meth:`LedgerStore.append` survives SIGKILL and
power loss. Triggers refuse UPDATE and DELETE of records and of the device identity,
so no code path (and no careless sqlite3 session) can rewrite history; a determined
attacker who drops the triggers is caught by verification instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

from hom_phieu.ledger.errors import DiskFullError, LedgerBusyError, LedgerStoreError
from hom_phieu.ledger.verify import Row

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    seq  INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    box  TEXT NOT NULL,
    data BLOB NOT NULL,   -- the canonical record bytes, exactly as signed
    sig  BLOB NOT NULL    -- Ed25519 signature of data by the device key
);
CREATE TRIGGER IF NOT EXISTS records_append_only_update BEFORE UPDATE ON records
BEGIN SELECT RAISE(ABORT, 'ledger records are append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS records_append_only_delete BEFORE DELETE ON records
BEGIN SELECT RAISE(ABORT, 'ledger records are append-only: DELETE refused'); END;
CREATE TRIGGER IF NOT EXISTS meta_write_once_update BEFORE UPDATE ON ledger_meta
BEGIN SELECT RAISE(ABORT, 'ledger identity is write-once: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS meta_write_once_delete BEFORE DELETE ON ledger_meta
BEGIN SELECT RAISE(ABORT, 'ledger identity is write-once: DELETE refused'); END;
-- Sync progress is bookkeeping, not evidence: the one mutable table.
CREATE TABLE IF NOT EXISTS sync_progress (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    acked_seq  INTEGER NOT NULL,
    acked_hash TEXT NOT NULL,
    acked_at_ms INTEGER NOT NULL
);
"""


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, synchronous=FULL."""
    if readonly:
        if not path.exists():
            raise LedgerStoreError(f"no ledger at {path}")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


class LedgerStore:
    """Reads and appends rows. One writer per file, enforced with a lock file."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.readonly = readonly
        self._lock_fd: int | None = None
        if not readonly:
            self._lock_fd = _take_writer_lock(path)
        try:
            self.conn = connect(path, readonly=readonly)
            if not readonly:
                self.conn.executescript(_SCHEMA)
                # No automatic checkpoint inside a vote's COMMIT: the main loop runs it
                # between votes (checkpoint()), so a citizen never waits for it.
                self.conn.execute("PRAGMA wal_autocheckpoint=0")
        except (sqlite3.Error, OSError) as exc:
            self._release_lock()
            raise LedgerStoreError(f"ledger {path} cannot be opened as SQLite: {exc}") from None

    def close(self) -> None:
        self.conn.close()
        self._release_lock()

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # --- identity --------------------------------------------------------------
    def meta(self) -> dict[str, str]:
        try:
            return dict(self.conn.execute("SELECT key, value FROM ledger_meta"))
        except sqlite3.DatabaseError as exc:
            raise LedgerStoreError(f"ledger {self.path} is unreadable: {exc}") from None

    def init_meta(self, values: dict[str, str]) -> None:
        with self.transaction():
            self.conn.executemany(
                "INSERT INTO ledger_meta (key, value) VALUES (?, ?)", sorted(values.items())
            )

    # --- records ---------------------------------------------------------------
    def rows(self) -> list[Row]:
        return list(self.iter_rows())

    def iter_rows(self, after_seq: int = 0) -> Iterator[Row]:
        cursor = self.conn.execute(
            "SELECT seq, data, sig FROM records WHERE seq > ? ORDER BY seq", (after_seq,)
        )
        for seq, data, sig in cursor:
            yield Row(seq, bytes(data), bytes(sig))

    def row_at(self, seq: int) -> Row | None:
        found = self.conn.execute("SELECT data, sig FROM records WHERE seq = ?", (seq,)).fetchone()
        return Row(seq, bytes(found[0]), bytes(found[1])) if found else None

    def append(self, entries: Sequence[tuple[int, str, str, bytes, bytes]]) -> None:
        """Write (seq, kind, box, data, sig) rows in one durable transaction."""
        try:
            with self.transaction():
                self.conn.executemany(
                    "INSERT INTO records (seq, kind, box, data, sig) VALUES (?, ?, ?, ?, ?)",
                    entries,
                )
        except sqlite3.Error as exc:  # full, read-only, I/O error, corrupt: nothing written
            if "full" in str(exc).lower():
                raise DiskFullError(
                    f"the disk holding {self.path} is full: nothing was recorded"
                ) from None
            raise LedgerStoreError(f"ledger {self.path}: write failed: {exc}") from None

    def checkpoint(self) -> None:
        """Copy committed WAL frames into the database file (durability does not depend on
        it: a committed record is safe in the WAL). Cheap when there is nothing to copy."""
        # A reader holding the WAL or a full disk: the next tick tries again.
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def integrity_problem(self) -> str | None:
        """SQLite's own check of the file's structure; None when it is sound."""
        try:
            result = [row[0] for row in self.conn.execute("PRAGMA integrity_check")]
        except sqlite3.DatabaseError as exc:
            return str(exc)
        return None if result == ["ok"] else "; ".join(result[:5])

    def record_count(self) -> int:
        count: int = self.conn.execute("SELECT count(*) FROM records").fetchone()[0]
        return count

    def count_by_kind(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT kind, count(*) FROM records GROUP BY kind"))

    # --- sync bookkeeping --------------------------------------------------------
    def acked(self) -> tuple[int, str] | None:
        """The head (seq, hash) of the server's last acknowledgement; None before any.

        Raises :class:`LedgerStoreError` when what is stored is not a seq and a hash
        (SQLite keeps whatever a hand with a plain connection put there)."""
        row = self.conn.execute("SELECT acked_seq, acked_hash FROM sync_progress").fetchone()
        if row is None:
            return None
        seq, record_hash = row
        if type(seq) is not int or type(record_hash) is not str:
            raise LedgerStoreError(
                f"ledger {self.path}: the stored acknowledgement is not a record number and "
                "a hash: the file was edited by hand"
            )
        return seq, record_hash

    def set_acked(self, seq: int, record_hash: str, at_ms: int) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT INTO sync_progress (id, acked_seq, acked_hash, acked_at_ms) "
                "VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET acked_seq = excluded.acked_seq,"
                " acked_hash = excluded.acked_hash, acked_at_ms = excluded.acked_at_ms",
                (seq, record_hash, at_ms),
            )

    def transaction(self) -> _Transaction:
        return _Transaction(self.conn)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, rolled back on any error."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                self.conn.execute("COMMIT")
                return
            except sqlite3.Error:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")


def _take_writer_lock(path: Path) -> int:
    lock_path = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:  # a read-only or full SD card, a missing mount
        raise LedgerStoreError(
            f"cannot open the ballot box at {path}: {exc.strerror or exc}; check that its "
            "disk is mounted read-write and has space"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LedgerBusyError(
            f"another process is writing to the ballot box {path} (lock {lock_path}); "
            "stop it first (systemctl stop hom-phieu-kiosk)"
        ) from None
    return fd
