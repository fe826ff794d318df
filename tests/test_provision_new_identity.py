"""``hom-phieu kiosk provision --new-identity``: a forked kiosk re-enrolls with a new key;
its old key, ledger and enrollment are moved into a dated folder (never deleted) and the
old ledger's path is printed for the fork page. A failed enrollment or a running daemon
changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hom_phieu import paths
from hom_phieu.cli import main
from hom_phieu.clock import FakeClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Level
from kiosk.provision import ProvisionError, load_link, provision, server_file
from tests.api_helpers import CODE, make_app, register, seed, serving
from tests.web_process import free_port

NEW_CODE = "PQRS-TUVW-XYZ2"
CLOCK = FakeClock.at("2026-11-20T09:30:00")


def _quiet(_line: str) -> None:
    pass


def test_a_new_identity_keeps_the_old_one_aside(sqlite_database: Path, server_clock) -> None:
    app = make_app(sqlite_database, server_clock, migrate=False)
    seed(app)
    register(app)
    register(app, NEW_CODE)
    key_path, ledger = paths.default_key_path(), paths.default_ledger_path()
    with serving(app, free_port()) as url:
        old = provision(url, CODE, echo=_quiet)
        old_key = key_path.read_bytes()
        with BallotBox.open(ledger, DeviceKey.load_or_create(key_path), CLOCK) as box:
            box.cast_vote(clerk="lan", button="hai_long", level=Level.SATISFIED)
        running = BallotBox.open(ledger, DeviceKey.load_or_create(key_path), CLOCK)
        with running, pytest.raises(ProvisionError, match="stop the kiosk service"):
            provision(url, NEW_CODE, new_identity=True, clock=CLOCK, echo=_quiet)
        with pytest.raises(ProvisionError):  # a wrong code: nothing moved
            provision(url, "WRNG-CODE-ABCD", new_identity=True, clock=CLOCK, echo=_quiet)
        assert key_path.read_bytes() == old_key and ledger.exists()
        assert load_link().device_id == old.device_id
        lines: list[str] = []
        new = provision(url, NEW_CODE, new_identity=True, clock=CLOCK, echo=lines.append)
    folder = key_path.parent / "old-identity-20261120-023000"  # (09:30 in Hà Nội, UTC)
    assert (folder / key_path.name).read_bytes() == old_key
    assert (folder / ledger.name).exists() and not ledger.exists()
    assert (folder / server_file().name).exists()
    assert (
        new.device_id != old.device_id == DeviceKey.load_or_create(folder / key_path.name).device_id
    )
    assert DeviceKey.load_or_create(key_path).device_id == new.device_id == load_link().device_id
    assert not key_path.with_name(key_path.name + ".new").exists()
    assert any(str(folder / ledger.name) in line for line in lines), lines
    with BallotBox.open(folder / ledger.name, DeviceKey.load_or_create(folder / key_path.name),
                        CLOCK, ) as kept:  # fmt: skip
        assert kept.store.record_count() >= 1  # the old votes, whole


def test_the_command_offers_it() -> None:
    done = CliRunner().invoke(main, ["--lang", "en", "kiosk", "provision", "--help"])
    assert done.exit_code == 0 and "--new-identity" in done.output
