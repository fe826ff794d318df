"""A migrated, empty server database for each test, without running Alembic for each test.

The real migrations run once per session (``web.db.upgrade``, exactly as the server runs
them at start); each test then gets

* on SQLite, a copy of that migrated file (a file copy, ~1 ms);
* on PostgreSQL, the migrated schema with every table emptied (TRUNCATE of those that
  hold rows, every sequence drawn from restarted: fresh ids, as on a new database) — or
  the schema rebuilt from scratch whenever it no longer is the one the migrations made (a
  test that dropped a trigger, the migration test's clean database, another run on the
  same server).

``tests/test_web_migrations.py`` still migrates a clean database on both, every run.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from pathlib import Path

from sqlalchemy import Engine, TextClause, create_engine, make_url, text

from web import db

# What the migrations made, as PostgreSQL's catalog sees it: any change means rebuild.
_PG_SHAPE = text(
    """
    SELECT
      (SELECT string_agg(version_num, ',') FROM alembic_version),
      (SELECT string_agg(table_name || '.' || column_name || ':' || data_type || ':'
                         || is_nullable || ':' || coalesce(column_default, ''), ','
                         ORDER BY table_name, column_name)
         FROM information_schema.columns WHERE table_schema = 'public'),
      (SELECT string_agg(c.relname || '.' || t.tgname || ':' || t.tgenabled::text, ','
                         ORDER BY c.relname, t.tgname)
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT t.tgisinternal AND n.nspname = 'public'),
      (SELECT string_agg(indexdef, ',' ORDER BY indexdef)
         FROM pg_indexes WHERE schemaname = 'public'),
      (SELECT string_agg(conrelid::regclass::text || ':' || pg_get_constraintdef(oid), ','
                         ORDER BY conrelid::regclass::text, conname)
         FROM pg_constraint WHERE connamespace = 'public'::regnamespace),
      (SELECT string_agg(p.proname || ':' || md5(p.prosrc), ',' ORDER BY p.proname)
         FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace)
    """
)
_PG_USED_SEQUENCES = text(
    "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public' "
    "AND last_value IS NOT NULL"  # NULL: never drawn from, or restarted
)
_PG_TABLES = text(
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
    "AND tablename <> 'alembic_version' ORDER BY tablename"
)


def migrated_sqlite_template(folder: Path) -> Path:
    """A SQLite file migrated by the real migrations, folded into one file to be copied."""
    template = folder / "migrated.sqlite3"
    db.upgrade(f"sqlite:///{template}")
    with contextlib.closing(sqlite3.connect(template)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # were it in WAL mode
    return template


def copy_sqlite(template: Path, target: Path) -> str:
    """A copy of the migrated template at ``target``; its URL."""
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def worker_database(url: str, worker: str) -> str:
    """The URL of this pytest-xdist worker's own database beside ``url``'s (``<name>_gw1``),
    made on first use (the test role needs CREATEDB: ``.ci/run`` gives it): two workers
    emptying one schema under each other's tests would see each other's rows."""
    base = make_url(url)
    name = f"{base.database}_{worker}"
    engine = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if found is None:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
                connection.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    finally:
        engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def clean_postgresql(engine: Engine) -> None:
    """An empty public schema: nothing of any earlier test or run left."""
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
        connection.execute(text("DROP FUNCTION IF EXISTS hom_phieu_append_only() CASCADE"))
        connection.execute(text("DROP FUNCTION IF EXISTS hom_phieu_opening_frozen() CASCADE"))


class PostgresSchema:
    """The migrated schema on the test PostgreSQL, kept for the session, emptied per test."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.shape: tuple | None = None  # what the migrations made, this session
        self.holding: TextClause | None = None  # which tables hold rows (built once)

    def _current_shape(self) -> tuple | None:
        with self.engine.connect() as connection:
            if connection.scalar(text("SELECT to_regclass('public.alembic_version')")) is None:
                return None
            return tuple(connection.execute(_PG_SHAPE).one())

    def _rebuild(self) -> None:
        self.holding = None
        clean_postgresql(self.engine)
        db.upgrade(self.url)
        self.shape = self._current_shape()

    def prepare(self) -> str:
        """The migrated schema with no rows in any table; the URL."""
        if self.shape is None or self._current_shape() != self.shape:
            self._rebuild()  # the first test of the session, or the schema was changed
            return self.url
        with self.engine.begin() as connection:
            if self.holding is None:
                tables = [name for (name,) in connection.execute(_PG_TABLES)]
                self.holding = text(" UNION ALL ".join(
                    f"SELECT '{name}' WHERE EXISTS (SELECT FROM \"{name}\")" for name in tables
                ))  # fmt: skip
            # Only the tables the last test wrote to, and the sequences it drew from: a
            # TRUNCATE of every table cost ~50 ms a test, most of them empty already.
            full = [name for (name,) in connection.execute(self.holding)]
            if full:
                quoted = ", ".join(f'"{name}"' for name in full)
                connection.execute(text(f"TRUNCATE {quoted} CASCADE"))
            for (sequence,) in connection.execute(_PG_USED_SEQUENCES):
                connection.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
        return self.url

    def close(self) -> None:
        self.engine.dispose()
