"""Press → committed vote with the opinion sealed (to the box key), against its floor.

The same kiosk loop as ``vote_latency.py`` (a gpiozero ``Button`` on a mock pin, a
main-loop thread calling ``BallotBox.cast_vote``), with a ``KeyRing`` holding this
month's box key and the province's escrow key, as a kiosk has from its signed
configuration. The floor is what a sealed vote cannot avoid, measured in the same run in
alternating blocks: one durable single-row SQLite commit (as ``vote_latency``'s floor),
plus one Ed25519 signature of a record's bytes, plus one encryption of an opinion as the
writer encrypts it (ChaCha20-Poly1305 under a session key: ``hom_phieu.ledger.opinion``;
the HPKE seal of a new session key, once per 64 opinions, is the writer's to carry).
Target: p99 ≤ 2× the floor's p99.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from bench.report import Row, Settings, ms, percentile, ratio
from bench.vote_latency import RECORD_BYTES, BareCommit, KioskLoop, alternating_samples
from hom_phieu.clock import SystemClock, box_of
from hom_phieu.ledger.box_key import BoxPrivateKey, new_master
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.opinion import KeyRing
from web.ceremony_calendar import next_box

ORDER = 2
PRESSES, PRESSES_QUICK = 2000, 200
OPINION = b'{"button":"green","level":"very_satisfied"}'.ljust(256)  # a VOTE's padded block


class SealedFloor:
    """One durable commit, one signature and one encryption: nothing else."""

    def __init__(self, path: Path, key: DeviceKey) -> None:
        self._commit = BareCommit(path)
        self._key, self._aead = key, ChaCha20Poly1305(os.urandom(32))
        self._record = os.urandom(RECORD_BYTES)

    def press(self, index: int) -> int:
        started = time.perf_counter_ns()
        self._aead.encrypt(os.urandom(12), OPINION, f"floor\0{index}".encode())
        self._key.sign(self._record)
        return self._commit.press(index) + time.perf_counter_ns() - started

    def close(self) -> None:
        self._commit.close()


def run(settings: Settings) -> list[Row]:
    presses = PRESSES_QUICK if settings.quick else PRESSES
    settings.workdir.mkdir(parents=True, exist_ok=True)
    Device.pin_factory = MockFactory()
    key = DeviceKey.load_or_create(settings.workdir / "device.key")
    clock = SystemClock()
    box = box_of(clock.read().wall_ms)
    ring = KeyRing(  # this month's and the next (a run across midnight of the 1st)
        {month: BoxPrivateKey.from_master(new_master()).public for month in (box, next_box(box))},
        escrow=BoxPrivateKey.from_master(new_master()).public,
    )
    subjects = {
        "floor": SealedFloor(settings.workdir / "floor.db", key),
        "sealed": KioskLoop(settings.workdir / "sealed.db", key, clock, (17, 27, 22), ring),
    }
    samples = alternating_samples(subjects, presses, "sealed vote latency")
    rows = []
    for stat, q in (("median", 50), ("p99", 99)):
        measured, bottom = percentile(samples["sealed"], q), percentile(samples["floor"], q)
        target = " (target ≤ 2×)" if stat == "p99" else ""
        rows.append(
            Row(
                f"Press → committed vote, opinion sealed to the box key ({presses:,} presses): "
                f"{stat}",
                ms(measured),
                ms(bottom) + " (commit + signature + encryption)",
                ratio(measured, bottom) + target,
            )
        )
    return rows
