"""Checking signatures on all cores.

Signature verification is most of the cost of taking in a push and of opening a box.
``cryptography`` releases the GIL while it verifies Ed25519, so a push's signatures are
checked by threads. A long walk in one process (the offline recount of a
bundle, an opening on SQLite or of one huge chain) would have its own Python work (decoding,
the grammar and chain rules, counting) and the threads take turns at the GIL, which
measured 45 % more CPU than the signatures alone; so it hands its signatures, a chunk at a
time, to worker processes (:class:`AheadVerifier`), which are given public keys and signed
bytes only. A large opening on PostgreSQL walks whole devices in workers instead
(:mod:`web.opening_workers`).
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import cache
from typing import TypeVar

from hom_phieu.ledger.verify import Row, Verifier, good_signatures

T = TypeVar("T")
WORKERS = max(1, min(4, os.cpu_count() or 1))
PARALLEL_FROM = 64  # fewer items are not worth the hand-off
SPAWN_AFTER = 20_000  # an opening's first records go to threads: a process costs ~0.3 s to start


def parallel_signatures(check: Callable[[T], bool], items: Sequence[T]) -> list[bool]:
    """``check`` of every item, in order, spread over the cores (threads)."""
    if len(items) < PARALLEL_FROM or WORKERS == 1:
        return [check(item) for item in items]
    size = -(-len(items) // WORKERS)
    futures = [
        _pool().submit(_checked, check, items[start : start + size])
        for start in range(0, len(items), size)
    ]
    return [ok for future in futures for ok in future.result()]


def _checked(check: Callable[[T], bool], items: Sequence[T]) -> list[bool]:
    return [check(item) for item in items]


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="verify")


class SignatureWorkers:
    """Worker processes checking (data, signature) pairs for one opening: started only
    once the opening has handed :data:`SPAWN_AFTER` records (before that, and for a
    month of a commune, threads check them at no start-up cost), spawned, not forked
    (the server's threads may hold locks a fork would copy held), and stopped when the
    opening ends (use it as a context manager): a pool left running would keep a process
    that opened a box, itself a worker of another pool, from ever exiting."""

    def __init__(self, workers: int = WORKERS) -> None:
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._handed = 0  # records checked so far: processes only for a long opening

    def later(
        self, public_key_raw: bytes, signed: Sequence[tuple[bytes, bytes]]
    ) -> Callable[[], list[bool]]:
        """Start checking the pairs; call the result to wait for the answers, in order.
        Checked here when there are few, or no process can be had."""
        if len(signed) < PARALLEL_FROM or self._workers == 1:
            answers = good_signatures(public_key_raw, signed)
            return lambda: answers
        size = -(-len(signed) // self._workers)
        self._handed += len(signed)
        try:
            executor = self._executor_now()
            futures: list[Future[list[bool]]] = [
                executor.submit(good_signatures, public_key_raw, signed[at : at + size])
                for at in range(0, len(signed), size)
            ]
        except (BrokenProcessPool, OSError, RuntimeError):
            self.close()
            answers = good_signatures(public_key_raw, signed)
            return lambda: answers

        def answers_of() -> list[bool]:
            try:
                return [ok for future in futures for ok in future.result()]
            except BrokenProcessPool:  # a worker died (killed, out of memory): check here
                self.close()
                return good_signatures(public_key_raw, signed)

        return answers_of

    def _executor_now(self) -> Executor:
        """Threads for an opening's first records (no start-up cost), then processes."""
        if self._executor is None and self._handed <= SPAWN_AFTER:
            return _pool()
        if self._executor is None:
            spawn = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(self._workers, mp_context=spawn)
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> SignatureWorkers:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


# --- a device's chain checked ahead of its walk -----------------------------------------


class AheadVerifier(Verifier):
    """A verifier whose signature checks were done ahead, in worker processes, a chunk of
    rows at a time. A signature not found good ahead is checked again the usual way, so a
    bad one is still named by the walk. At most ``DEPTH`` chunks are in flight: memory
    stays flat however long the chain."""

    CHUNK = 1024
    DEPTH = 12

    def __init__(
        self, public_key_raw: bytes, device_id: str, workers: SignatureWorkers | None = None
    ) -> None:
        super().__init__(public_key_raw, device_id)
        self._public_key_raw = public_key_raw
        self._workers = workers or SignatureWorkers(1)
        # (data, signature) found good ahead, in the walk's order: the very objects of the
        # rows handed on, so a row is matched by identity, without hashing its bytes
        self._good: deque[tuple[bytes, bytes]] = deque()

    def signature_ok(self, data: bytes, sig: bytes) -> bool:
        good = self._good  # the walk asks in order: a bad row is not there, and is checked
        if good and good[0][0] is data and good[0][1] is sig:
            good.popleft()
            return True
        return super().signature_ok(data, sig)

    def checking_ahead(self, rows: Iterable[Row]) -> Iterator[Row]:
        """The rows, passed on a chunk behind the checks started on them."""
        in_flight: deque[_Flight] = deque()
        chunk: list[Row] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == self.CHUNK:
                in_flight.append(self._send(chunk))
                chunk = []
                if len(in_flight) > self.DEPTH:
                    yield from self._receive(in_flight.popleft())
        in_flight.append(self._send(chunk))
        while in_flight:
            yield from self._receive(in_flight.popleft())

    def _send(self, chunk: list[Row]) -> _Flight:
        signed = [(row.data, row.sig) for row in chunk]
        return chunk, signed, self._workers.later(self._public_key_raw, signed)

    def _receive(self, flight: _Flight) -> list[Row]:
        chunk, signed, signatures = flight
        self._good.extend(pair for pair, ok in zip(signed, signatures(), strict=True) if ok)
        return chunk


_Flight = tuple[list[Row], list[tuple[bytes, bytes]], Callable[[], list[bool]]]
