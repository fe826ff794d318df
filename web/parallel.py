"""Checking many Ed25519 signatures on all cores.

Signature verification is most of the cost of taking in a push and of opening a box, and
``cryptography`` releases the GIL while it verifies, so threads run it in parallel; the
chain rules that need order still run one record after another in the caller.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import TypeVar

T = TypeVar("T")
WORKERS = max(1, min(4, os.cpu_count() or 1))
PARALLEL_FROM = 64  # fewer items are not worth the hand-off


def parallel_signatures(check: Callable[[T], bool], items: Sequence[T]) -> list[bool]:
    """``check`` of every item, in order, spread over the cores."""
    if len(items) < PARALLEL_FROM or WORKERS == 1:
        return [check(item) for item in items]
    size = -(-len(items) // WORKERS)
    chunks = [items[start : start + size] for start in range(0, len(items), size)]
    results = _pool().map(lambda chunk: [check(item) for item in chunk], chunks)
    return [ok for chunk in results for ok in chunk]


@cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="verify")
