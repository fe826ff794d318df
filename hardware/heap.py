"""Freed memory given back to the system, so the idle kiosk stays small.

glibc keeps what Python and the libraries free (the start-up's passing allocations, a ticket's
image drawn on the printer thread, in that thread's own arena) for reuse, resident. Its
``malloc_trim(0)`` returns the free pages of every arena. The kiosk calls :func:`release` when
it settles into idle, never in the path of a vote; where there is no ``malloc_trim`` (musl,
macOS) it does nothing.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def release() -> bool:
    """Return the free heap pages to the system; True if some were (glibc only)."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
