"""Shared fixtures: every test gets its own HOM_PHIEU_HOME and a known language."""

from __future__ import annotations

from pathlib import Path

import pytest

from hom_phieu.clock import FakeClock
from hom_phieu.i18n import DEFAULT_LANGUAGE, set_language, set_request_language
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey


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

from sqlalchemy import create_engine, text  # noqa: E402

PG_URL = os.environ.get("HOM_PHIEU_TEST_DATABASE_URL")
DATABASES = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every server test runs on SQLite, and on the real PostgreSQL that .ci/run starts."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.sqlite3'}"
    engine = create_engine(PG_URL)
    with engine.begin() as connection:  # a clean database for each test
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
        connection.execute(text("DROP FUNCTION IF EXISTS hom_phieu_append_only() CASCADE"))
        connection.execute(text("DROP FUNCTION IF EXISTS hom_phieu_opening_frozen() CASCADE"))
    engine.dispose()
    return PG_URL


# The server's date in its tests: a working Friday in the middle of a month, whatever day
# the suite runs on. Tests that need another day advance this clock.
SERVER_TIME = "2026-11-20T09:00:00"


@pytest.fixture
def server_clock() -> FakeClock:
    return FakeClock.at(SERVER_TIME)


@pytest.fixture
def server_app(database_url: str, server_clock: FakeClock):
    from web import create_app, db

    app = create_app(
        {"DATABASE_URL": database_url, "TESTING": True, "SECRET_KEY": "test"}, clock=server_clock
    )
    db.upgrade(database_url)
    yield app
    app.extensions["hom_phieu_engine"].dispose()
