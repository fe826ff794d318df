"""The one console command, ``hom-phieu``, and its subcommands.

Each subcommand is a thin shell over a module that does the work, so that the
work can be tested without a terminal. Exit codes: 0 good, 1 the thing checked is
bad (a damaged ledger), 2 the command could not run (bad config, missing file).
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import click

from hom_phieu import formatting
from hom_phieu.cli_help import CLICK_MESSAGES, Group, Option, option, show_version, speak_click
from hom_phieu.i18n import LANGUAGES, N_, _, set_language

speak_click()  # click's own words ("Usage:", "Options") in our language too

config_option = option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help=N_("Device configuration (TOML). Default: /etc/hom-phieu/kiosk.toml if it exists."),
)


def _parse_clock(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    from hom_phieu.clock import parse_iso_ms

    if value is None:
        return None
    try:
        return parse_iso_ms(value)
    except ValueError:
        raise click.BadParameter(_("not an ISO-8601 time: {value}").format(value=value)) from None


def clock_option(help_text: str):
    """``--clock ISO``: a rehearsal clock that starts at that time and runs from there."""
    return option("--clock", "start_ms", metavar="ISO-8601", callback=_parse_clock, help=help_text)


@click.group(
    cls=Group,
    context_settings={"help_option_names": ["-h", "--help"]},
    help=N_("hom-phieu: the digital satisfaction ballot box (hòm phiếu đánh giá sự hài lòng)."),
)
@option(
    "--lang",
    type=click.Choice(LANGUAGES),
    default=None,
    is_eager=True,  # read before --help, which then speaks it
    callback=lambda _ctx, _param, value: _speak(value),
    help=N_("Language of messages: vi or en (default: the device's configured language, vi)."),
)
@option(
    "--version",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=show_version,
    help=CLICK_MESSAGES[5],  # "Show the version and exit."
)
def main(lang: str | None) -> None:
    """(Its help: the decorator's, translated when shown.)"""


def _speak(lang: str | None) -> str | None:
    if lang:
        set_language(lang)
    return lang


@main.group(help=N_("The device at the counter: its ballot box and its checks."))
def kiosk() -> None:
    """(Its help: the decorator's, translated when shown.)"""


def _ledger_options(function):
    function = option(
        "--key",
        "key_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help=N_("Device key file, to check that the ledger is this device's own."),
    )(function)
    function = option(
        "--ledger",
        "ledger_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help=N_("Ledger file (overrides the configuration)."),
    )(function)
    return config_option(function)


def _report(config_path: Path | None, ledger_path: Path | None, key_path: Path | None):
    from hom_phieu.ledger.errors import LedgerStoreError
    from kiosk.config import ConfigError, load_config_or_defaults
    from kiosk.ledger_report import inspect_ledger

    try:
        config = load_config_or_defaults(config_path)
    except ConfigError as exc:
        _fail(str(exc))
    if _chosen_language() is None:
        set_language(config.device.language)  # the device's language unless --lang says
    ledger = ledger_path or config.ledger_path
    key = key_path or config.key_path
    try:
        return inspect_ledger(ledger, key)
    except LedgerStoreError as exc:
        _fail(str(exc))


def _fail(message: str) -> None:
    click.echo(_("Error: {message}").format(message=message), err=True)
    sys.exit(2)


@kiosk.command(
    "check-config", help=N_("Check the configuration; exit 2 naming each wrong key and its fix.")
)
@config_option
def check_config(config_path: Path | None) -> None:
    from kiosk.config import DEFAULT_PATH, ConfigError, load_config_or_defaults

    try:
        load_config_or_defaults(config_path)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    if config_path is None and not DEFAULT_PATH.exists():
        _echo(_("No {path}: the built-in defaults apply, and they are valid.").format(
            path=DEFAULT_PATH))  # fmt: skip
    else:
        source = config_path or DEFAULT_PATH
        _echo(_("{source}: the configuration is valid").format(source=source))


@kiosk.command(help=N_("Check every record of the ledger; exit 1 naming the first bad record."))
@_ledger_options
def verify(config_path: Path | None, ledger_path: Path | None, key_path: Path | None) -> None:
    report = _report(config_path, ledger_path, key_path)
    if report.intact:
        state = report.verifier.state
        click.echo(
            _("Ledger intact: {records} records, head {seq} {hash}, device {device}.").format(
                records=report.records,
                seq=state.head_seq,
                hash=state.head_hash[:16],
                device=report.device_id,
            )
        )
        return
    click.echo(_("Ledger DAMAGED: {problem}").format(problem=report.problem), err=True)
    sys.exit(1)


@kiosk.command(
    help=N_("Counts, unsynced records, chain head and last boot (never the sealed results).")
)
@_ledger_options
@option("--json", "as_json", is_flag=True, help=N_("Machine-readable output."))
def status(
    config_path: Path | None, ledger_path: Path | None, key_path: Path | None, as_json: bool
) -> None:
    report = _report(config_path, ledger_path, key_path)
    data = report.status()
    data["sealing"] = _sealing(data["open_box"])
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        click.echo(format_status(data))
    if not report.intact:
        sys.exit(1)


def _sealing(open_box: dict | None) -> dict | None:
    """The key the open box seals to, from the configuration the server last sent."""
    from kiosk.presenter import sealing_status
    from kiosk.provision import ProvisionError, load_link

    if open_box is None:
        return None
    try:
        link = load_link()
    except ProvisionError:
        link = None
    ring = link.config.keyring() if link is not None else None
    return sealing_status(ring.key_for(open_box["box"]) if ring is not None else None)


def format_status(data: dict) -> str:
    """The status as lines a technician reads."""
    lines = [
        _("Device: {device}").format(device=data["device_id"]),
        _("Ledger: {path}").format(path=data["ledger"]),
        _("Intact: {answer}").format(answer=_("yes") if data["intact"] else _("NO")),
    ]
    if data["problem"]:
        lines.append(_("Problem: {problem}").format(problem=data["problem"]))
    lines.append(_("Records: {records}").format(records=data["records"]))
    box = data["open_box"]
    if box:
        lines.append(
            _("Box now collecting: {box} ({ballots} ballots, {refused} refused presses)").format(
                box=box["box"], ballots=box["ballots"], refused=box["refused_presses"]
            )
        )
    sealing = data.get("sealing")
    if sealing:
        lines.append(_("Sealing: {how}").format(how=sealing["notice"] or _(
            "ballots sealed to the box key {fingerprint}").format(**sealing)))  # fmt: skip
    if data["head"]:
        lines.append(_("Chain head: {seq} {hash}").format(**data["head"]))
    lines.append(_("Not yet synced: {count} records").format(count=data["unsynced_records"]))
    faults = data.get("faults") or {}
    if faults.get("server"):
        lines.append(_("FAULT, server refuses the records since {time}: {message}").format(
            time=formatting.date_time_iso(faults["server"]["since"]),
            message=faults["server"]["message"]))  # fmt: skip
    if faults.get("clock"):
        lines.append(_("FAULT, clock in doubt since {time}: {message}").format(
            time=formatting.date_time_iso(faults["clock"]["since"]),
            message=faults["clock"]["message"]))  # fmt: skip
    ack = data.get("server_ack")
    if ack and ack["held"]:
        lines.append(_("Acknowledged by the server: records up to {seq}").format(seq=ack["seq"]))
    elif ack:
        lines.append(
            _(
                "Acknowledged by the server: records up to {seq}, NO LONGER in this ledger: "
                "{problem}"
            ).format(seq=ack["seq"], problem=ack["problem"])
        )
    boot = data["last_boot"]
    if boot:
        lines.append(
            _("Last boot: #{boot} at {time} ({quality}), software {software}").format(
                boot=boot["boot"],
                time=formatting.date_time_iso(boot["wall_time"]),
                quality=boot["time_quality"],
                software=boot["software"],
            )
        )
    return "\n".join(lines)


@kiosk.command(help=N_("Run the kiosk: buttons, screen, printer and the ballot box."))
@config_option
@option(
    "--simulate",
    is_flag=True,
    help=N_("No hardware: mock pins, PNG screen, file printer, virtual panel on 127.0.0.1."),
)
@option(
    "--panel-port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help=N_("Port of the virtual panel with --simulate (0: any free port)."),
)
@clock_option(
    N_(
        "With --simulate: start the simulated clock (synchronised) at this time, e.g. "
        "2026-10-30T08:00 (Vietnam time), before the first record is written."
    )
)
def run(config_path: Path | None, simulate: bool, panel_port: int, start_ms: int | None) -> None:
    from kiosk.runner import run as run_kiosk

    if start_ms is not None and not simulate:
        raise click.UsageError(_("--clock only sets the simulated clock: add --simulate"))
    code = run_kiosk(
        config_path,
        simulate=simulate,
        panel_port=panel_port,
        echo=_echo,
        language=_chosen_language(),
        start_ms=start_ms,
    )
    sys.exit(code)


@kiosk.command(help=N_("Enroll this kiosk with the admin server (its key, office and counter)."))
@config_option
@option("--server", "server_url", required=True, help=N_("The admin server, e.g. https://…/"))
@option("--code", required=True, help=N_("The one-time enrollment code from the admin page."))
@option(
    "--new-identity",
    is_flag=True,
    help=N_(
        "A forked chain: move the old key and ledger into a dated folder and enroll a new key."
    ),
)
def provision(config_path: Path | None, server_url: str, code: str, new_identity: bool) -> None:
    from kiosk.config import ConfigError, load_config_or_defaults
    from kiosk.provision import ProvisionError
    from kiosk.provision import provision as enroll

    try:
        config = load_config_or_defaults(config_path)
    except ConfigError as exc:
        _fail(str(exc))
    if _chosen_language() is None:
        set_language(config.device.language)
    try:
        enroll(server_url, code, key_path=config.key_path, echo=_echo,
               new_identity=new_identity, ledger_path=config.ledger_path)  # fmt: skip
    except ProvisionError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@kiosk.command(help=N_("Walk through every button, light, the buzzer, the screen and the printer."))
@config_option
@option("--simulate", is_flag=True, help=N_("Mock pins and printer: rehearse the walk-through."))
@option("--yes", is_flag=True, help=N_("Answer yes to every question (for scripts)."))
def selftest(config_path: Path | None, simulate: bool, yes: bool) -> None:
    from kiosk.runner import selftest as run_selftest

    def confirm(question: str) -> bool:
        if yes:
            _echo(f"{question} {_('yes')}")
            return True
        return click.confirm(question, default=True)

    code = run_selftest(
        config_path, simulate=simulate, echo=_echo, confirm=confirm, language=_chosen_language()
    )
    sys.exit(code)


@main.group(help=N_("The admin server: accounts, units, devices, the sync API, the sealed boxes."))
def web() -> None:
    """(Its help: the decorator's, translated when shown.)"""


def _server_app(start_ms: int | None = None):
    from hom_phieu.clock import rehearsal_clock
    from web import create_app, db

    app = create_app(clock=rehearsal_clock(start_ms))
    db.upgrade(app.config["DATABASE_URL"])  # zero set-up: the schema is made or updated
    return app


@web.command(
    help=N_("Serve the admin server with waitress (behind a TLS reverse proxy in production).")
)
@option("--host", default="127.0.0.1", show_default=True, help=N_("Address to listen on."))
@option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@option("--threads", type=click.IntRange(1, 64), default=8, show_default=True)
@clock_option(
    N_(
        "Rehearsal only: the server's clock starts at this time (Vietnam time unless an offset "
        "is given) and runs from there, e.g. to hold a past month's ceremony on a copy."
    )
)
def serve(host: str, port: int, threads: int, start_ms: int | None) -> None:
    import waitress

    app = _server_app(start_ms)
    if start_ms is not None:
        _echo(_("Rehearsal clock: the server's time starts at {time}.").format(
            time=formatting.date_time(start_ms)))  # fmt: skip
    if host in ("127.0.0.1", "localhost", "::1"):
        # Plain HTTP on this machine only (the demo, a test): a Secure cookie would never
        # come back. Anywhere else the cookie stays Secure and TLS is required.
        app.config.update(SESSION_COOKIE_SECURE=False, REMEMBER_COOKIE_SECURE=False)
    _echo(_("Admin server: http://{host}:{port}/").format(host=host, port=port))
    # What start-up made (modules, templates, the app) lives as long as the process: kept
    # out of the collector's full passes, which otherwise stall a page listing hundreds of
    # rows (bench/reports.py measures the pages the same way).
    gc.collect()
    gc.freeze()
    waitress.serve(app, host=host, port=port, threads=threads, ident="hom-phieu")


@web.command(
    "create-admin", help=N_("Create an administrator account (the first one, or another).")
)
@click.argument("username")
@option("--name", "display_name", default=None, help=N_("Full name shown on pages."))
@click.password_option(cls=Option, help=N_("At least 10 characters (asked if not given)."))
def create_admin(username: str, display_name: str | None, password: str) -> None:
    from web import auth, db

    app = _server_app()
    with app.app_context():
        try:
            auth.create_user(username, password, display_name or username, "admin")
        except ValueError as exc:
            _fail(str(exc))
        auth.audit("admin_created", username)
        db.session().commit()
    _echo(_("Administrator {name} created.").format(name=username))


@main.group(help=N_("An opened box: recount its bundle offline, on any machine."))
def box() -> None:
    """(Its help: the decorator's, translated when shown.)"""


@box.command(
    "verify",
    help=N_(
        "Recount a box bundle to the minutes' figures; exit 1 naming each difference, 2 for "
        "a file that is not a bundle."
    ),
)
@click.argument("bundle_path", metavar="BUNDLE", type=click.Path(path_type=Path, dir_okay=False))
def box_verify(bundle_path: Path) -> None:
    from web.bundle_format import Bundle, BundleError
    from web.bundle_verify import recount, report

    try:
        with Bundle(str(bundle_path)) as bundle:
            result = recount(bundle)
    except (BundleError, OSError) as exc:
        _fail(str(exc))
    click.echo("\n".join(report(result)))
    sys.exit(0 if result.matches else 1)


@main.command(
    help=N_("The admin server and one simulated kiosk, enrolled and syncing; prints the URLs.")
)
@option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help=N_("Port of the admin server on 127.0.0.1 (0: any free port)."),
)
@option(
    "--panel-port",
    type=click.IntRange(0, 65535),
    default=8081,
    show_default=True,
    help=N_("Port of the simulated kiosk's virtual panel (0: any free port)."),
)
@clock_option(
    N_(
        "Rehearse on a simulated date: the server and the kiosk both start at this time, e.g. "
        "2026-10-30T08:00 (Vietnam time), so a past month can be voted and opened end to end."
    )
)
def demo(port: int, panel_port: int, start_ms: int | None) -> None:
    from hom_phieu.demo import run_demo

    _echo(_("hom-phieu demo: a simulated counter. Stop it with Ctrl+C."))
    sys.exit(run_demo(port, panel_port, _echo, _chosen_language(), start_ms=start_ms))


def _chosen_language() -> str | None:
    """The language given with --lang, if any."""
    return click.get_current_context().find_root().params.get("lang")


def _echo(message: str) -> None:
    click.echo(message)
    sys.stdout.flush()


from hom_phieu.cli_install import kiosk_install, web_install  # noqa: E402 (after the groups)

kiosk.add_command(kiosk_install)
web.add_command(web_install)
from hom_phieu.cli_alerts import alerts as web_alerts  # noqa: E402 (after the groups)

web.add_command(web_alerts)

if __name__ == "__main__":  # pragma: no cover
    main()
