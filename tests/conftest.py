"""Shared fixtures: every test gets its own HOM_PHIEU_HOME and a known language."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket

from hom_phieu.clock import FakeClock
from hom_phieu.i18n import DEFAULT_LANGUAGE, set_language, set_request_language
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey


class _SessionBytecodeCache(BytecodeCache):
    """Compiled templates kept in memory for the session, shared by every Flask app a test
    makes: each test's new app would otherwise compile again every template it renders
    (~8 ms a template, tens of milliseconds a test). Jinja checks each template's source against the
    checksum kept with its code, so an edited template is compiled anew."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.compiled:
            bucket.bytecode_from_string(self.compiled[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(autouse=True, scope="session")
def compiled_templates_shared() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        options = {**Flask.jinja_options, "bytecode_cache": _SessionBytecodeCache()}
        patch.setattr(Flask, "jinja_options", options)
        yield


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("HOM_PHIEU_HOME", str(home))
    set_language("en")
    set_request_language(None)
    yield home
    set_language(DEFAULT_LANGUAGE)
    set_request_language(None)


@pytest.fixture
def key(tmp_path: Path) -> DeviceKey:
    return DeviceKey.load_or_create(tmp_path / "device-key.pem")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock.at("2026-11-03T08:00:00", synced=True)


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    return tmp_path / "ballot-box.sqlite3"


@pytest.fixture
def box(ledger_path: Path, key: DeviceKey, clock: FakeClock):
    with BallotBox.open(ledger_path, key, clock) as opened:
        yield opened


# --- the admin server ---------------------------------------------------------------------
import os  # noqa: E402

from sqlalchemy import create_engine  # noqa: E402

from tests import server_db  # noqa: E402

PG_URL = os.environ.get("HOM_PHIEU_TEST_DATABASE_URL")
if PG_URL and os.environ.get("PYTEST_XDIST_WORKER"):  # (./run test runs two workers)
    PG_URL = server_db.worker_database(PG_URL, os.environ["PYTEST_XDIST_WORKER"])
    os.environ["HOM_PHIEU_TEST_DATABASE_URL"] = PG_URL  # (for the processes tests start)
DATABASES = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real migrations, run once per session into a SQLite file each test copies."""
    return server_db.migrated_sqlite_template(tmp_path_factory.mktemp("schema"))


@pytest.fixture(scope="session")
def postgres_schema():
    """The real migrations, run once per session on PostgreSQL; tests empty the tables."""
    if not PG_URL:
        pytest.skip("no HOM_PHIEU_TEST_DATABASE_URL")
    schema = server_db.PostgresSchema(PG_URL)
    yield schema
    schema.close()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, empty database (no schema): SQLite, and the real PostgreSQL that .ci/run
    starts. For tests of the migrations themselves; others take ``migrated_database_url``."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.sqlite3'}"
    engine = create_engine(PG_URL)
    try:
        server_db.clean_postgresql(engine)
    finally:
        engine.dispose()
    return PG_URL


@pytest.fixture
def sqlite_database(tmp_path: Path, sqlite_template: Path) -> Path:
    """A migrated, empty SQLite server database of this test's own (a copy of the template)."""
    target = tmp_path / "server.sqlite3"
    server_db.copy_sqlite(sqlite_template, target)
    return target


@pytest.fixture(params=DATABASES)
def migrated_database_url(request: pytest.FixtureRequest) -> str:
    """A database with the newest schema and no rows, the test's alone: SQLite, and the real
    PostgreSQL that .ci/run starts."""
    if request.param == "sqlite":
        return f"sqlite:///{request.getfixturevalue('sqlite_database')}"
    return request.getfixturevalue("postgres_schema").prepare()


# The server's date in its tests: a working Friday in the middle of a month, whatever day
# the suite runs on. Tests that need another day advance this clock.
SERVER_TIME = "2026-11-20T09:00:00"


@pytest.fixture
def server_clock() -> FakeClock:
    return FakeClock.at(SERVER_TIME)


@pytest.fixture
def server_app(migrated_database_url: str, server_clock: FakeClock):
    """The admin server on an empty, migrated database."""
    from web import create_app
    from web.services import close_app

    app = create_app(
        {"DATABASE_URL": migrated_database_url, "TESTING": True, "SECRET_KEY": "test"},
        clock=server_clock,
    )
    yield app
    close_app(app)


@pytest.fixture
def site(server_app):
    """The server seeded by ``tests.web_helpers.seed`` (a province, two communes, one account
    per role), a browser on it over HTTPS, and the ids of what was seeded."""
    from tests.web_helpers import seed

    ids = seed(server_app)
    client = server_app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"  # Secure cookies need HTTPS
    return server_app, client, ids


@pytest.fixture
def ceremony_app(server_app):
    """Xã Đông Thanh's office with clerks and its opening committee (tests.ceremony_helpers)."""
    from tests.ceremony_helpers import seed_ceremony

    seed_ceremony(server_app)
    return server_app
