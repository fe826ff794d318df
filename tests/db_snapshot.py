"""A costly server state built once per test session, then copied into each test's database.

``built_once(app, name, build)`` runs ``build()`` on ``app`` the first time, and keeps what it
made: the whole database (SQLite: a copy of the file; PostgreSQL: every table's rows in a
schema of their own, and each sequence's value), the server key (phone answers are signed
with a key derived from it), the server clock and what ``build`` returned. A later call on
the same database kind, starting from the same rows (compared by a digest of every table),
gets that database copied into its own, the key and the clock: exactly where the first test
stood after its build. A test that starts from other rows builds again (and keeps that too).

Each test still has a database of its own: it may write whatever it likes.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path
from typing import TypeVar, cast

from sqlalchemy import Connection, Engine, create_engine, inspect, text

from web.server_key import KEY_FILE
from web.services import services

T = TypeVar("T")

_FOREIGN_KEYS = text(
    "SELECT c.relname, p.relname FROM pg_constraint k "
    "JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid "
    "WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace"
)
_SEQUENCES = text(
    "SELECT sequencename, last_value FROM pg_sequences "
    "WHERE schemaname = 'public' AND last_value IS NOT NULL"
)


@dataclass(frozen=True)
class _Saved:
    result: object  # what the build returned
    wall_ms: int  # the server's clock after the build
    server_key: bytes
    copy: str  # the SQLite file, or the PostgreSQL schema holding the rows
    tables: tuple[str, ...] = ()  # PostgreSQL: in an order that inserts parents first
    sequences: tuple[tuple[str, int], ...] = ()  # PostgreSQL: (name, last value)


_SAVED: dict[tuple[str, str, str], _Saved] = {}
_FOLDER: list[tempfile.TemporaryDirectory] = []  # the SQLite copies, gone with the session
_SCHEMAS: dict[str, list[str]] = {}  # PostgreSQL URL -> the schemas to drop at the end


def built_once(app, name: str, build: Callable[[], T]) -> T:
    """``build()`` on ``app``'s database, or a copy of what it made from the same start."""
    engine = services(app).engine
    start = (name, engine.dialect.name, _digest(engine))
    saved = _SAVED.get(start)
    if saved is None:
        result = build()
        _SAVED[start] = _save(app, result, f"{name}_{len(_SAVED)}")
        return result
    _restore(app, saved)
    return cast(T, saved.result)


def _tables(connection: Connection) -> list[str]:
    return sorted(set(inspect(connection).get_table_names()) - {"alembic_version"})


def _digest(engine: Engine) -> str:
    """Every row of every table, in a stable order: the database's starting point."""
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for table in _tables(connection):
            rows = connection.execute(text(f'SELECT * FROM "{table}"'))
            digest.update(f"{table}:{sorted(repr(tuple(row)) for row in rows)}".encode())
    return digest.hexdigest()


def _save(app, result: object, name: str) -> _Saved:
    held = services(app)
    key_path = Path(app.instance_path) / KEY_FILE
    key = key_path.read_bytes() if key_path.exists() else b""
    engine = held.engine
    if engine.dialect.name == "sqlite":
        if not _FOLDER:
            _FOLDER.append(tempfile.TemporaryDirectory(prefix="hom-phieu-built-"))
        target = Path(_FOLDER[0].name) / f"{name}.sqlite3"
        with (
            contextlib.closing(sqlite3.connect(engine.url.database)) as source,
            contextlib.closing(sqlite3.connect(target)) as copy,
        ):
            source.backup(copy)
        return _Saved(result, held.clock.read().wall_ms, key, str(target))
    schema = f"built_{name}".lower()
    with engine.begin() as connection:
        tables = _tables(connection)
        parents: dict[str, set[str]] = {table: set() for table in tables}
        for child, parent in connection.execute(_FOREIGN_KEYS):
            if child != parent and child in parents:
                parents[child].add(parent)
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        for table in tables:
            connection.execute(text(f'CREATE TABLE "{schema}"."{table}" AS TABLE "{table}"'))
        sequences = tuple((name, value) for name, value in connection.execute(_SEQUENCES))
    if not _SCHEMAS:
        atexit.register(_drop_schemas)
    _SCHEMAS.setdefault(engine.url.render_as_string(hide_password=False), []).append(schema)
    order = tuple(TopologicalSorter(parents).static_order())
    return _Saved(result, held.clock.read().wall_ms, key, schema, order, sequences)


def _restore(app, saved: _Saved) -> None:
    held = services(app)
    engine = held.engine
    if engine.dialect.name == "sqlite":
        engine.dispose()  # no connection of the app's pool holds the old pages
        with (
            contextlib.closing(sqlite3.connect(saved.copy)) as source,
            contextlib.closing(sqlite3.connect(engine.url.database)) as live,
        ):
            source.backup(live)
    else:
        with engine.begin() as connection:
            connection.execute(text("SET LOCAL synchronous_commit = off"))  # a test's copy
            quoted = ", ".join(f'"{table}"' for table in saved.tables)
            connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
            for table in saved.tables:
                connection.execute(text(f'INSERT INTO "{table}" OVERRIDING SYSTEM VALUE '
                                        f'SELECT * FROM "{saved.copy}"."{table}"'))  # fmt: skip
            for sequence, value in saved.sequences:
                connection.execute(text("SELECT setval(:s, :v)"), {"s": sequence, "v": value})
    if saved.server_key:
        key_path = Path(app.instance_path) / KEY_FILE
        key_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(saved.server_key)
        held.server_key = None  # read again from the file
    held.clock.set_wall(saved.wall_ms)


def _drop_schemas() -> None:
    """The session's copies on PostgreSQL, dropped when the tests end."""
    for url, schemas in _SCHEMAS.items():
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                for schema in schemas:
                    connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        except Exception:  # the server is gone already: the next run drops them first
            pass
        finally:
            engine.dispose()
