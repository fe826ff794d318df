"""Freed memory given back to the system, so the idle kiosk stays small.

glibc keeps what Python and the libraries free (the start-up's passing allocations, a ticket's
image drawn on the printer thread, in that thread's own arena) for reuse, resident. Its
``malloc_trim(0)`` returns the free pages of every arena. The kiosk calls :func:`release` when
it settles into idle, never in the path of a vote; where there is no ``malloc_trim`` (musl,
macOS) it does nothing.

Between two trims, the screen redrawn when the minute turns (an image of half a megabyte and
its PNG or framebuffer copy) would stay resident too: glibc serves a block that large from
``mmap`` (given back on ``free``) only until the first such block is freed, then raises its
threshold and keeps the next ones in the heap. :func:`steady` fixes the threshold at glibc's
own default (128 KiB), as ``MALLOC_MMAP_THRESHOLD_`` would: large blocks always go back.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache

M_MMAP_THRESHOLD = -3  # mallopt(3) parameter (glibc's malloc.h)
MMAP_THRESHOLD = 128 * 1024  # glibc's default, made fixed (no longer raised by a free)


@cache
def _libc_function(name: str, *argtypes: type) -> Callable[..., int] | None:
    try:
        function = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    function.argtypes, function.restype = list(argtypes), ctypes.c_int
    return function


def release() -> bool:
    """Return the free heap pages to the system; True if some were (glibc only)."""
    trim = _libc_function("malloc_trim", ctypes.c_size_t)
    return bool(trim(0)) if trim is not None else False


def steady() -> bool:
    """Blocks of 128 KiB or more mapped on their own and unmapped when freed, for the rest of
    the process (glibc only; True if set)."""
    mallopt = _libc_function("mallopt", ctypes.c_int, ctypes.c_int)
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) if mallopt is not None else False
