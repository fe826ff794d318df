"""``hom-phieu kiosk run``: put the parts together, run the loop, take them apart.

With ``simulate`` the parts are gpiozero's MockFactory pins, a PNG screen, a file
printer and the virtual panel on 127.0.0.1; everything else is the real code. If the
ledger cannot be opened (damaged, foreign, disk trouble) the kiosk does not exit into
a restart loop: it stays up out of service, showing the reason to staff, and tells
systemd so (STATUS), until it is stopped.
"""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hardware import heap
from hom_phieu import paths
from hom_phieu.clock import AdjustableClock, Clock, SystemClock
from hom_phieu.i18n import _, set_language
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey, DeviceKeyError
from hom_phieu.ledger.errors import BallotBoxError, LedgerBusyError, LedgerCorruptError
from hom_phieu.render.views import Frame, FrameKind
from kiosk.config import ConfigError, KioskConfig, load_config_or_defaults
from kiosk.daemon import Kiosk
from kiosk.sd_notify import Notifier

if TYPE_CHECKING:
    from kiosk.provision import ServerLink

Echo = Callable[[str], None]
RETRY_OPEN_S = 30.0  # out of service for a full or read-only disk: try the ledger again


def config_digest(config_path: Path | None) -> str:
    """What the BOOT record remembers of the configuration."""
    from kiosk.config import DEFAULT_PATH

    path = config_path or (DEFAULT_PATH if DEFAULT_PATH.exists() else None)
    data = path.read_bytes() if path else b"embedded defaults"
    return hashlib.sha256(data).hexdigest()


def _load(config_path: Path | None, language: str | None, echo: Echo) -> KioskConfig | None:
    """The configuration, and the language it asks for (unless ``--lang`` said otherwise)."""
    try:
        config = load_config_or_defaults(config_path)
    except ConfigError as exc:
        echo(str(exc))
        return None
    set_language(language or config.device.language)
    return config


def run(
    config_path: Path | None,
    *,
    simulate: bool,
    panel_port: int = 0,
    echo: Echo = print,
    language: str | None = None,
    start_ms: int | None = None,
) -> int:
    """``start_ms`` (simulation only): the simulated wall clock's time at start, synced, so
    that a technician or a test can replay a past month from the device's first record."""
    heap.steady()  # the screen redrawn each minute given back, not kept (hardware.heap)
    config = _load(config_path, language, echo)
    if config is None:
        return 2
    parts = _Parts(config, simulate, echo)
    parts.start_ms = start_ms
    try:
        return parts.run(config_digest(config_path), panel_port)
    finally:
        parts.close()


class _Parts:
    """Everything one kiosk process owns, closed in reverse order."""

    def __init__(self, config: KioskConfig, simulate: bool, echo: Echo) -> None:
        self.config, self.simulate, self.echo = config, simulate, echo
        self.closers: list[Callable[[], Any]] = []
        self.kiosk: Kiosk | None = None
        self.notifier = Notifier()
        self.start_ms: int | None = None

    def close(self) -> None:
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception as exc:  # closing must go on
                self.echo(_("while stopping: {error}").format(error=exc))

    def run(self, digest: str, panel_port: int) -> int:
        config, echo = self.config, self.echo
        clock = AdjustableClock() if self.simulate else SystemClock()
        if self.start_ms is not None and isinstance(clock, AdjustableClock):
            clock.set(self.start_ms, synced=True)
        display: Any = None
        link = self._server_link()  # its configuration's box keys seal from the first record
        sealer = link.config.keyring() if link else None
        while True:  # the ledger first: a second kiosk must not paint over the first's screen
            try:
                key = DeviceKey.load_or_create(config.key_path)
                box = BallotBox.open(config.ledger_path, key, clock, config_digest=digest,
                                     sealer=sealer)  # fmt: skip
                break
            except LedgerBusyError as exc:
                echo(str(exc))
                return 2
            except (BallotBoxError, DeviceKeyError) as exc:
                if display is None:
                    display = self._display()
                # Damage and a wrong key wait for a technician; a full or read-only disk
                # may heal (space freed, remounted): try again now and then.
                heals = not isinstance(exc, LedgerCorruptError | DeviceKeyError)
                if not self._out_of_service(display, str(exc), retry=heals):
                    return 1
        display = display or self._display()
        self.closers.append(box.close)
        archive = None
        if self.simulate:
            from kiosk.simulation import TicketArchive

            archive = TicketArchive(paths.home() / "simulator" / "tickets", clock)
        kiosk_ref: list[Kiosk] = []

        def on_result(job_id: str, ok: bool, error: str | None) -> None:
            kiosk_ref[0].on_printed(job_id, ok, error)

        printer = self._printer(on_result, archive)
        kiosk = Kiosk(
            config=config,
            box=box,
            clock=clock,
            controls_factory=self._controls_factory(),
            display=display,
            printer=printer,
            notifier=self.notifier,
            server_config=link.config if link else None,
            server_url=link.server_url if link else None,
        )
        kiosk_ref.append(kiosk)
        self.kiosk = kiosk
        self.closers.append(kiosk.close)
        self._on_signals(kiosk.stop)
        if link is not None:
            self._start_sync(link, key, box, clock, kiosk)
        state = box.state
        echo(
            _("Kiosk ready: device {device}, box {box}, {ballots} ballots.").format(
                device=box.device_id,
                box=state.open_box.box if state.open_box else "-",
                ballots=state.open_box.votes if state.open_box else 0,
            )
        )
        if self.simulate:
            try:
                self._start_panel(kiosk, clock, archive, display, panel_port)
            except OSError as exc:
                message = _("The virtual panel cannot listen on 127.0.0.1:{port} ({error}); "
                            "choose another with --panel-port (0: any free port).")  # fmt: skip
                echo(message.format(port=panel_port, error=exc.strerror or exc))
                return 2
        kiosk.run()
        return 0

    # --- the parts -----------------------------------------------------------------------
    def _server_link(self) -> ServerLink | None:
        """The enrollment made by ``kiosk provision``, if any (else the kiosk works alone)."""
        from kiosk.provision import ProvisionError, load_link

        try:
            return load_link()
        except ProvisionError as exc:
            self.echo(str(exc))
            return None

    def _start_sync(
        self, link: ServerLink, key: DeviceKey, box: BallotBox, clock: Clock, kiosk: Kiosk
    ) -> None:
        """The sync thread, talking models; the daemon takes the configuration as the
        model and gives its health report as the JSON object it has always handled."""
        from hom_phieu.protocol.models import HealthReport
        from kiosk.sync_client import SyncClient

        acked = box.store.acked()
        client = SyncClient(
            server_url=link.server_url,
            key=key,
            server_public_key=link.server_public_raw,
            ledger_path=self.config.ledger_path,
            clock=clock,
            acked_seq=acked[0] if acked else 0,
            on_ack=kiosk.on_ack,
            on_config=kiosk.on_config,
            health=lambda: HealthReport.from_json(kiosk.health()),
            on_refusal=kiosk.on_refusal,
            config_version=link.config.version,
            interval_s=self.config.server.sync_interval_s,
        )
        kiosk.sync_waker = client.wake
        client.start()
        self.closers.append(client.stop)
        self.echo(_("Syncing with {url} as {device}.").format(
            url=link.server_url, device=link.device_id))  # fmt: skip

    def _display(self) -> Any:
        from hardware.output import FrameDisplay

        config = self.config
        display = FrameDisplay(self._screen(), config.screen.width, config.screen.height)
        self.closers.append(display.close)
        return display

    def _screen(self) -> Any:
        from hardware.screen import NullScreen, PngScreen, ScreenError, open_screen

        if self.simulate:
            return PngScreen(paths.home() / "simulator" / "screen.png")
        try:
            return open_screen(self.config.screen, paths.home())
        except ScreenError as exc:
            self.echo(_("Screen unavailable: {error}").format(error=exc))
            return NullScreen()

    def _printer(self, on_result: Callable[[str, bool, str | None], None], archive: Any):
        from dataclasses import replace

        from hardware.output import TicketPrinter
        from hardware.printer import PrinterWorker

        printer_config = self.config.printer
        if self.simulate:
            printer_config = replace(printer_config, kind="file", file=archive.folder / "x.bin")
            worker = PrinterWorker(printer_config, on_result, connect=archive.connection)
        elif printer_config.kind == "none" or printer_config.print_tickets == "never":
            return None
        else:
            worker = PrinterWorker(printer_config, on_result)
        printer = TicketPrinter(worker, printer_config)
        self.closers.append(printer.close)
        return printer

    def _controls_factory(self) -> Callable[[Callable[[str, bool], None]], Any]:
        from hardware.controls import Controls

        pin_factory = None
        if self.simulate:
            from gpiozero.pins.mock import MockFactory

            pin_factory = MockFactory()
        return lambda on_edge: Controls(self.config, on_edge, pin_factory)

    def _start_panel(self, kiosk: Kiosk, clock: Any, archive: Any, display: Any, port: int):
        from kiosk.panel_server import PanelServer
        from kiosk.simulation import Simulation

        simulation = Simulation(kiosk, clock, archive, display)

        def app() -> Any:  # Flask only once someone opens the panel (see kiosk.panel_server)
            from kiosk.panel import create_panel_app

            return create_panel_app(simulation)

        server = PanelServer(app, port)
        server.start()
        self.closers.append(server.stop)
        self.echo(_("Virtual panel: {url}").format(url=server.url))

    def _on_signals(self, stop: Callable[[], None]) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_args: stop())

    def _out_of_service(self, display: Any, reason: str, *, retry: bool) -> bool:
        """No ballot box: show why and stay up for staff to see it. True when it is time to
        try again (``retry``), False once told to stop."""
        self.echo(_("Out of service: {reason}").format(reason=reason))
        device = self.config.device
        frame = Frame(FrameKind.OUT_OF_SERVICE, device.office, device.counter, message=reason)
        try:
            display.show(frame)
        except Exception as exc:
            self.echo(_("Screen unavailable: {error}").format(error=exc))
        stopped = []  # a plain list: appending is safe in a signal handler, locks are not
        self._on_signals(lambda: stopped.append(True))
        self.notifier.ready(_("Out of service: {reason}").format(reason=reason))
        interval = min(self.notifier.watchdog_interval_s or 1.0, 1.0)
        waited = 0.0
        while not stopped:
            if retry and waited >= RETRY_OPEN_S:
                return True
            time.sleep(interval)
            waited += interval
            self.notifier.watchdog()
        self.notifier.stopping()
        return False


class _Console:
    """The technician at the terminal (or, simulated, a hand that presses each button)."""

    def __init__(self, echo: Echo, confirm: Callable[[str], bool], press: Any = None) -> None:
        self.say, self.confirm, self._press = echo, confirm, press

    def waiting_for_press(self, button: str) -> None:
        if self._press is not None:
            self._press(button)


def selftest(
    config_path: Path | None,
    *,
    simulate: bool,
    echo: Echo,
    confirm: Callable[[str], bool],
    language: str | None = None,
) -> int:
    """Check each button, light, the buzzer, the screen and the printer with a technician."""
    from kiosk.selftest import Selftest, report

    config = _load(config_path, language, echo)
    if config is None:
        return 2
    parts = _Parts(config, simulate, echo)
    try:
        from hardware.printer import PrinterWorker

        display = parts._display()
        printer_factory = None
        if simulate:
            from kiosk.simulation import TicketArchive

            archive = TicketArchive(paths.home() / "simulator" / "tickets", AdjustableClock())

            def printer_factory(on_result):
                return PrinterWorker(config.printer, on_result, connect=archive.connection)

        elif config.printer.kind != "none":

            def printer_factory(on_result):
                return PrinterWorker(config.printer, on_result)

        clock = AdjustableClock() if simulate else SystemClock()
        pins: dict[str, Any] = {}

        def press(button: str) -> None:  # simulated hands, a moment after the request
            pin = pins["controls"].buttons[button].pin
            threading.Timer(0.05, lambda: (pin.drive_low(), pin.drive_high())).start()

        console = _Console(echo, confirm, press if simulate else None)
        factory = parts._controls_factory()
        try:
            test = Selftest(
                config,
                lambda on_edge: pins.setdefault("controls", factory(on_edge)),
                display,
                printer_factory,
                console,
                lambda: clock.read().wall_ms,
            )
        except Exception as exc:  # GPIO busy, no pin factory, permission…
            echo(_("The GPIO pins cannot be used: {error}. Is the kiosk service still running? "
                   "(systemctl stop hom-phieu-kiosk)").format(error=exc))  # fmt: skip
            return 2
        parts.closers.append(test.close)
        checks = test.run()
        echo(report(checks))
        return 0 if all(c.ok for c in checks) else 1
    finally:
        parts.close()
