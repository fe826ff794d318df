"""A light kiosk (issue 14): structural facts about how rarely the idle daemon wakes, on an
injected clock (no timings; ``python -m bench --only kiosk_idle`` measures them)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from hom_phieu.clock import FakeClock
from hom_phieu.ledger.device_key import DeviceKey
from kiosk import panel_server
from kiosk.daemon import BOX_TICK_MS, IDLE_TICK_MS
from kiosk.panel_server import PanelServer
from kiosk.sd_notify import Notifier
from tests.daemon_helpers import DaemonRig


@pytest.fixture
def rig(tmp_path: Path, key: DeviceKey):
    rig = DaemonRig(tmp_path / "ledger.sqlite3", key, FakeClock.at("2026-11-18T08:00:10+07:00"))
    rig.kiosk.pump()
    rig.worker.wait_idle(10)  # the zero report of the box opened at the first start
    rig.step(0)
    yield rig
    rig.close()


def ticks(rig: DaemonRig, seconds: int) -> int:
    """How often the loop looked at the box while ``seconds`` passed, one second a step."""
    looked: list[int] = []
    tick = rig.box.tick
    rig.box.tick = lambda *a, **k: looked.append(1) or tick(*a, **k)  # type: ignore[method-assign]
    for _ in range(seconds):
        rig.step(1000)
    rig.box.tick = tick  # type: ignore[method-assign]
    return len(looked)


def test_the_idle_loop_sleeps_until_the_minute_turns_or_its_idle_look(rig: DaemonRig) -> None:
    kiosk = rig.kiosk
    assert kiosk._sleep_s() >= 1.0  # never the once-a-second poll of old
    assert kiosk._sleep_s() <= IDLE_TICK_MS / 1000
    # 08:00:10 → the screen's minute turns in 50 s; the idle look is due first (30 s)
    assert kiosk._sleep_s() == pytest.approx(IDLE_TICK_MS / 1000)
    rig.step(25_000)
    assert kiosk._sleep_s() == pytest.approx(5.0)  # the idle look
    rig.step(5_000)
    assert kiosk._sleep_s() == pytest.approx(20.0)  # 08:00:40: the minute turns at 08:01
    # Idle, a minute is looked at about three times (the minute turning, every 30 s).
    assert ticks(rig, 120) <= 2 * (60_000 // IDLE_TICK_MS + 1)


def test_a_press_or_a_printing_ticket_brings_back_the_quick_look(rig: DaemonRig) -> None:
    kiosk = rig.kiosk
    pin = kiosk.controls.buttons["hai_long"].pin
    pin.drive_low()
    rig.step(120)
    assert kiosk._sleep_s() <= BOX_TICK_MS / 1000  # a press is settling
    pin.drive_high()
    rig.step(40)
    assert kiosk._tick_every_ms() == BOX_TICK_MS  # the thanks screen, the ticket printing
    rig.worker.wait_idle(10)
    rig.step(kiosk.config.screen.thanks_s * 1000 + 1000)
    assert kiosk.printing.pending == 0 and kiosk._tick_every_ms() == IDLE_TICK_MS


def test_the_watchdog_is_pinged_at_half_its_interval_not_faster(rig: DaemonRig) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": "", "WATCHDOG_USEC": str(30_000_000)})
    assert notifier.watchdog_interval_s == 15.0
    rig.kiosk.notifier = notifier
    rig.kiosk.pump()  # pinged now
    assert 1.0 <= rig.kiosk._sleep_s() <= 15.0


def test_the_clock_set_by_the_panel_is_looked_at_at_once(rig: DaemonRig) -> None:
    kiosk = rig.kiosk
    rig.clock.advance_to("2026-11-30T23:59:59+07:00")
    rig.step(0)
    box = rig.box.state.open_box
    assert box is not None and box.box == "2026-11"
    rig.clock.set_wall(rig.clock.wall_ms + 2_000)  # December, before the next idle look
    before = kiosk.outcomes.last_id()
    kiosk.clock_set()
    kiosk.pump()
    assert [o.action for o in kiosk.outcomes.after(before)] == ["clock_set"]
    box = rig.box.state.open_box
    assert box is not None and box.box == "2026-12"


def test_the_panel_server_sleeps_until_asked_and_loads_its_app_then() -> None:
    built: list[bool] = []

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"path": environ["PATH_INFO"]}).encode()]

    server = PanelServer(lambda: built.append(True) or app)
    assert panel_server.IDLE_POLL_S >= 60  # select() without a half-second poll
    server.start()
    try:
        assert not server.app.built  # nobody asked: no Flask, no app…
        assert not server.serving  # …and no HTTP server either
        with urllib.request.urlopen(server.url + "api/state", timeout=10) as answer:
            assert json.loads(answer.read()) == {"path": "/api/state"}
        assert built == [True] and server.app.built and server.serving
        request = urllib.request.Request(
            server.url + "api/press", data=b"x" * 300_000, method="POST"
        )  # a body the app never reads: the answer still arrives whole
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
    finally:
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        stopping.join(10)
    assert not stopping.is_alive()  # the knock woke the sleeping server


def test_a_size_only_measured_keeps_no_face_open_and_the_heap_can_be_given_back() -> None:
    from hardware import heap
    from hom_phieu.render import fonts

    opened = fonts.font.cache_info().currsize
    fonts.line_metrics(97, True)  # a size nothing draws: measured, not kept
    assert fonts.font.cache_info().currsize == opened
    assert fonts.line_metrics(97, True) == fonts.LineMetrics(
        top=fonts._open(97, True).getbbox(fonts.TALLEST)[1],
        height=fonts._open(97, True).getbbox(fonts.DEEPEST)[3]
        - fonts._open(97, True).getbbox(fonts.TALLEST)[1],
    )
    assert isinstance(heap.release(), bool)  # glibc: trimmed; elsewhere: nothing to do


def test_a_panel_nobody_opened_stops_at_once_and_frees_its_port() -> None:
    server = PanelServer(lambda: pytest.fail("nobody asked"))
    server.start()
    stopping = threading.Thread(target=server.stop)
    stopping.start()
    stopping.join(10)
    assert not stopping.is_alive() and not server.serving
    again = PanelServer(lambda: pytest.fail("nobody asked"), server.port)  # the port is free
    again.stop()  # never started: nothing to wake


IDLE_IMPORTS = """
import sys, types
import hom_phieu.cli, kiosk.runner, kiosk.simulation, kiosk.panel_server, hardware.output
from hardware.escpos_cache import prepare_escpos
prepare_escpos()
import escpos.printer
from hardware.printer import ticket_bytes
from PIL import Image
ticket_bytes(Image.new("1", (384, 40)), "POS-5890")
heavy = ("wsgiref", "http.server", "urllib.request", "ssl", "flask", "yaml", "xml.dom.minidom",
         "serial")
print(" ".join(m for m in heavy if type(sys.modules.get(m)) is types.ModuleType))
import yaml, xml.dom.minidom, serial  # deferred, not missing: loaded when used
print(yaml.safe_load("a: 1"), xml.dom.minidom.parseString("<a/>").documentElement.tagName,
      serial.PARITY_NONE, type(sys.modules["yaml"]) is types.ModuleType)
"""


def test_the_idle_kiosk_loads_no_http_server_client_or_unused_printer_modules() -> None:
    """What keeps the idle kiosk under 55 MiB: the panel's HTTP server, the sync thread's HTTP
    client, python-escpos' YAML, SVG and serial modules are loaded when used, not before."""
    done = subprocess.run(
        [sys.executable, "-c", IDLE_IMPORTS], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["", "{'a': 1} a N True"]


def test_large_blocks_are_given_back_when_freed() -> None:
    from hardware import heap

    assert isinstance(heap.steady(), bool)  # glibc: mallopt set; elsewhere: nothing to do
