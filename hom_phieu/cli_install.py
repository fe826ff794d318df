"""``hom-phieu kiosk install`` and ``hom-phieu web install`` (registered by ``cli.py``).

Exit codes as everywhere: 0 installed (or nothing to change), 2 the install could not go
on (the message says why and what to do).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hom_phieu.cli_help import Command, option
from hom_phieu.i18n import N_, _


def _root_option(function):
    return option(
        "--root",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help=N_(
            "Install into this staging tree instead of the machine (an image being built, a "
            "test): nothing is run or started there."
        ),
    )(function)


def _command_option(function):
    return option(
        "--command",
        "command_path",
        default=None,
        metavar="PATH",
        help=N_("The hom-phieu command the unit starts (default: this one)."),
    )(function)


def _finish(report) -> None:
    for line in report.lines():
        click.echo(line)


def _failed(exc: Exception) -> None:
    click.echo(_("Error: {message}").format(message=exc), err=True)
    sys.exit(2)


@click.command(
    "install",
    cls=Command,
    help=N_(
        "Make this Raspberry Pi a kiosk (as root): service user and groups, folders, the "
        "printer's udev rule, the systemd unit; enroll, selftest, start. Running it again "
        "changes nothing."
    ),
)
@_root_option
@option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help=N_("Configuration to install (default: keep the one there, else the example)."),
)
@option("--server", "server_url", default=None, help=N_("The admin server, e.g. https://…/"))
@option("--code", default=None, help=N_("The one-time enrollment code from the admin page."))
@option("--no-selftest", is_flag=True, help=N_("Do not run the selftest before the start."))
@option("--no-start", is_flag=True, help=N_("Do not start the service."))
@_command_option
def kiosk_install(
    root: Path | None,
    config_path: Path | None,
    server_url: str | None,
    code: str | None,
    no_selftest: bool,
    no_start: bool,
    command_path: str | None,
) -> None:
    from hom_phieu import install
    from hom_phieu.cli import _echo
    from kiosk import install as kiosk_install_steps
    from kiosk.runner import selftest

    def walk_through(config: Path) -> int:
        return selftest(config, simulate=False, echo=_echo, confirm=click.confirm)

    try:
        text = config_path.read_text(encoding="utf-8") if config_path else None
        request = kiosk_install_steps.KioskInstall(
            config_text=text,
            server_url=server_url,
            code=code,
            command=command_path,
            selftest=not no_selftest,
            start=not no_start,
        )
        report = kiosk_install_steps.run(
            request, install.target(root), echo=_echo, selftest=walk_through
        )
    except (install.InstallError, OSError, UnicodeDecodeError) as exc:
        _failed(exc)
    _finish(report)


@click.command(
    "install",
    cls=Command,
    help=N_(
        "Install the admin server (as root): configuration, state folder, the systemd unit, "
        "the database migrated, an administrator; start. Running it again changes nothing."
    ),
)
@_root_option
@option(
    "--database-url",
    default=None,
    metavar="URL",
    help=N_("postgresql://user:password@host/name (default: SQLite in the state folder)."),
)
@option(
    "--port",
    type=click.IntRange(1, 65535),
    default=8080,
    show_default=True,
    help=N_("The worker's port on 127.0.0.1 (the unit's instance)."),
)
@option(
    "--server-url",
    default=None,
    metavar="URL",
    help=N_(
        "The server's public address, e.g. https://hom-phieu.tinh.gov.vn: kiosks enroll with "
        "it and the posters' QR codes name it (HOM_PHIEU_SERVER_URL in web.env; default: "
        "keep the one there)."
    ),
)
@option("--admin", default="admin", show_default=True, help=N_("The administrator's account."))
@option("--admin-name", default=None, help=N_("The administrator's full name shown on pages."))
@option(
    "--password-stdin",
    is_flag=True,
    help=N_("Read the new administrator's password from the first line of standard input."),
)
@option("--no-start", is_flag=True, help=N_("Do not start the service."))
@_command_option
def web_install(
    root: Path | None,
    database_url: str | None,
    port: int,
    server_url: str | None,
    admin: str,
    admin_name: str | None,
    password_stdin: bool,
    no_start: bool,
    command_path: str | None,
) -> None:
    from hom_phieu import install
    from web import install as web_install_steps

    def password() -> str:
        if password_stdin:
            given = sys.stdin.readline().rstrip("\r\n")
            if not given:
                raise install.InstallError(_("no password on standard input"))
            return given
        return click.prompt(
            _("Password of {name}").format(name=admin), hide_input=True, confirmation_prompt=True
        )

    try:
        request = web_install_steps.WebInstall(
            database_url=database_url,
            port=port,
            server_url=server_url,
            admin=admin,
            admin_name=admin_name,
            command=command_path,
            start=not no_start,
        )
        report = web_install_steps.run(request, install.target(root), password=password)
    except (install.InstallError, OSError) as exc:
        _failed(exc)
    _finish(report)
