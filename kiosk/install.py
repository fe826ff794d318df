"""``hom-phieu kiosk install``: a fresh Raspberry Pi OS made a kiosk in one command.

The service user and its devices' groups (``sysusers.d``), the state and configuration
folders (``tmpfiles.d``), the udev rule giving the USB receipt printer to the ``lp`` group,
the systemd unit (the shipped one, with its watchdog and ``LG_WD``), enabled; then, on the
machine itself, the enrollment with the admin server, the selftest with the technician,
and the start. Each step is skipped when already done: a second run changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hom_phieu import install
from hom_phieu.i18n import _
from hom_phieu.install import Entry, InstallError, Report, Target

USER = "hom-phieu"
UNIT = "hom-phieu-kiosk.service"
CONFIG_DIR = "/etc/hom-phieu"
CONFIG = f"{CONFIG_DIR}/kiosk.toml"
STATE = "/var/lib/hom-phieu"  # the unit's StateDirectory; $STATE_DIRECTORY for hom-phieu
SYSUSERS = "/usr/lib/sysusers.d/hom-phieu.conf"
TMPFILES = "/usr/lib/tmpfiles.d/hom-phieu.conf"
EXAMPLE = "kiosk.example.toml"
UDEV_RULE = "/etc/udev/rules.d/60-hom-phieu-printer.rules"


@dataclass(frozen=True, slots=True)
class KioskInstall:
    """What the technician asked for."""

    config_text: str | None = None  # --config FILE's text; None: keep it, else the example
    server_url: str | None = None
    code: str | None = None
    command: str | None = None  # ExecStart's hom-phieu (default: the one running)
    selftest: bool = True  # on the machine itself, before the first start
    start: bool = True  # on the machine itself


def groups() -> list[str]:
    """The unit's ``SupplementaryGroups``: gpio, lp, dialout, video, spi."""
    return " ".join(install.unit_values(UNIT, "SupplementaryGroups")).split()


def sysusers() -> bytes:
    lines = [
        "# hom-phieu kiosk: its service user and the groups of its devices (systemd-sysusers).",
        "# Written by `hom-phieu kiosk install`.",
        f'u {USER} - "hom-phieu kiosk" {STATE} /usr/sbin/nologin',
    ]
    lines += [f"m {USER} {group}" for group in groups()]
    return ("\n".join(lines) + "\n").encode()


def tmpfiles() -> bytes:
    return (
        "# hom-phieu kiosk: its configuration (read-only to it) and its state (its eyes only).\n"
        "# Written by `hom-phieu kiosk install`.\n"
        f"d {CONFIG_DIR} 0755 root root -\n"
        f"d {STATE} 0700 {USER} {USER} -\n"
        f"d {STATE}/kiosk 0700 {USER} {USER} -\n"
    ).encode()


def udev_rule(vendor: int | None, product: int | None) -> bytes:
    lines = [
        "# hom-phieu kiosk: the USB receipt printer, for the lp group the service is in.",
        "# Written by `hom-phieu kiosk install`.",
        '# The kernel\'s usblp driver (printer kind "file", /dev/usb/lp0): a stable name too.',
        'SUBSYSTEM=="usbmisc", KERNEL=="lp[0-9]*", GROUP="lp", MODE="0660", '
        'SYMLINK+="hom-phieu-printer"',
    ]
    if vendor is not None and product is not None:
        lines += [
            '# The configured printer over libusb (printer kind "usb").',
            f'SUBSYSTEM=="usb", ATTR{{idVendor}}=="{vendor:04x}", '
            f'ATTR{{idProduct}}=="{product:04x}", GROUP="lp", MODE="0660"',
        ]
    return ("\n".join(lines) + "\n").encode()


def plan(request: KioskInstall, where: Target) -> list[Entry]:
    config = request.config_text
    if config is None:  # the technician's file is kept; a fresh machine gets the example
        existing = where.path(CONFIG)
        config = existing.read_text() if existing.exists() else install.shipped(EXAMPLE)
    printer = _printer_ids(config)
    command = install.checked_command(request.command)
    return [
        Entry(SYSUSERS, sysusers(), then=(("systemd-sysusers", SYSUSERS),)),
        Entry(TMPFILES, tmpfiles(), then=(("systemd-tmpfiles", "--create", TMPFILES),)),
        Entry(CONFIG_DIR, mode=0o755),
        Entry(CONFIG, config.encode(), keep=request.config_text is None),
        Entry(STATE, mode=0o700, owner=USER),
        Entry(f"{STATE}/kiosk", mode=0o700, owner=USER),
        Entry(
            UDEV_RULE,
            udev_rule(*printer),
            then=(
                ("udevadm", "control", "--reload"),
                ("udevadm", "trigger", "--action=add", "--subsystem-match=usbmisc"),
            ),
        ),
        Entry(
            f"{install.UNIT_DIR}/{UNIT}",
            install.unit(UNIT, command),
            then=(("systemctl", "daemon-reload"),),
        ),
        install.enabled(UNIT),
    ]


def _printer_ids(config_text: str) -> tuple[int | None, int | None]:
    """The USB ids of the configured printer; a wrong configuration stops the install."""
    from kiosk.config import ConfigError, parse_config

    try:
        printer = parse_config(config_text, CONFIG).printer
    except ConfigError as exc:
        raise InstallError(str(exc)) from None
    return printer.usb_vendor_id, printer.usb_product_id


def run(
    request: KioskInstall,
    where: Target,
    *,
    echo: Callable[[str], None],
    selftest: Callable[[Path], int],
) -> Report:
    """Install the kiosk on ``where``; ``selftest(config)`` walks the technician through it."""
    if (request.server_url is None) != (request.code is None):
        raise InstallError(_("--server and --code go together"))
    report = Report()
    changed = install.apply(plan(request, where), where, report)
    state = where.path(STATE)
    with install.home(state):
        _enroll(request, where, report, echo)
    if not where.live:
        report.note(_("Staging tree {root}: no selftest, nothing started.").format(root=where.root))
        return report
    active = install.is_active(where, UNIT)
    if request.selftest and not active:
        echo(_("Selftest: every button, light, the buzzer, the screen and the printer."))
        if selftest(where.path(CONFIG)) != 0:
            raise InstallError(_("the selftest failed: fix what it names, then run this again"))
        report.note(_("Selftest passed."))
    if request.start:
        read = changed & {CONFIG, f"{install.UNIT_DIR}/{UNIT}"}
        install.start(where, UNIT, active, read, report)
    return report


def _enroll(
    request: KioskInstall, where: Target, report: Report, echo: Callable[[str], None]
) -> None:
    from kiosk.config import ConfigError, load_config
    from kiosk.provision import ProvisionError, load_link, provision

    try:
        link = load_link()
    except ProvisionError as exc:
        raise InstallError(str(exc)) from None
    if link is not None:
        report.note(
            _("Already enrolled as {device} at {office}.").format(
                device=link.device_id, office=link.office.name
            )
        )
        return
    if request.server_url is None or request.code is None:
        if where.live:
            raise InstallError(_("not enrolled yet: give --server URL --code CODE"))
        report.note(_("Not enrolled (no --server and --code)."))
        return
    try:
        key_path = load_config(where.path(CONFIG)).key_path
    except ConfigError as exc:
        raise InstallError(str(exc)) from None
    if not str(key_path).startswith(str(where.path(STATE))):
        key_path = where.path(str(key_path))  # a key named in kiosk.toml, inside the tree
    try:
        link = provision(request.server_url, request.code, key_path=key_path, echo=echo)
    except ProvisionError as exc:
        raise InstallError(str(exc)) from None
    report.change(_("enrolled as {device}").format(device=link.device_id))
    if where.live:  # the key and server.json were written as root: the service's own
        where.chown(where.path(STATE), USER)
