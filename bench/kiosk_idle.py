"""The idle kiosk: how often it wakes and how much memory it keeps, against a sleeper.

``hom-phieu --lang en kiosk run --simulate`` starts with a fresh ``HOM_PHIEU_HOME`` (its first
start prints the box's zero report, so the printer's code is loaded as on a working kiosk),
settles, then idles for a window while its threads' context switches (voluntary and not,
from ``/proc/PID/task/*/status``: each is a sleep ended) and its resident memory (VmRSS)
are read. The floor is the same interpreter importing what any such daemon needs (see
:data:`bench.kiosk_startup.IMPORTS`) and sleeping, measured the same way over the same window.
A Pi Zero 2 W pays every wake-up in heat and power: the aim is at most about one a second
and at most 55 MiB.

The kiosk runs with the environment its systemd unit gives it (``Environment=`` lines of
``systemd/hom-phieu-kiosk.service``, such as ``MALLOC_ARENA_MAX``; values naming systemd's
own folders, ``%t``, are left out), so the figure is the installed kiosk's.
"""

from __future__ import annotations

import shlex
import statistics
import sys
import time
from pathlib import Path

from bench.kiosk_startup import FLOOR_MARKER, IMPORTS, MARKER, Process, child_env
from bench.report import Row, Settings, log, ratio
from hom_phieu.install import unit_values
from kiosk.install import UNIT

ORDER = 4
REPEATS, REPEATS_QUICK = 3, 1
WINDOW_S, WINDOW_S_QUICK = 20.0, 5.0
SETTLE_S = 3.0  # after ready: the first pass of the loop, the zero report printed


def unit_environment() -> dict[str, str]:
    """The variables the kiosk's unit sets, but for those naming systemd's folders."""
    found: dict[str, str] = {}
    for value in unit_values(UNIT, "Environment"):
        for assignment in shlex.split(value):
            name, _, setting = assignment.partition("=")
            if "%" not in setting:
                found[name] = setting
    return found


def threads(process: Process) -> int:
    return len(list(Path(f"/proc/{process.popen.pid}/task").iterdir()))


def run(settings: Settings) -> list[Row]:
    workdir = settings.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    repeats = REPEATS_QUICK if settings.quick else REPEATS
    window = WINDOW_S_QUICK if settings.quick else WINDOW_S
    script = Path(sys.executable).with_name("hom-phieu")
    floor_argv = [
        sys.executable,
        "-c",
        f"import {IMPORTS}; import time; print({FLOOR_MARKER!r}); time.sleep(3600)",
    ]
    kiosk_argv = [str(script), "--lang", "en", "kiosk", "run", "--simulate", "--panel-port", "0"]
    woke: dict[str, list[float]] = {"kiosk": [], "floor": []}
    rss: dict[str, list[int]] = {"kiosk": [], "floor": []}
    counted: list[int] = []
    for rep in range(repeats):
        floor_env = child_env(workdir, None) | unit_environment()
        floor = Process(floor_argv, floor_env, workdir / f"floor-{rep}.err")
        try:
            floor.wait_for(FLOOR_MARKER)
            env = child_env(workdir, workdir / f"home-{rep}") | unit_environment()
            kiosk = Process(kiosk_argv, env, workdir / f"kiosk-{rep}.err")
            try:
                kiosk.wait_for(MARKER)
                time.sleep(SETTLE_S)
                before = {"kiosk": kiosk.wakeups(), "floor": floor.wakeups()}
                started = time.perf_counter()
                time.sleep(window)
                wall = time.perf_counter() - started
                for name, process in (("kiosk", kiosk), ("floor", floor)):
                    woke[name].append((process.wakeups() - before[name]) / wall)
                    rss[name].append(process.rss_kib())
                counted.append(threads(kiosk))
            finally:
                kiosk.stop()
        finally:
            floor.stop()
        log(
            f"  kiosk idle {rep + 1}/{repeats}: {woke['kiosk'][-1]:.2f} wake-ups/s "
            f"(floor {woke['floor'][-1]:.2f}), {rss['kiosk'][-1] / 1024:.1f} MiB "
            f"(floor {rss['floor'][-1] / 1024:.1f}), {counted[-1]} threads"
        )
    return _rows(repeats, window, woke, rss, counted)


def _rows(
    repeats: int,
    window: float,
    woke: dict[str, list[float]],
    rss: dict[str, list[int]],
    counted: list[int],
) -> list[Row]:
    sleeping = "(the same imports, sleeping)"
    wakes, wakes_floor = statistics.median(woke["kiosk"]), statistics.median(woke["floor"])
    memory, memory_floor = statistics.median(rss["kiosk"]), statistics.median(rss["floor"])
    return [
        Row(
            f"Idle kiosk wake-ups over {window:.0f} s, every thread (`kiosk run --simulate`, "
            f"{max(counted)} threads; median of {repeats})",
            f"{wakes:.2f} /s",
            f"{wakes_floor:.2f} /s {sleeping}",
            ratio(wakes, wakes_floor) if wakes_floor > 0 else "— (floor 0)",
        ),
        Row(
            "Idle kiosk resident memory (VmRSS), zero report printed",
            f"{memory / 1024:.1f} MiB",
            f"{memory_floor / 1024:.1f} MiB {sleeping}",
            ratio(memory, memory_floor),
        ),
    ]
