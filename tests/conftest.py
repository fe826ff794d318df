"""Shared fixtures: every test gets its own HOM_PHIEU_HOME and a known language."""

from __future__ import annotations

from pathlib import Path

import pytest

from hom_phieu.i18n import DEFAULT_LANGUAGE, set_language
from kiosk.ballot_box import BallotBox
from kiosk.clock import FakeClock
from kiosk.device_key import DeviceKey


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("HOM_PHIEU_HOME", str(home))
    set_language("en")
    yield home
    set_language(DEFAULT_LANGUAGE)


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
