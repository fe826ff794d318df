"""The kiosk daemon as a process: cold start to ready, and again on an existing ledger.

``hom-phieu --lang en kiosk run --simulate`` is started as a subprocess with a fresh
``HOM_PHIEU_HOME`` and its systemd unit's environment (:func:`unit_environment`); it is ready
when it prints the virtual panel's address (after the ledger is open and READY is sent). A
second start on the same home shows a start on an existing ledger. How it idles (wake-ups,
CPU, memory) is :mod:`bench.kiosk_idle`'s, which uses this module's helpers.

The floor is a Python process with the same interpreter that imports what any such
daemon needs (gpiozero, Pillow, python-escpos, cryptography, Flask, qrcode) and prints a
line: its time to that line, measured the same way.
"""

from __future__ import annotations

import os
import queue
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.report import Row, Settings, log, ms, ratio
from hom_phieu.install import unit_values
from kiosk.install import UNIT

ORDER = 3
REPEATS, REPEATS_QUICK = 5, 2
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
MARKER = "Virtual panel: http://127.0.0.1:"
FLOOR_MARKER = "imported"
IMPORTS = "gpiozero, PIL.Image, escpos.printer, cryptography, flask, qrcode"
TICK = os.sysconf("SC_CLK_TCK")


class Process:
    """A child whose stdout is read by a thread (so it never blocks on a full pipe)."""

    def __init__(self, argv: list[str], env: dict[str, str], stderr: Path) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr = stderr.open("wb")
        self.started_ns = time.perf_counter_ns()
        self.popen = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr
        )
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            self._lines.put(raw.decode(errors="replace"))
        self._lines.put(None)

    def wait_for(self, marker: str) -> int:
        """Nanoseconds from spawn until a stdout line containing ``marker`` was read."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.stop()
                raise RuntimeError(f"{marker!r} never came; stdout: {''.join(self.output)!r}")
            self.output.append(line)
            if marker in line:
                return time.perf_counter_ns() - self.started_ns

    def cpu_s(self) -> float:
        """CPU seconds used so far (user + system), from /proc/PID/stat."""
        stat = Path(f"/proc/{self.popen.pid}/stat").read_text()
        fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime: fields 14 and 15

    def wakeups(self) -> int:
        """Context switches of every thread so far: how often the process has slept and woken."""
        total = 0
        for status in Path(f"/proc/{self.popen.pid}/task").glob("*/status"):
            for line in status.read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    total += int(line.split()[1])
        return total

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError(f"no VmRSS for process {self.popen.pid}")

    def stop(self) -> tuple[int, float]:
        """SIGTERM, wait; the exit code and the seconds it took to exit."""
        started = time.perf_counter()
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            code = self.popen.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            code = self.popen.wait()
        self._stderr.close()
        return code, time.perf_counter() - started


def child_env(workdir: Path, home: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
    escpos, tmp = workdir / "escpos-cache", workdir / "tmp"
    escpos.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    # python-escpos 3.1 makes a temporary folder on import even with the variable set: in
    # TMPDIR under the work directory, the floor's are removed with it.
    env.update(PYTHONUNBUFFERED="1", ESCPOS_CAPABILITIES_PICKLE_DIR=str(escpos), TMPDIR=str(tmp))
    # Bytecode cached as on a device (pip writes .pyc files; a source tree gets them on the
    # first run), but under the work directory, whatever PYTHONDONTWRITEBYTECODE says here:
    # the warm-up start compiles, the measured starts read the cache.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    if home is not None:
        env["HOM_PHIEU_HOME"] = str(home)
    return env


def unit_environment() -> dict[str, str]:
    """The variables the kiosk's unit sets (``Environment=`` lines of
    ``systemd/hom-phieu-kiosk.service``, such as ``MALLOC_ARENA_MAX``), but for those naming
    systemd's own folders (``%t``): the kiosk measured as installed."""
    found: dict[str, str] = {}
    for value in unit_values(UNIT, "Environment"):
        for assignment in shlex.split(value):
            name, _, setting = assignment.partition("=")
            if "%" not in setting:
                found[name] = setting
    return found


def kiosk_env(workdir: Path, home: Path | None) -> dict[str, str]:
    return child_env(workdir, home) | unit_environment()


def argvs() -> tuple[list[str], list[str]]:
    """The floor's command and the kiosk's."""
    script = Path(sys.executable).with_name("hom-phieu")
    floor = [
        sys.executable,
        "-c",
        f"import {IMPORTS}; import time; print({FLOOR_MARKER!r}); time.sleep(3600)",
    ]
    kiosk = [str(script), "--lang", "en", "kiosk", "run", "--simulate", "--panel-port", "0"]
    return floor, kiosk


def warm_up(workdir: Path) -> None:
    """Unrecorded: one start of each, which brings the interpreter's and the libraries' files
    into the page cache and compiles the bytecode cache, for both alike, so that the first
    measured repetition is not a disk read or a compilation for one of them."""
    floor_argv, kiosk_argv = argvs()
    for argv, marker, home in ((floor_argv, FLOOR_MARKER, None), (kiosk_argv, MARKER, "warm")):
        warm = Process(argv, kiosk_env(workdir, workdir / home if home else None),
                       workdir / "warm-up.err")  # fmt: skip
        try:
            warm.wait_for(marker)
        finally:
            warm.stop()


def run(settings: Settings) -> list[Row]:
    workdir = settings.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    repeats = REPEATS_QUICK if settings.quick else REPEATS
    floor_argv, kiosk_argv = argvs()
    floor: list[int] = []
    first: list[int] = []
    second: list[int] = []
    warm_up(workdir)
    for rep in range(repeats):
        home = workdir / f"home-{rep}"
        sleeper = Process(floor_argv, kiosk_env(workdir, None), workdir / f"floor-{rep}.err")
        try:
            floor.append(sleeper.wait_for(FLOOR_MARKER))
        finally:
            sleeper.stop()
        daemon = Process(kiosk_argv, kiosk_env(workdir, home), workdir / f"kiosk-{rep}.err")
        try:
            first.append(daemon.wait_for(MARKER))
        finally:
            code, stopped = daemon.stop()
            _check_exit("kiosk (empty ledger)", code, stopped, workdir / f"kiosk-{rep}.err")
        # The same home again: the ledger exists (a restart).
        again = Process(kiosk_argv, kiosk_env(workdir, home), workdir / f"again-{rep}.err")
        try:
            second.append(again.wait_for(MARKER))
        finally:
            code, took = again.stop()
            _check_exit("kiosk (existing ledger)", code, took, workdir / f"again-{rep}.err")
        log(
            f"  kiosk start-up {rep + 1}/{repeats}: ready in {ms(first[-1])} "
            f"(again {ms(second[-1])}), imports {ms(floor[-1])}; SIGTERM → exit {stopped:.2f} s"
        )
    return _rows(repeats, floor, first, second)


def _check_exit(what: str, code: int, took: float, stderr: Path) -> None:
    """Not a measurement, but worth telling: a kiosk that stops badly or slowly on SIGTERM."""
    if code != 0 or took > 2:
        tail = stderr.read_text(errors="replace").strip().splitlines()[-3:]
        log(f"  note: {what} exited {code} {took:.1f} s after SIGTERM; stderr: {tail}")


def _rows(repeats: int, floor: list[int], first: list[int], second: list[int]) -> list[Row]:
    imports = f"`python -c 'import {IMPORTS}'`"
    started, again = statistics.median(first), statistics.median(second)
    bottom = statistics.median(floor)
    return [
        Row(
            f"Kiosk cold start → ready, empty ledger (`kiosk run --simulate`, median of {repeats})",
            ms(started),
            f"{ms(bottom)} ({imports})",
            ratio(started, bottom),
        ),
        Row(
            "Kiosk start → ready again, existing ledger (same home)",
            ms(again),
            ms(bottom),
            ratio(again, bottom),
        ),
    ]
