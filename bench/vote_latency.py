"""Press → committed vote latency, against a bare durable commit on the same disk.

The press goes through gpiozero's real ``Button`` on a mock pin. As on the device,
the button callback only enqueues ``(press time, button)``; a main-loop thread takes
the event and calls ``BallotBox.cast_vote``, which returns once the vote is durable.
Latency is that return time minus the press time.

The floor is what no ballot box can beat on this disk: one single-row INSERT and
COMMIT into a fresh SQLite file, WAL, ``synchronous=FULL``. Both are measured in
alternating blocks, so that page-cache and disk drift during the run hit both alike.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from gpiozero import Button, Device
from gpiozero.pins.mock import MockFactory, MockPin

from bench.report import Row, Settings, log, ms, percentile, ratio
from hom_phieu.clock import Clock, FakeClock, SystemClock
from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.opinion import KeyRing
from hom_phieu.ledger.records import Level

ORDER = 1  # the headline: first in the table
PRESSES, PRESSES_QUICK = 2000, 200
BLOCK = 100  # measurements per block before switching to the other kind
WARM_UP = 20  # unrecorded of each kind first: imports, caches, the WAL file's first pages
RECORD_BYTES = 420  # about one signed vote record: the floor commits as many bytes
BUTTONS: dict[str, Level] = {
    "green": Level.VERY_SATISFIED,
    "yellow": Level.SATISFIED,
    "red": Level.NOT_SATISFIED,
}

Outcome = int | BaseException  # a latency in ns, or what stopped the loop


class KioskLoop:
    """The kiosk's press → vote path in miniature: buttons, a queue, a main-loop thread."""

    def __init__(
        self,
        ledger: Path,
        key: DeviceKey,
        clock: Clock,
        gpios: Sequence[int],
        sealer: KeyRing | None = None,
    ) -> None:
        self._ledger, self._key, self._clock, self._sealer = ledger, key, clock, sealer
        self._presses: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self._done: queue.Queue[Outcome] = queue.Queue()
        self._pins: dict[str, MockPin] = {}
        self._buttons: list[Button] = []
        for name, gpio in zip(BUTTONS, gpios, strict=True):
            button = Button(gpio, pull_up=True, bounce_time=None)
            button.when_pressed = self._enqueuer(name)
            self._buttons.append(button)
            self._pins[name] = button.pin
        self._thread = threading.Thread(target=self._main_loop, name="kiosk-main-loop")
        self._thread.start()
        self._wait()  # the box is open (or the error is raised here)

    def _enqueuer(self, name: str) -> Callable[[], None]:
        """A callback taking no argument (gpiozero would pass the Button to one that did)."""

        def on_press() -> None:
            self._presses.put((time.perf_counter_ns(), name))

        return on_press

    def _main_loop(self) -> None:
        # The box is opened here: its SQLite connection belongs to the thread using it.
        try:
            box = BallotBox.open(self._ledger, self._key, self._clock, sealer=self._sealer)
        except BaseException as exc:
            self._done.put(exc)
            return
        with box:
            self._done.put(0)
            last_tick = time.monotonic()
            while (event := self._presses.get()) is not None:
                pressed_ns, name = event
                try:
                    box.cast_vote(clerk="bench", button=name, level=BUTTONS[name])
                except BaseException as exc:
                    self._done.put(exc)
                    return
                latency = time.perf_counter_ns() - pressed_ns
                if time.monotonic() - last_tick >= 1.0:
                    # The daemon's once-a-second tick (month change, WAL checkpoint) runs
                    # between votes; here it runs before the next press is made, as it would
                    # in the seconds between two citizens.
                    box.tick()
                    last_tick = time.monotonic()
                self._done.put(latency)

    def _wait(self) -> int:
        outcome = self._done.get(timeout=60)
        if isinstance(outcome, BaseException):
            raise RuntimeError(f"the kiosk loop on {self._ledger.name} failed") from outcome
        return outcome

    def press(self, index: int) -> int:
        """Press a button, wait for its vote to be committed, release it; the latency in ns."""
        pin = self._pins[list(BUTTONS)[index % len(BUTTONS)]]
        pin.drive_low()
        latency = self._wait()
        pin.drive_high()
        return latency

    def close(self) -> None:
        self._presses.put(None)
        self._thread.join()
        for button in self._buttons:
            button.close()


class BareCommit:
    """The floor: one durable single-row transaction, nothing else."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)  # autocommit
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("CREATE TABLE rows (seq INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        self._payload = os.urandom(RECORD_BYTES)

    def press(self, index: int) -> int:
        started = time.perf_counter_ns()
        self._conn.execute("BEGIN IMMEDIATE")
        self._conn.execute("INSERT INTO rows (data) VALUES (?)", (self._payload,))
        self._conn.execute("COMMIT")
        return time.perf_counter_ns() - started

    def close(self) -> None:
        self._conn.close()


def run(settings: Settings) -> list[Row]:
    presses = PRESSES_QUICK if settings.quick else PRESSES
    settings.workdir.mkdir(parents=True, exist_ok=True)
    Device.pin_factory = MockFactory()
    key = DeviceKey.load_or_create(settings.workdir / "device.key")
    floor = BareCommit(settings.workdir / "floor.db")
    device = KioskLoop(settings.workdir / "system-clock.db", key, SystemClock(), (17, 27, 22))
    # The same path with the clock read taken out: shows what the clock costs.
    fake = KioskLoop(
        settings.workdir / "fake-clock.db", key, FakeClock.at("2026-11-03T08:00:00"), (5, 6, 13)
    )
    subjects = {"floor": floor, "device": device, "fake": fake}
    return _rows(presses, alternating_samples(subjects, presses, "vote latency"))


class Pressable(Protocol):
    """A subject of the latency rows: a press, and its latency in ns."""

    def press(self, index: int) -> int: ...

    def close(self) -> None: ...


def alternating_samples(
    subjects: Mapping[str, Pressable], presses: int, what: str
) -> dict[str, list[int]]:
    """Each subject pressed ``presses`` times after a warm-up, in blocks whose order
    rotates (so a slow moment of the machine falls on all of them alike); closes them all,
    and the mock pin factory, at the end."""
    samples: dict[str, list[int]] = {name: [] for name in subjects}
    try:
        for subject in subjects.values():
            for i in range(WARM_UP):
                subject.press(i)
        blocks = -(-presses // BLOCK)
        for block in range(blocks):
            names = list(subjects)
            names = names[block % len(names) :] + names[: block % len(names)]  # rotate order
            for name in names:
                count = min(BLOCK, presses - block * BLOCK)
                samples[name] += [subjects[name].press(i) for i in range(count)]
            log(f"  {what}: block {block + 1}/{blocks}")
    finally:
        for subject in subjects.values():
            subject.close()
        Device.pin_factory.close()
    return samples


def _rows(presses: int, samples: dict[str, list[int]]) -> list[Row]:
    rows = []
    labels = {
        "device": f"Press → committed vote ({presses:,} presses, SystemClock as on the device)",
        "fake": "Press → committed vote, FakeClock (no clock read)",
    }
    for name, label in labels.items():
        for stat, q in (("median", 50), ("p99", 99)):
            measured, bottom = percentile(samples[name], q), percentile(samples["floor"], q)
            target = " (target ≤ 2×)" if name == "device" and stat == "p99" else ""
            what = "" if rows else " (bare INSERT + COMMIT)"
            rows.append(
                Row(
                    f"{label}: {stat}",
                    ms(measured),
                    ms(bottom) + what,
                    ratio(measured, bottom) + target,
                )
            )
    return rows
