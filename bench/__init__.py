"""Benchmarks of the device's ballot box, each against its physical floor.

Run them all with ``python -m bench`` from the repository root; see bench/README.md.
A benchmark is any module here with a ``run(settings) -> list[Row]`` function.
Timings are information, never a pass/fail.
"""
