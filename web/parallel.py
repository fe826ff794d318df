"""Checking signatures and opening sealed ballots on all cores.

Signature verification is most of the cost of taking in a push and of opening a box, and
``cryptography`` releases the GIL while it verifies Ed25519, so threads run it in
parallel. HPKE decryption holds the GIL (measured: threads are slower than one), so the
sealed ballots of an opening are opened by a pool of processes (:class:`Opener`), forked
with the box keys already in memory: the keys go to the workers as the initializer's
argument, never through a file, and die with them at the end of the opening. The chain
rules that need order still run one record after another in the caller.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from functools import cache
from types import TracebackType
from typing import Any, TypeVar

from hom_phieu.ledger.box_key import BoxPrivateKey
from hom_phieu.ledger.opinion import SEALED, OpinionError, opened_body
from hom_phieu.ledger.records import RecordFormatError, decode
from hom_phieu.ledger.verify import Row, Verifier

T = TypeVar("T")
WORKERS = max(1, min(4, os.cpu_count() or 1))
PARALLEL_FROM = 64  # fewer items are not worth the hand-off
PIECE = 256  # sealed records handed to a decrypting worker at a time

Body = Mapping[str, Any]


def parallel_signatures(check: Callable[[T], bool], items: Sequence[T]) -> list[bool]:
    """``check`` of every item, in order, spread over the cores."""
    return signatures_later(check, items)()


def signatures_later(check: Callable[[T], bool], items: Sequence[T]) -> Callable[[], list[bool]]:
    """Start ``check`` of every item on the cores; call the result to wait for the answers
    (in order), so that the caller can work on something else meanwhile."""
    if len(items) < PARALLEL_FROM or WORKERS == 1:
        answers = [check(item) for item in items]
        return lambda: answers
    size = -(-len(items) // WORKERS)
    futures = [
        _pool().submit(_checked, check, items[start : start + size])
        for start in range(0, len(items), size)
    ]
    return lambda: [ok for future in futures for ok in future.result()]


def _checked(check: Callable[[T], bool], items: Sequence[T]) -> list[bool]:
    return [check(item) for item in items]


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="verify")


# --- opening sealed ballots in worker processes ------------------------------------------

_KEYS: Mapping[str, BoxPrivateKey] = {}  # a worker's keys, set by its initializer


class Opener:
    """A pool of processes opening sealed records with the keys of one opening.

    Use it as a context manager around the opening: the workers exit, and the keys with
    them, when it ends. Where processes cannot be forked (the keys would have to be
    pickled to a fresh interpreter) it opens nothing ahead: the caller opens each ballot
    as it counts it, in its own process."""

    def __init__(self, keys: Mapping[str, BoxPrivateKey], workers: int = WORKERS) -> None:
        self._executor: ProcessPoolExecutor | None = None
        if workers > 1 and keys and "fork" in multiprocessing.get_all_start_methods():
            self._executor = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_take_keys,
                initargs=(dict(keys),),  # forked: handed over in memory, never pickled
            )

    @property
    def parallel(self) -> bool:
        return self._executor is not None

    def later(self, datas: Sequence[bytes]) -> Callable[[], list[Body | None]]:
        """Start opening the records ``datas`` (their signed bytes); call the result to
        wait for their bodies in clear, in order. None for a record not sealed, or that
        does not open (the caller opens it again itself, to say why)."""
        if self._executor is None or not datas:
            return lambda: [None] * len(datas)
        futures: list[Future[list[Body | None]]] = [
            self._executor.submit(_open_all, list(datas[start : start + PIECE]))
            for start in range(0, len(datas), PIECE)
        ]
        return lambda: [body for future in futures for body in future.result()]

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self) -> Opener:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def _take_keys(keys: Mapping[str, BoxPrivateKey]) -> None:
    global _KEYS
    _KEYS = keys


def _open_all(datas: list[bytes]) -> list[Body | None]:
    """In a worker: each record's body in clear (None: not sealed, or does not open)."""
    opened: list[Body | None] = []
    for data in datas:
        try:
            record = decode(data)
            opened.append(opened_body(record, _KEYS) if SEALED in record.body else None)
        except (RecordFormatError, OpinionError):
            opened.append(None)
    return opened


# --- a device's chain checked ahead of its walk -----------------------------------------


class AheadVerifier(Verifier):
    """A verifier whose signature checks were done ahead, on all cores, a chunk of rows at
    a time (Ed25519 in ``cryptography`` releases the GIL), while the ballots of the chunk
    are opened ahead by the ``opener``'s processes. A signature not found good ahead is
    checked again the usual way, so a bad one is still named by the walk. At most
    ``DEPTH`` chunks are in flight: memory stays flat however long the chain."""

    CHUNK = 1024
    DEPTH = 2

    def __init__(self, public_key_raw: bytes, device_id: str, opener: Opener | None = None) -> None:
        super().__init__(public_key_raw, device_id)
        self._good: set[bytes] = set()
        self._opener = opener
        self.opened: dict[int, Body] = {}  # seq -> its ballot's body opened ahead

    def signature_ok(self, data: bytes, sig: bytes) -> bool:
        if sig in self._good:
            self._good.discard(sig)
            return True
        return super().signature_ok(data, sig)

    def checking_ahead(
        self, rows: Iterable[Row], wanted: Callable[[Any], bool] | None = None
    ) -> Iterator[Row]:
        """The rows, passed on a chunk behind the checks started on them. ``wanted``: which
        rows to open ahead (those the count may count; none without an opener)."""
        in_flight: deque[_Flight] = deque()
        chunk: list[Row] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == self.CHUNK:
                in_flight.append(self._send(chunk, wanted))
                chunk = []
                if len(in_flight) > self.DEPTH:
                    yield from self._receive(in_flight.popleft())
        in_flight.append(self._send(chunk, wanted))
        while in_flight:
            yield from self._receive(in_flight.popleft())

    def _send(self, chunk: list[Row], wanted: Callable[[Any], bool] | None) -> _Flight:
        signatures = signatures_later(
            lambda row: Verifier.signature_ok(self, row.data, row.sig), chunk
        )
        sealed = [row for row in chunk if wanted is not None and wanted(row)]
        if self._opener is None or not self._opener.parallel:
            sealed = []
        bodies = self._opener.later([row.data for row in sealed]) if sealed else list
        return chunk, signatures, [row.seq for row in sealed], bodies

    def _receive(self, flight: _Flight) -> list[Row]:
        chunk, signatures, seqs, bodies = flight
        oks = signatures()
        self._good.update(row.sig for row, ok in zip(chunk, oks, strict=True) if ok)
        for seq, body in zip(seqs, bodies(), strict=True):
            if body is not None:
                self.opened[seq] = body
        return chunk


_Flight = tuple[list[Row], Callable[[], list[bool]], list[int], Callable[[], list[Any]]]
