"""Subprocess for the crash test: casts votes as fast as it can on the real clock.

Prints ``OPENING`` before it opens (and verifies) the ledger, ``READY`` once it is open,
and ``ACK <seq> <receipt code>`` for each vote only after ``cast_vote`` has returned (the
vote is committed); the test SIGKILLs this process on one of those lines, after a random
delay.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hom_phieu.ledger.ballot_box import BallotBox
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.records import Level

LEVELS = list(Level)


def main(ledger: str, key_file: str) -> None:
    key = DeviceKey.load_or_create(Path(key_file))
    print("OPENING", flush=True)
    with BallotBox.open(Path(ledger), key) as box:
        print("READY", flush=True)
        number = 0
        while True:
            number += 1
            level = LEVELS[number % len(LEVELS)]
            receipt = box.cast_vote(clerk="lan", button=level.value, level=level)
            sys.stdout.write(f"ACK {receipt.seq} {receipt.code}\n")
            sys.stdout.flush()
            if number % 7 == 0:
                box.refuse(button=level.value, reason="min_gap", clerk="lan")


if __name__ == "__main__":
    main(*sys.argv[1:3])
