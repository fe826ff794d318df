"""``hom-phieu kiosk install`` and ``web install``: staging trees systemd accepts, a second
run that changes nothing, the machine's own steps in order, and clear refusals."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select

from hom_phieu.cli import main
from hom_phieu.install import Target
from kiosk import install as kiosk_install
from tests.api_helpers import CODE, make_app, register, seed, serving
from tests.web_process import free_port

COMMAND = "/opt/hom-phieu/.venv/bin/hom-phieu"  # as in the shipped units
NOTHING_VI = "Không có gì cần thay đổi"
PASSWORD = "Mat-khau-rat-dai-2026!"
needs_systemd = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed"
)


def cli(*args: str, stdin: str | None = None):
    return CliRunner().invoke(main, ["--lang", "vi", *args], input=stdin)


def tree_hash(root: Path) -> str:
    """Every path, mode, link target and content of the tree."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        digest.update(f"{path.relative_to(root)} {info.st_mode:o}".encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def verified_by_systemd(tree: Path, tmp_path: Path, *units: str) -> Path:
    """A copy of ``tree`` with the host's system units and a stand-in command, checked as a
    booting machine would: users made from sysusers.d, folders from tmpfiles.d, the units
    verified. Returns the copy."""
    copy = tmp_path / "verified"
    shutil.copytree(tree, copy, symlinks=True)
    shutil.copytree("/usr/lib/systemd/system", copy / "usr/lib/systemd/system", symlinks=True)
    stand_in = copy / COMMAND.lstrip("/")
    stand_in.parent.mkdir(parents=True)
    stand_in.write_text("#!/bin/sh\n")
    stand_in.chmod(0o755)
    for command in (["systemd-sysusers"], ["systemd-tmpfiles", "--create"]):
        if shutil.which(command[0]) and list(copy.glob(f"usr/lib/{command[0][8:]}.d/*")):
            done = subprocess.run([*command, "--root", str(copy)], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
    done = subprocess.run(
        ["systemd-analyze", "verify", "--root", str(copy), *units], capture_output=True, text=True
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    return copy


@needs_systemd
def test_kiosk_tree_is_what_systemd_accepts_and_a_second_run_changes_nothing(tmp_path):
    root = tmp_path / "pi"
    first = cli("kiosk", "install", "--root", str(root), "--command", COMMAND)
    assert first.exit_code == 0, first.output
    assert NOTHING_VI not in first.output
    unit = (root / "etc/systemd/system/hom-phieu-kiosk.service").read_text()
    assert "Environment=LG_WD=%t/hom-phieu" in unit and "WatchdogSec=" in unit
    assert f"ExecStart={COMMAND} kiosk run" in unit
    wants = root / "etc/systemd/system/multi-user.target.wants/hom-phieu-kiosk.service"
    assert os.readlink(wants) == "/etc/systemd/system/hom-phieu-kiosk.service"
    assert (root / "var/lib/hom-phieu").stat().st_mode & 0o777 == 0o700
    assert 'GROUP="lp"' in (root / "etc/udev/rules.d/60-hom-phieu-printer.rules").read_text()
    assert (root / "etc/hom-phieu/kiosk.toml").read_text() == (
        Path(__file__).parent.parent / "kiosk.example.toml"
    ).read_text()
    copy = verified_by_systemd(root, tmp_path, "hom-phieu-kiosk.service")
    passwd = (copy / "etc/passwd").read_text()
    assert "hom-phieu:x:" in passwd and "/usr/sbin/nologin" in passwd
    group = (copy / "etc/group").read_text()
    assert all(f"{name}:x:" in group for name in ("gpio", "lp", "dialout", "video", "spi"))
    assert (copy / "var/lib/hom-phieu/kiosk").stat().st_uid != 0  # tmpfiles gave it away

    (root / "etc/hom-phieu/kiosk.toml").write_text('[device]\ncounter = "Quầy 9"\n')
    before = tree_hash(root)
    again = cli("kiosk", "install", "--root", str(root), "--command", COMMAND)
    assert again.exit_code == 0, again.output
    assert NOTHING_VI in again.output
    assert tree_hash(root) == before  # the technician's configuration kept


def test_kiosk_enrolls_into_the_tree_then_the_machine_steps_run_once(
    tmp_path, sqlite_database, server_clock
):
    app = make_app(sqlite_database, server_clock, migrate=False)
    seed(app)
    register(app)
    root = tmp_path / "pi"
    config = tmp_path / "kiosk.toml"
    config.write_text('[printer]\nkind = "usb"\nusb_vendor_id = 0x0416\nusb_product_id = 0x5011\n')
    with serving(app, free_port()) as url:
        done = cli("kiosk", "install", "--root", str(root), "--config", str(config),
                   "--server", url, "--code", CODE, "--command", COMMAND)  # fmt: skip
    assert done.exit_code == 0, done.output
    state = root / "var/lib/hom-phieu/kiosk"
    assert (state / "server.json").stat().st_mode & 0o777 == 0o600
    assert (state / "device-key.pem").exists()
    rule = (root / "etc/udev/rules.d/60-hom-phieu-printer.rules").read_text()
    assert 'ATTR{idVendor}=="0416", ATTR{idProduct}=="5011"' in rule

    # The same tree as the machine itself: commands and owners recorded, not run.
    commands: list[tuple[str, ...]] = []
    owners: dict[str, str] = {}
    running = set()

    def run(command) -> int:
        commands.append(tuple(command))
        if command[:2] == ("systemctl", "start"):
            running.add(command[2])
        return 0 if command[:2] != ("systemctl", "is-active") or command[3] in running else 3

    def chown(path: Path, owner: str) -> None:
        owners[str(path.relative_to(root))] = owner

    def owner_of(path: Path) -> str:
        return owners.get(str(path.relative_to(root)), "root")

    machine = Target(root, live=True, run=run, chown=chown, owner_of=owner_of)
    walked: list[Path] = []
    request = kiosk_install.KioskInstall(command=COMMAND)
    report = kiosk_install.run(
        request, machine, echo=lambda _line: None, selftest=lambda c: walked.append(c) or 0
    )
    assert commands == [
        ("systemctl", "is-active", "--quiet", "hom-phieu-kiosk.service"),
        ("systemctl", "start", "hom-phieu-kiosk.service"),
    ]  # every file was in place already: no sysusers, no udev reload, no daemon-reload
    assert owners == {"var/lib/hom-phieu": "hom-phieu", "var/lib/hom-phieu/kiosk": "hom-phieu"}
    assert walked == [root / "etc/hom-phieu/kiosk.toml"]
    assert any("hom-phieu-kiosk.service" in line for line in report.changed)
    commands.clear()
    (root / "etc/udev/rules.d/60-hom-phieu-printer.rules").unlink()
    report = kiosk_install.run(request, machine, echo=print, selftest=lambda _c: 1)
    assert commands == [
        ("udevadm", "control", "--reload"),
        ("udevadm", "trigger", "--action=add", "--subsystem-match=usbmisc"),
        ("systemctl", "is-active", "--quiet", "hom-phieu-kiosk.service"),
    ]  # running already: no selftest (it needs the pins), no restart for a udev rule
    commands.clear()
    report = kiosk_install.run(request, machine, echo=print, selftest=lambda _c: 1)
    assert report.changed == [] and len(commands) == 1  # is-active, for the selftest and start


@needs_systemd
def test_web_tree_on_sqlite_has_a_schema_and_an_administrator(tmp_path):
    from web.models import User

    root = tmp_path / "server"
    args = ("web", "install", "--root", str(root), "--command", COMMAND, "--password-stdin")
    weak = cli(*args, stdin="admin\n")
    assert weak.exit_code == 2 and "Lỗi" in weak.output
    first = cli(*args, "--port", "8081", stdin=PASSWORD + "\n")
    assert first.exit_code == 0, first.output
    database = root / "var/lib/hom-phieu-web/server/hom-phieu.sqlite3"
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        admin = connection.execute(select(User.role).where(User.username == "admin")).one()
    engine.dispose()
    assert admin.role == "admin"
    assert (root / "etc/hom-phieu/web.env").stat().st_mode & 0o777 == 0o600
    verified_by_systemd(root, tmp_path, "hom-phieu-web@8081.service")
    before = tree_hash(root)
    again = cli(*args, "--port", "8081", stdin="")  # no password asked: the account exists
    assert again.exit_code == 0, again.output
    assert NOTHING_VI in again.output
    assert tree_hash(root) == before


def test_web_install_on_postgresql_keeps_the_other_settings(tmp_path, postgres_schema):
    url = postgres_schema.prepare()
    root = tmp_path / "server"
    env = root / "etc/hom-phieu/web.env"
    env.parent.mkdir(parents=True)
    env.write_text("HOM_PHIEU_SECRET_KEY=shared\nHOM_PHIEU_DATABASE_URL=sqlite:///old\n")
    args = ("web", "install", "--root", str(root), "--database-url", url, "--admin", "tinh")
    first = cli(*args, "--password-stdin", stdin=PASSWORD + "\n")
    assert first.exit_code == 0, first.output
    assert env.read_text() == f"HOM_PHIEU_SECRET_KEY=shared\nHOM_PHIEU_DATABASE_URL={url}\n"
    assert not (root / "var/lib/hom-phieu-web/server/hom-phieu.sqlite3").exists()
    again = cli("web", "install", "--root", str(root), "--admin", "tinh")  # the URL kept
    assert again.exit_code == 0 and NOTHING_VI in again.output, again.output
    assert env.read_text().endswith(f"HOM_PHIEU_DATABASE_URL={url}\n")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["kiosk", "install", "--server", "https://x.example"], "--server"),
        (["kiosk", "install", "--command", "hom-phieu"], "--command"),
        (["web", "install", "--database-url", "mysql://x/y"], "--database-url"),
        (["web", "install", "--port", "0"], "--port"),
    ],
)
def test_bad_arguments_are_named(tmp_path, args, says):
    done = cli(*args[:2], "--root", str(tmp_path / "t"), *args[2:])
    assert done.exit_code == 2 and says in done.output, done.output


def test_a_wrong_configuration_a_file_as_root_and_no_root_are_refused(tmp_path, monkeypatch):
    config = tmp_path / "kiosk.toml"
    config.write_text('[printer]\nkind = "usb"\n')
    done = cli("kiosk", "install", "--root", str(tmp_path / "t"), "--config", str(config))
    assert done.exit_code == 2 and "usb_vendor_id" in done.output, done.output
    assert not (tmp_path / "t/etc").exists()  # nothing written before the plan is sound
    done = cli("kiosk", "install", "--root", str(config))
    assert done.exit_code == 2 and str(config) in done.output, done.output
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    done = cli("web", "install")
    assert done.exit_code == 2 and "sudo" in done.output, done.output


def test_web_install_writes_the_public_address_once_and_refuses_a_bad_one(tmp_path):
    root = tmp_path / "server"
    env = root / "etc/hom-phieu/web.env"
    bad_addresses = [
        "hom-phieu.tinh.gov.vn",
        "ftp://hp.example.vn",
        "https://hp.example.vn/?a=1",
        "https://hp.example.vn\nHOM_PHIEU_SECRET_KEY=chosen",
        "https://hp example.vn",
    ]
    for bad in bad_addresses:
        done = cli("web", "install", "--root", str(root), "--server-url", bad,
                   "--command", COMMAND, "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
        assert done.exit_code == 2 and "--server-url" in done.output, (bad, done.output)
        assert "Traceback" not in done.output, done.output
        assert not root.exists() or not any(root.rglob("*")), bad  # nothing written

    env.parent.mkdir(parents=True)
    env.write_text("HOM_PHIEU_SERVER_URL=http://old.example\nHOM_PHIEU_SECRET_KEY=shared\n")
    args = ("web", "install", "--root", str(root), "--command", COMMAND)
    first = cli(*args, "--server-url", " https://hp.example.vn/ ", "--password-stdin",
                stdin=PASSWORD + "\n")  # fmt: skip
    assert first.exit_code == 0, first.output
    assert env.read_text() == (
        "HOM_PHIEU_SERVER_URL=https://hp.example.vn\nHOM_PHIEU_SECRET_KEY=shared\n"
    )  # in its place, the other settings kept
    before = tree_hash(root)
    for again in (cli(*args, "--server-url", "https://hp.example.vn"), cli(*args)):
        assert again.exit_code == 0 and NOTHING_VI in again.output, again.output
        assert tree_hash(root) == before  # the same address, or none given: kept as it is
    moved = cli(*args, "--server-url", "https://hom-phieu.tinh.gov.vn:8443/hp")
    assert moved.exit_code == 0 and NOTHING_VI not in moved.output, moved.output
    assert (
        env.read_text().splitlines()[0]
        == "HOM_PHIEU_SERVER_URL=https://hom-phieu.tinh.gov.vn:8443/hp"
    )
