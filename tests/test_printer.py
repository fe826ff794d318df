"""The printer layer: connections from the configuration, one write per ticket, and faults
that are reported (never raised into the vote's path) without printing a ticket twice."""

from __future__ import annotations

import errno
import gc
import os
import socket
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from hardware.escpos_decode import decode, page_image
from hardware.printer import (
    PrinterError,
    PrinterWorker,
    describe_fault,
    open_connection,
    ticket_bytes,
    ticket_data,
    ticket_width_px,
)
from hom_phieu.render.views import Ticket
from kiosk.config import Printer

TICKET = Ticket(
    office="UBND xã Đông Thanh",
    counter="Quầy 1",
    clerk_name="Đặng Thị Ngọc Ánh",
    clerk_title="Công chức một cửa",
    date_text="22/11/2026",
    time_text="08:15",
    receipt_code="XZ4HF-BAJJE",
    survey_url="https://hom-phieu.example.vn/khao-sat/lan",
)


class Results:
    """Collects ``on_result`` calls (made on the worker thread)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool, str | None]] = []
        self.lock = threading.Lock()

    def __call__(self, job_id: str, ok: bool, error: str | None) -> None:
        with self.lock:
            self.calls.append((job_id, ok, error))


class FakeDevice:
    """The printer hardware: the paper it printed, and whether it is out of paper."""

    def __init__(self) -> None:
        self.paper = bytearray()
        self.out_of_paper = False
        self.opened = 0
        self.closed = 0
        self.release = threading.Event()
        self.release.set()  # cleared: writes hang until set

    def connect(self) -> FakeConnection:
        self.opened += 1
        return FakeConnection(self)


class FakeConnection:
    def __init__(self, device: FakeDevice) -> None:
        self.device = device
        self.writes = 0

    def _raw(self, msg: bytes) -> None:
        self.writes += 1
        if not self.device.release.wait(30):
            raise TimeoutError("test printer never released")
        if self.device.out_of_paper:  # part of the ticket comes out, then the head stops
            self.device.paper += msg[: len(msg) // 3]
            raise OSError(errno.EIO, "Input/output error")
        self.device.paper += msg

    def close(self) -> None:
        self.device.closed += 1


def job(name: str) -> bytes:
    return f"<job {name}>".encode() * 20


def file_config(path: Path) -> Printer:
    return Printer(kind="file", file=path)


# --- bytes ------------------------------------------------------------------------------
def test_ticket_width_follows_paper_and_profile() -> None:
    assert ticket_width_px(58, "POS-5890") == 384
    assert ticket_width_px(80, "TM-T20II") == 576
    assert ticket_width_px(80, "TM-T88V") == 512  # 180 dpi: fewer dots across 80 mm
    assert ticket_width_px(80, "default") == 576  # the profile does not say: the paper does


def test_an_image_wider_than_the_profile_is_refused_with_the_fix() -> None:
    with pytest.raises(PrinterError, match="paper_width_mm"):
        ticket_bytes(Image.new("1", (576, 10), 1), "POS-5890")


def test_an_unknown_profile_names_the_known_ones() -> None:
    with pytest.raises(PrinterError, match="POS-5890"):
        ticket_bytes(Image.new("1", (384, 10), 1), "POS-9999")


def test_ticket_data_for_80mm_decodes_to_one_full_width_image() -> None:
    config = Printer(kind="file", profile="TM-T20II", paper_width_mm=80)
    page = page_image(decode(ticket_data(TICKET, config)))
    assert page is not None and page.width == 576


def test_escpos_leaves_no_cache_and_no_temporary_folder_behind(tmp_path: Path) -> None:
    """Imported in a fresh process, python-escpos leaves nothing behind: no capability
    cache on the ledger's disk (tests.test_kiosk_faults: it broke the printer for good), no
    temporary folder."""
    temp, home, runtime = tmp_path / "tmp", tmp_path / "home", tmp_path / "run"
    temp.mkdir()
    runtime.mkdir()
    env = {**os.environ, "HOM_PHIEU_HOME": str(home), "TMPDIR": str(temp),
           "RUNTIME_DIRECTORY": str(runtime)}  # fmt: skip
    env.pop("ESCPOS_CAPABILITIES_PICKLE_DIR", None)
    code = (
        "from PIL import Image; from hardware.printer import ticket_bytes;"
        "ticket_bytes(Image.new('1', (384, 8), 1), 'POS-5890')"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60)
    assert not home.exists()
    assert list(temp.iterdir()) == [] and list(runtime.iterdir()) == []


# --- connections --------------------------------------------------------------------------
def test_file_printer_gets_the_ticket_bytes_in_one_write(tmp_path: Path) -> None:
    from escpos.printer import File

    config = file_config(tmp_path / "lp0")
    data = ticket_data(TICKET, config)
    writes: list[int] = []

    def connect() -> Any:
        printer = open_connection(config)
        assert isinstance(printer, File)
        raw = printer._raw
        printer._raw = lambda msg: (writes.append(len(msg)), raw(msg))[1]
        return printer

    results = Results()
    worker = PrinterWorker(config, results, connect=connect)
    worker.submit("t1", data)
    assert worker.wait_idle(10)
    assert worker.close()
    assert results.calls == [("t1", True, None)]
    assert writes == [len(data)]
    assert (tmp_path / "lp0").read_bytes() == data
    assert worker.status.state == "ok"
    assert worker.stats.printed == 1 and worker.stats.failed == 0


def test_a_missing_device_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "lp0"
    with pytest.raises(PrinterError) as caught:
        open_connection(file_config(missing))
    assert caught.value.reason.startswith(f"printer not found at {missing}")


def test_permission_problems_name_the_group() -> None:
    denied = PermissionError(errno.EACCES, "Permission denied")
    lp = describe_fault(denied, file_config(Path("/dev/usb/lp0")), opening=True)
    assert lp == "permission denied on /dev/usb/lp0: add the user to the lp group"
    serial = Printer(kind="serial", serial_device=Path("/dev/ttyUSB0"))
    assert "dialout group" in describe_fault(denied, serial, opening=True)


def test_network_printer_receives_the_bytes_over_tcp() -> None:
    from escpos.printer import Network

    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(10)
    received = bytearray()

    def serve() -> None:
        connection, _address = server.accept()
        with connection:
            while chunk := connection.recv(65536):
                received.extend(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    config = Printer(kind="network", host="127.0.0.1", port=server.getsockname()[1])
    data = ticket_data(TICKET, config)
    printer = open_connection(config)
    assert isinstance(printer, Network)
    results = Results()
    worker = PrinterWorker(config, results, connect=lambda: printer)
    worker.submit("n1", data)
    assert worker.wait_idle(10)
    assert worker.close()  # closes the socket: the server sees the end
    thread.join(10)
    server.close()
    assert results.calls == [("n1", True, None)]
    assert bytes(received) == data


def test_unreachable_network_printer_is_a_fault_not_an_exception() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again: nothing listens there
    config = Printer(kind="network", host="127.0.0.1", port=port)
    results = Results()
    worker = PrinterWorker(config, results)
    worker.submit("n1", b"ticket")
    assert worker.wait_idle(20)
    worker.close()
    reason = f"network printer 127.0.0.1:{port} not reachable"
    assert results.calls == [("n1", False, reason)]
    assert worker.status.state == "fault" and worker.status.reason == reason


def test_kind_none_has_no_connection_and_reports_jobs() -> None:
    config = Printer(kind="none")
    assert open_connection(config) is None
    results = Results()
    worker = PrinterWorker(config, results)
    assert worker.status.state == "disabled"
    worker.submit("x", b"data")
    assert worker.wait_idle(10)
    worker.close()
    assert results.calls[0][:2] == ("x", False)
    assert "no printer is configured" in (results.calls[0][2] or "")
    assert worker.status.state == "disabled"


def test_usb_without_pyusb_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from escpos.printer import usb as escpos_usb

    monkeypatch.setattr(escpos_usb, "_DEP_USB", False)
    config = Printer(kind="usb", usb_vendor_id=0x0416, usb_product_id=0x5011)
    with pytest.raises(PrinterError, match="pyusb"):
        open_connection(config)


def fake_usb(found: Any) -> types.SimpleNamespace:
    """pyusb's device layer, which a machine without the printer cannot have."""

    class USBError(Exception):
        pass

    finds: list[dict[str, Any]] = []

    def find(**kwargs: Any) -> Any:
        finds.append(kwargs)
        return found

    core = types.SimpleNamespace(find=find, USBError=USBError, finds=finds)
    util = types.SimpleNamespace(dispose_resources=lambda device: None)
    return types.SimpleNamespace(core=core, util=util)


def test_usb_printer_not_plugged_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from escpos.printer import usb as escpos_usb

    fake = fake_usb(found=None)
    monkeypatch.setattr(escpos_usb, "_DEP_USB", True)
    monkeypatch.setattr(escpos_usb, "usb", fake, raising=False)
    config = Printer(kind="usb", usb_vendor_id=0x0416, usb_product_id=0x5011)
    with pytest.raises(PrinterError) as caught:
        open_connection(config)
    assert caught.value.reason.startswith("USB printer 0416:5011 not found")
    assert fake.core.finds == [{"idVendor": 0x0416, "idProduct": 0x5011}]
    gc.collect()  # python-escpos' objects are cyclic: collect them while pyusb is "there"


def test_usb_printer_gets_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    from escpos.printer import Usb
    from escpos.printer import usb as escpos_usb

    class Backend:  # not libusb1: python-escpos leaves the kernel driver alone
        pass

    class Device:
        backend = Backend()

        def __init__(self) -> None:
            self.writes: list[tuple[int, bytes, int]] = []

        def set_configuration(self) -> None: ...

        def reset(self) -> None: ...

        def write(self, endpoint: int, data: bytes, timeout: int) -> int:
            self.writes.append((endpoint, bytes(data), timeout))
            return len(data)

    device = Device()
    monkeypatch.setattr(escpos_usb, "_DEP_USB", True)
    monkeypatch.setattr(escpos_usb, "usb", fake_usb(found=device), raising=False)
    config = Printer(kind="usb", usb_vendor_id=0x0416, usb_product_id=0x5011)
    usb_printer = open_connection(config)
    assert isinstance(usb_printer, Usb)
    results = Results()
    worker = PrinterWorker(config, results, connect=[usb_printer].pop)  # one connection
    worker.submit("u1", b"ticket bytes")
    assert worker.wait_idle(10)
    assert worker.close()
    assert results.calls == [("u1", True, None)]
    assert [(endpoint, data) for endpoint, data, _timeout in device.writes] == [
        (0x01, b"ticket bytes")
    ]
    del usb_printer, worker
    gc.collect()


def test_serial_without_pyserial_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from escpos.printer import serial as escpos_serial

    monkeypatch.setattr(escpos_serial, "_DEP_PYSERIAL", False)
    config = Printer(kind="serial", serial_device=Path("/dev/ttyUSB0"))
    with pytest.raises(PrinterError, match="pyserial"):
        open_connection(config)


def test_serial_printer_opens_the_port_at_the_configured_speed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from escpos.printer import Serial
    from escpos.printer import serial as escpos_serial

    class SerialException(OSError):
        pass

    ports: list[dict[str, Any]] = []

    class Port:
        is_open = True

        def __init__(self, **kwargs: Any) -> None:
            if kwargs["port"] == "/dev/ttyMISSING":
                raise SerialException(errno.ENOENT, "could not open port")
            ports.append(kwargs)

        def write(self, data: bytes) -> int:
            return len(data)

        def flush(self) -> None: ...

        def close(self) -> None: ...

    fake = types.SimpleNamespace(
        Serial=Port, SerialException=SerialException, PARITY_NONE="N", STOPBITS_ONE=1
    )
    monkeypatch.setattr(escpos_serial, "_DEP_PYSERIAL", True)
    monkeypatch.setattr(escpos_serial, "serial", fake, raising=False)
    printer = open_connection(
        Printer(kind="serial", serial_device=Path("/dev/ttyUSB0"), baudrate=19200)
    )
    assert isinstance(printer, Serial)
    assert ports[0]["port"] == "/dev/ttyUSB0" and ports[0]["baudrate"] == 19200
    missing = Printer(kind="serial", serial_device=Path("/dev/ttyMISSING"))
    with pytest.raises(PrinterError) as caught:
        open_connection(missing)
    assert caught.value.reason.startswith("printer not found at /dev/ttyMISSING")
    printer.close()
    del printer
    gc.collect()


# --- faults -------------------------------------------------------------------------------
def test_a_fault_mid_ticket_is_reported_and_never_printed_twice() -> None:
    device, results = FakeDevice(), Results()
    config = file_config(Path("/dev/usb/lp0"))
    worker = PrinterWorker(config, results, connect=device.connect)
    worker.submit("a", job("a"))
    assert worker.wait_idle(10)
    assert device.paper == job("a")

    device.out_of_paper = True
    worker.submit("b", job("b"))
    assert worker.wait_idle(10)
    job_id, ok, error = results.calls[-1]
    assert (job_id, ok) == ("b", False)
    assert error == "printer /dev/usb/lp0 out of paper or offline (Input/output error)"
    assert worker.status.state == "fault" and worker.status.reason == error
    assert device.closed == 1  # the broken connection is dropped

    device.out_of_paper = False  # paper loaded: the next ticket prints
    worker.submit("c", job("c"))
    assert worker.wait_idle(10)
    assert worker.close()
    assert results.calls == [("a", True, None), ("b", False, error), ("c", True, None)]
    assert device.opened == 2  # reopened after the fault
    assert worker.status.state == "ok"
    assert worker.stats.printed == 2 and worker.stats.failed == 1
    # b came out cut short, once; nothing was printed twice
    assert device.paper == job("a") + job("b")[: len(job("b")) // 3] + job("c")


def test_the_same_job_submitted_twice_prints_once() -> None:
    device, results = FakeDevice(), Results()
    worker = PrinterWorker(file_config(Path("/dev/usb/lp0")), results, connect=device.connect)
    worker.submit("a", job("a"))
    worker.submit("a", job("a"))
    assert worker.wait_idle(10)
    worker.close()
    assert device.paper == job("a")
    assert results.calls == [("a", True, None)]


def test_submit_returns_at_once_while_the_printer_hangs() -> None:
    device, results = FakeDevice(), Results()
    device.release.clear()  # every write hangs until released
    worker = PrinterWorker(
        file_config(Path("/dev/usb/lp0")), results, connect=device.connect, stall_after_s=0.2
    )
    started = time.monotonic()
    for name in "abc":
        worker.submit(name, job(name))
    assert time.monotonic() - started < 0.1
    assert not worker.wait_idle(0.5)
    status = worker.status
    assert status.state == "fault"
    assert "not responding" in status.reason and "/dev/usb/lp0" in status.reason
    assert worker.stats.queued == 3  # queued, not lost
    device.release.set()
    assert worker.wait_idle(10)
    worker.close()
    assert device.paper == job("a") + job("b") + job("c")
    assert [call[:2] for call in results.calls] == [("a", True), ("b", True), ("c", True)]
    assert worker.status.state == "ok"


def test_submit_never_raises() -> None:
    device = FakeDevice()

    def explode(job_id: str, ok: bool, error: str | None) -> None:
        raise RuntimeError("the caller's callback is broken")

    worker = PrinterWorker(file_config(Path("/dev/usb/lp0")), explode, connect=device.connect)
    worker.submit("bad", None)  # type: ignore[arg-type]  # not bytes at all
    worker.submit("a", job("a"))  # the callback raising does not stop the worker
    worker.submit("b", job("b"))
    assert worker.wait_idle(10)
    assert device.paper == job("a") + job("b")
    assert worker.close()
    worker.submit("late", job("late"))  # after close: reported, not raised, not printed
    assert device.paper == job("a") + job("b")


def test_a_job_submitted_after_close_is_reported_not_printed() -> None:
    device, results = FakeDevice(), Results()
    worker = PrinterWorker(file_config(Path("/dev/usb/lp0")), results, connect=device.connect)
    assert worker.close()
    worker.submit("late", job("late"))
    assert results.calls == [("late", False, "not printed: the printer was stopped")]
    assert device.paper == b""


def test_close_gives_up_on_a_hung_write_without_raising() -> None:
    device, results = FakeDevice(), Results()
    device.release.clear()
    worker = PrinterWorker(file_config(Path("/dev/usb/lp0")), results, connect=device.connect)
    worker.submit("a", job("a"))
    worker.submit("b", job("b"))
    assert worker.close(timeout=0.2) is False  # a is stuck in the printer
    device.release.set()  # it comes back: a finishes, b is too late and is reported
    assert worker.wait_idle(10)
    assert results.calls == [
        ("a", True, None),
        ("b", False, "not printed: the printer was stopped"),
    ]
    assert device.paper == job("a")
