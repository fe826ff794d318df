"""The idle kiosk: how often it wakes, the CPU it uses and the memory it keeps, against a sleeper.

``hom-phieu --lang en kiosk run --simulate`` starts with a fresh ``HOM_PHIEU_HOME`` and its
systemd unit's environment (:func:`bench.kiosk_startup.unit_environment`, such as
``MALLOC_ARENA_MAX``: the installed kiosk's figure); its first start prints the box's zero
report, so the printer's code is loaded as on a working kiosk. It settles, then idles for a
window over which its threads' context switches (voluntary and not, from
``/proc/PID/task/*/status``: each is a sleep ended) and its CPU time (``/proc/PID/stat``) are
counted; its resident memory (VmRSS) is read at the window's end. The floor is the same
interpreter importing what any such daemon needs (:data:`bench.kiosk_startup.IMPORTS`) and
sleeping, started just before the kiosk and measured the same way over the same window.
A Pi Zero 2 W pays every wake-up in heat and power: the aim is at most about one a second
and at most 55 MiB.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from bench.kiosk_startup import (
    FLOOR_MARKER,
    MARKER,
    TICK,
    Process,
    argvs,
    kiosk_env,
    warm_up,
)
from bench.report import Row, Settings, log, ratio

ORDER = 4
REPEATS, REPEATS_QUICK = 3, 1
WINDOW_S, WINDOW_S_QUICK = 20.0, 5.0
SETTLE_S = 3.0  # after ready: the first pass of the loop, the zero report printed
SLEEPING = "(the same imports, sleeping)"


def threads(process: Process) -> int:
    return len(list(Path(f"/proc/{process.popen.pid}/task").iterdir()))


def run(settings: Settings) -> list[Row]:
    workdir = settings.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    repeats = REPEATS_QUICK if settings.quick else REPEATS
    window = WINDOW_S_QUICK if settings.quick else WINDOW_S
    floor_argv, kiosk_argv = argvs()
    woke: dict[str, list[float]] = {"kiosk": [], "floor": []}
    cpu: dict[str, list[float]] = {"kiosk": [], "floor": []}
    rss: dict[str, list[int]] = {"kiosk": [], "floor": []}
    counted: list[int] = []
    warm_up(workdir)
    for rep in range(repeats):
        floor = Process(floor_argv, kiosk_env(workdir, None), workdir / f"floor-{rep}.err")
        try:
            floor.wait_for(FLOOR_MARKER)
            env = kiosk_env(workdir, workdir / f"home-{rep}")
            kiosk = Process(kiosk_argv, env, workdir / f"kiosk-{rep}.err")
            try:
                kiosk.wait_for(MARKER)
                time.sleep(SETTLE_S)
                both = {"kiosk": kiosk, "floor": floor}
                before = {name: (p.wakeups(), p.cpu_s()) for name, p in both.items()}
                started = time.perf_counter()
                time.sleep(window)
                wall = time.perf_counter() - started
                for name, process in both.items():
                    woke[name].append((process.wakeups() - before[name][0]) / wall)
                    cpu[name].append(process.cpu_s() - before[name][1])
                    rss[name].append(process.rss_kib())
                counted.append(threads(kiosk))
            finally:
                kiosk.stop()
        finally:
            floor.stop()
        log(
            f"  kiosk idle {rep + 1}/{repeats}: {woke['kiosk'][-1]:.2f} wake-ups/s "
            f"(floor {woke['floor'][-1]:.2f}), {cpu['kiosk'][-1] * 1000:.0f} ms CPU, "
            f"{rss['kiosk'][-1] / 1024:.1f} MiB (floor {rss['floor'][-1] / 1024:.1f}), "
            f"{counted[-1]} threads"
        )
    return _rows(repeats, window, woke, cpu, rss, counted)


def _rows(
    repeats: int,
    window: float,
    woke: dict[str, list[float]],
    cpu: dict[str, list[float]],
    rss: dict[str, list[int]],
    counted: list[int],
) -> list[Row]:
    wakes, wakes_floor = statistics.median(woke["kiosk"]), statistics.median(woke["floor"])
    used, used_floor = statistics.median(cpu["kiosk"]), statistics.median(cpu["floor"])
    memory, memory_floor = statistics.median(rss["kiosk"]), statistics.median(rss["floor"])
    tick_ms = 1000 / TICK
    return [
        Row(
            f"Idle kiosk wake-ups over {window:.0f} s, every thread (`kiosk run --simulate`, "
            f"{max(counted)} threads; median of {repeats})",
            f"{wakes:.2f} /s",
            f"{wakes_floor:.2f} /s {SLEEPING}",
            ratio(wakes, wakes_floor) if wakes_floor > 0 else "— (floor 0)",
        ),
        Row(
            f"Idle kiosk CPU over the same {window:.0f} s (user + system, ticks of "
            f"{tick_ms:.0f} ms)",
            f"{used * 1000:.0f} ms ({100 * used / window:.2f} % of one core)",
            f"{used_floor * 1000:.0f} ms {SLEEPING}",
            ratio(used, used_floor) if used_floor > 0 else "— (floor 0)",
        ),
        Row(
            "Idle kiosk resident memory (VmRSS), zero report printed (target ≤ 55 MiB)",
            f"{memory / 1024:.1f} MiB",
            f"{memory_floor / 1024:.1f} MiB {SLEEPING}",
            ratio(memory, memory_floor),
        ),
    ]
