"""The ticket printer: ESC/POS bytes built in memory, sent by a worker thread that never blocks
or fails the vote that asked for the ticket.

A ticket is one raster image (see :mod:`hom_phieu.render.ticket_render`) built in python-escpos'
``Dummy`` printer and sent in a single write, so a fault can cut a ticket short but never
interleave two. Printing is best effort: most cheap printers cannot report paper-out, a
failed job is reported (for staff and the ledger's EVENT) and never retried by itself, so
no citizen gets two tickets for one vote.

python-escpos is imported lazily (:func:`hardware.escpos_cache.prepare_escpos`): its
capability cache is never left on the ledger's disk to be damaged.
"""

from __future__ import annotations

import errno
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from PIL import Image

from hardware.escpos_cache import EscposError, prepare_escpos
from hom_phieu.i18n import _
from hom_phieu.render.ticket_render import PAPER_WIDTH_PX, render_slip, render_ticket

if TYPE_CHECKING:
    from pathlib import Path

    from hom_phieu.render.views import Slip, Ticket


class PrinterConfig(Protocol):
    """What the printer needs of its settings (the kiosk's ``[printer]`` table)."""

    kind: str
    profile: str
    paper_width_mm: int
    usb_vendor_id: int | None
    usb_product_id: int | None
    serial_device: Path | None
    baudrate: int
    host: str | None
    port: int
    file: Path | None


log = logging.getLogger(__name__)

FEED_LINES = 4  # blank lines after the ticket, past the tear bar of a printer without cutter
NETWORK_TIMEOUT_S = 10.0
USB_TIMEOUT_MS = 10_000
SERIAL_TIMEOUT_S = 10.0
STALL_AFTER_S = 10.0  # a write taking longer than this is shown as a fault while it hangs
_REMEMBERED_JOBS = 1000  # job ids kept to refuse a second submission of the same ticket


class PrinterError(Exception):
    """The printer cannot be used; ``reason`` says why, for staff, with the fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def profile_names() -> list[str]:
    prepare_escpos()
    from escpos.capabilities import CAPABILITIES

    return sorted(CAPABILITIES["profiles"])


def profile_width_px(profile: str) -> int | None:
    """Printable dots across the paper for ``profile``; None when the profile does not say."""
    prepare_escpos()
    from escpos.capabilities import CAPABILITIES

    if profile not in CAPABILITIES["profiles"]:
        raise PrinterError(
            _("unknown printer profile {profile}; use one of: {names}").format(
                profile=repr(profile), names=", ".join(profile_names())
            )
        )
    pixels = CAPABILITIES["profiles"][profile].get("media", {}).get("width", {}).get("pixels")
    return pixels if isinstance(pixels, int) else None


def ticket_width_px(paper_width_mm: int, profile: str) -> int:
    """The image width for this paper: 384 px (58 mm) or 576 px (80 mm), narrower if the
    profile prints fewer dots (Epson TM-T88 at 180 dpi: 512)."""
    width = PAPER_WIDTH_PX[paper_width_mm]
    profile_px = profile_width_px(profile)
    return min(width, profile_px) if profile_px else width


def ticket_bytes(image: Image.Image, profile: str) -> bytes:
    """The ESC/POS bytes of one printed ``image``: initialise, the image as a raster
    (``GS v 0``, which every thermal receipt profile lists), centred, feed, cut."""
    profile_px = profile_width_px(profile)
    if profile_px and image.width > profile_px:
        raise PrinterError(
            _("the ticket is {width} px wide but printer profile {profile} prints {dots}; "
              "set printer.paper_width_mm or printer.profile to match the printer").format(
                width=image.width, profile=profile, dots=profile_px
            )
        )  # fmt: skip
    from escpos.printer import Dummy

    dummy = Dummy(profile=profile)
    if profile_px is None:
        # Without a media width python-escpos prints a warning to stdout and cannot centre;
        # the image is the paper width, so tell this one profile instance so.
        data = dict(dummy.profile.profile_data)
        data["media"] = {**data.get("media", {}), "width": {"pixels": image.width}}
        dummy.profile.profile_data = data
    dummy.hw("INIT")
    dummy.image(image, impl="bitImageRaster", center=True)
    if dummy.profile.supports("paperFullCut") or dummy.profile.supports("paperPartCut"):
        dummy.cut()  # feeds six lines, then cuts
    else:
        dummy.print_and_feed(FEED_LINES)
        dummy.cut(feed=False)  # GS V 66 0; printers without a cutter ignore it
    return dummy.output


def ticket_data(ticket: Ticket, config: PrinterConfig) -> bytes:
    """The bytes to :meth:`PrinterWorker.submit` for ``ticket`` on the configured printer."""
    width = ticket_width_px(config.paper_width_mm, config.profile)
    return ticket_bytes(render_ticket(ticket, width), config.profile)


def slip_data(slip: Slip, config: PrinterConfig) -> bytes:
    width = ticket_width_px(config.paper_width_mm, config.profile)
    return ticket_bytes(render_slip(slip, width), config.profile)


# --- connections ------------------------------------------------------------------------
class Connection(Protocol):
    """What the worker needs of a python-escpos printer."""

    def _raw(self, msg: bytes) -> None: ...

    def close(self) -> None: ...


def where(config: PrinterConfig) -> str:
    """The printer's address as staff know it: a device, ``host:port`` or USB ids."""
    if config.kind == "usb":
        return f"{config.usb_vendor_id or 0:04x}:{config.usb_product_id or 0:04x}"
    if config.kind == "serial":
        return str(config.serial_device)
    if config.kind == "network":
        return f"{config.host}:{config.port}"
    if config.kind == "file":
        return str(config.file)
    return config.kind


def open_connection(config: PrinterConfig) -> Any:
    """The opened python-escpos printer for ``config`` (None for kind ``none``).

    Raises :class:`PrinterError` naming the problem and its fix.
    """
    if config.kind == "none":
        return None
    prepare_escpos()
    from escpos.printer import File, Network, Serial, Usb
    from escpos.printer import serial as escpos_serial
    from escpos.printer import usb as escpos_usb

    profile = config.profile
    profile_width_px(profile)  # an unknown profile is named here, not deep in python-escpos
    try:
        if config.kind == "usb":
            if not escpos_usb.is_usable():
                raise PrinterError(_("USB printing needs the pyusb package: pip install pyusb"))
            ids = dict(idVendor=config.usb_vendor_id, idProduct=config.usb_product_id)
            printer = Usb(**ids, timeout=USB_TIMEOUT_MS, profile=profile)
        elif config.kind == "serial":
            if not escpos_serial.is_usable():
                message = _("serial printing needs the pyserial package: pip install pyserial")
                raise PrinterError(message)
            device, speed = str(config.serial_device), config.baudrate
            printer = Serial(device, speed, timeout=SERIAL_TIMEOUT_S, profile=profile)
        elif config.kind == "network":
            printer = Network(config.host, config.port, NETWORK_TIMEOUT_S, profile=profile)
        elif config.kind == "file":
            printer = File(str(config.file), profile=profile)
        else:
            kinds = "none, usb, serial, network, file"
            message = _("printer.kind {kind} is unknown; use one of: {kinds}")
            raise PrinterError(message.format(kind=repr(config.kind), kinds=kinds))
        printer.open()
    except PrinterError:
        raise
    except Exception as exc:
        raise PrinterError(describe_fault(exc, config, opening=True)) from exc
    return printer


def describe_fault(exc: BaseException, config: PrinterConfig, opening: bool = False) -> str:
    """A reason staff can act on, from what python-escpos or the OS raised."""
    if isinstance(exc, PrinterError | EscposError):
        return exc.reason
    place, code = where(config), _errno(exc)
    if isinstance(exc, PermissionError) or code in (errno.EACCES, errno.EPERM):
        if config.kind == "usb":
            return _("permission denied on USB printer {place}: add a udev rule for it").format(
                place=place
            )
        group = "dialout" if config.kind == "serial" else "lp"
        message = _("permission denied on {place}: add the user to the {group} group")
        return message.format(place=place, group=group)
    if config.kind == "network" and opening:
        return _("network printer {place} not reachable").format(place=place)
    if code == errno.ENOSPC:
        return _("printer {place} is out of paper").format(place=place)
    if isinstance(exc, TimeoutError) or code == errno.ETIMEDOUT:
        return _("printer {place} not responding: out of paper or offline").format(place=place)
    if isinstance(exc, BrokenPipeError | ConnectionError):
        return _("network printer {place} closed the connection").format(place=place)
    if opening or code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        if config.kind == "usb":
            message = _("USB printer {place} not found: check the cable and the power")
        else:
            message = _("printer not found at {place}: check the cable and the power")
        return message.format(place=place)
    detail = _os_detail(exc)
    return _("printer {place} out of paper or offline ({detail})").format(
        place=place, detail=detail
    )


def _errors(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it (python-escpos wraps the OS error)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _errno(exc: BaseException) -> int | None:
    for error in _errors(exc):
        if isinstance(error, OSError) and error.errno is not None:
            return error.errno
    return None


def _os_detail(exc: BaseException) -> str:
    for error in _errors(exc):
        if isinstance(error, OSError) and error.strerror:
            return error.strerror
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# --- the worker -------------------------------------------------------------------------
ResultCallback = Callable[[str, bool, str | None], None]


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """``unknown`` before the first job, then ``ok`` or ``fault``; ``disabled`` for kind
    ``none``. ``reason`` explains a fault, for staff."""

    state: str
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.state != "fault"


@dataclass(frozen=True, slots=True)
class PrinterStats:
    printed: int
    failed: int
    queued: int  # submitted, not finished yet (the one printing included)


class PrinterWorker:
    """Prints submitted jobs one after the other on a daemon thread.

    ``submit`` only queues (it never blocks or raises); the thread opens the connection when
    it first needs it, sends each job in one write and calls ``on_result(job_id, ok, error)``
    (on the worker thread). After an error it closes the connection, to reopen it for the
    next job; the failed job is not retried, so a ticket is never printed twice.
    """

    def __init__(
        self,
        config: PrinterConfig,
        on_result: ResultCallback | None = None,
        *,
        connect: Callable[[], Connection | None] | None = None,
        stall_after_s: float = STALL_AFTER_S,
    ) -> None:
        self._config, self._on_result, self._stall_after_s = config, on_result, stall_after_s
        self._connect = connect or (lambda: open_connection(config))
        self._connection: Connection | None = None
        self._queue: queue.SimpleQueue[tuple[str, bytes] | None] = queue.SimpleQueue()
        self._lock = threading.Condition()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._status = PrinterStatus("disabled" if config.kind == "none" else "unknown")
        self._printed = self._failed = self._queued = 0
        self._busy_since: float | None = None
        self._closing = False
        self._deadline: float | None = None
        self._thread = threading.Thread(target=self._run, name="printer", daemon=True)
        self._thread.start()

    # -- the caller's side --
    def submit(self, job_id: str, data: bytes | Callable[[], bytes]) -> None:
        """Queue ``data`` for printing; its outcome goes to ``on_result``. A job id already
        submitted is ignored (logged): the first submission reports for it."""
        try:
            payload = data if callable(data) else bytes(data)
            with self._lock:
                if job_id in self._seen:
                    log.warning("print job %s submitted twice; printed at most once", job_id)
                    return
                self._seen[job_id] = None
                while len(self._seen) > _REMEMBERED_JOBS:
                    self._seen.popitem(last=False)
                closing = self._closing
                if not closing:
                    self._queued += 1
                    self._queue.put((job_id, payload))
            if closing:
                self._failed_job(job_id, _("not printed: the printer was stopped"))
        except Exception as exc:  # never into the vote's path
            log.exception("could not queue print job %s", job_id)
            self._failed_job(job_id, _("not printed: {error}").format(error=exc))

    @property
    def status(self) -> PrinterStatus:
        with self._lock:
            busy_since, status = self._busy_since, self._status
        if busy_since is not None and time.monotonic() - busy_since > self._stall_after_s:
            seconds = int(time.monotonic() - busy_since)
            message = _("printer {place} not responding for {seconds} s: out of paper or offline")
            reason = message.format(place=where(self._config), seconds=seconds)
            return PrinterStatus("fault", reason)
        return status

    @property
    def stats(self) -> PrinterStats:
        with self._lock:
            return PrinterStats(self._printed, self._failed, self._queued)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every submitted job has finished; False if ``timeout`` ran out."""
        with self._lock:
            return self._lock.wait_for(lambda: self._queued == 0, timeout)

    def close(self, timeout: float = 5.0) -> bool:
        """Stop the thread after the jobs already queued, giving them ``timeout`` seconds; jobs
        still waiting then are reported as not printed. False if a write still hangs."""
        with self._lock:
            if not self._closing:
                self._closing = True
                self._deadline = time.monotonic() + timeout
                self._queue.put(None)
        self._thread.join(timeout)
        if self._thread.is_alive():
            return False
        self._drop_connection()
        return True

    # -- the worker thread --
    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            job_id, data = job
            late = self._deadline is not None and time.monotonic() > self._deadline
            if late:
                self._failed_job(job_id, _("not printed: the printer was stopped"), queued=True)
            else:
                self._print(job_id, data)

    def _print(self, job_id: str, data: bytes | Callable[[], bytes]) -> None:
        if callable(data):  # drawn here, on the printer thread, not in the vote's loop
            try:
                data = data()
            except Exception as exc:
                log.exception("could not draw print job %s", job_id)
                self._failed_job(job_id, _("not printed: {error}").format(error=exc), queued=True)
                return
        with self._lock:
            self._busy_since = time.monotonic()
        try:
            if self._connection is None:
                self._connection = self._connect()
            if self._connection is None:
                raise PrinterError(_("no printer is configured (printer.kind is none)"))
            self._connection._raw(data)
        except Exception as exc:
            reason = describe_fault(exc, self._config)
            log.warning("print job %s failed: %s", job_id, reason)
            self._drop_connection()
            self._failed_job(job_id, reason, queued=True)
            return
        with self._lock:
            self._printed += 1
            self._status = PrinterStatus("ok")
        self._report(job_id, True, None)
        self._finish()

    def _failed_job(self, job_id: str, reason: str, queued: bool = False) -> None:
        with self._lock:
            self._failed += 1
            if self._config.kind != "none":
                self._status = PrinterStatus("fault", reason)
        self._report(job_id, False, reason)
        if queued:
            self._finish()

    def _finish(self) -> None:
        """One queued job is done (reported first, so :meth:`wait_idle` sees its result)."""
        with self._lock:
            self._queued -= 1
            self._busy_since = None
            self._lock.notify_all()

    def _report(self, job_id: str, ok: bool, error: str | None) -> None:
        if self._on_result is None:
            return
        try:
            self._on_result(job_id, ok, error)
        except Exception:
            log.exception("the print result callback failed for job %s", job_id)

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.close()
        except Exception:
            log.debug("closing the printer connection failed", exc_info=True)
