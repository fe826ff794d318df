"""Run every benchmark in bench/ and print a Markdown table ready to paste into the README.

Usage, from the repository root: ``python -m bench [--quick] [--dir PATH] [--only NAME]``.
Progress goes to stderr; stdout is only the Markdown.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import ModuleType

import bench
from bench.report import Row, Settings, log, machine_facts, markdown


def benchmarks() -> list[ModuleType]:
    """Every module of this package that has a ``run`` function, in their ``ORDER``."""
    modules = [
        importlib.import_module(f"bench.{info.name}")
        for info in pkgutil.iter_modules(bench.__path__)
        if info.name != "__main__"
    ]
    found = [module for module in modules if callable(getattr(module, "run", None))]
    return sorted(found, key=lambda module: (getattr(module, "ORDER", 99), module.__name__))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="fewer iterations: a smoke test, not a measurement"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path.cwd(),
        help="where to make the temporary databases, i.e. which disk is measured "
        "(default: a temporary directory under the current one; removed afterwards)",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this benchmark, a module of bench/ (e.g. reports); may be repeated",
    )
    args = parser.parse_args(argv)
    chosen = benchmarks()
    if args.only:
        known = {module.__name__.removeprefix("bench.") for module in chosen}
        unknown = sorted(set(args.only) - known)
        if unknown:
            parser.error(
                f"no benchmark {', '.join(unknown)} (there are: {', '.join(sorted(known))})"
            )
        chosen = [m for m in chosen if m.__name__.removeprefix("bench.") in args.only]
    args.dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=".bench-", dir=args.dir))
    started = time.perf_counter()
    when = datetime.now().astimezone()
    rows: list[Row] = []
    try:
        facts = machine_facts(workdir)
        for module in chosen:
            name = module.__name__.removeprefix("bench.")
            log(f"{name} …")
            rows += module.run(Settings(quick=args.quick, workdir=workdir / name))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - started
    quick = " (a smoke test: too few samples to quote)" if args.quick else ""
    command = "python -m bench" + (" --quick" if args.quick else "")
    command += "".join(f" --only {name}" for name in args.only or [])
    intro = f"Measured {when:%Y-%m-%d %H:%M %Z} by `{command}`{quick}, run time {elapsed:.0f} s."
    print(markdown("Ballot box benchmarks", intro, facts, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
