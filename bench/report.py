"""What the benchmarks share: settings, statistics, the Markdown table, machine facts."""

from __future__ import annotations

import math
import platform
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Settings:
    quick: bool  # fewer iterations: a smoke test, not a measurement
    workdir: Path  # an empty directory on the disk being measured, removed afterwards


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the results table."""

    benchmark: str
    measured: str
    floor: str
    ratio: str


def log(message: str) -> None:
    """Progress goes to stderr, so that stdout is only the table to paste."""
    print(message, file=sys.stderr, flush=True)


def percentile(samples: Sequence[int], q: float) -> int:
    """Nearest-rank percentile: a value that was actually measured."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(ns: float) -> str:
    return f"{ns / 1e6:.3f} ms" if ns < 1e7 else f"{ns / 1e6:,.0f} ms"


def ratio(measured: float, floor: float) -> str:
    return f"{measured / floor:.2f}×"


def machine_facts(workdir: Path) -> list[tuple[str, str]]:
    return [
        ("CPU", _cpu_model()),
        ("Disk measured", _filesystem(workdir)),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("cryptography", _version("cryptography")),
        ("gpiozero", _version("gpiozero")),
    ]


def markdown(title: str, intro: str, facts: list[tuple[str, str]], rows: list[Row]) -> str:
    lines = [f"### {title}", "", intro, ""]
    lines += [f"- {name}: {value}" for name, value in facts]
    lines += ["", "| Benchmark | Measured | Floor | Ratio |", "| --- | --- | --- | --- |"]
    lines += [f"| {r.benchmark} | {r.measured} | {r.floor} | {r.ratio} |" for r in rows]
    return "\n".join(lines)


def _cpu_model() -> str:
    """x86 names the CPU in ``model name``; a Raspberry Pi names the board in ``Model``."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            name, _, value = line.partition(":")
            fields.setdefault(name.strip(), value.strip())
    except OSError:
        pass
    model = fields.get("model name") or fields.get("Model") or platform.processor() or "unknown"
    cores = Path("/proc/cpuinfo").read_text().count("processor\t:") if fields else 0
    return f"{model} ({cores} cores, {platform.machine()})" if cores else model


def _filesystem(path: Path) -> str:
    try:
        out = subprocess.run(
            ["df", "-T", str(path)], capture_output=True, text=True, check=True
        ).stdout
        device, fstype, *_, mount = out.splitlines()[1].split()
    except (OSError, subprocess.CalledProcessError, IndexError, ValueError):
        return "unknown (df -T failed)"
    return f"{fstype} on {device}, mounted at {mount}"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"
