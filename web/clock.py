"""The admin server's one clock.

Every time the server reads (a record's arrival, a login throttle, a ticket's age, the
ceremony's due day, the acks' signed time that kiosks anchor to) comes from the clock
the application holds, so tests and ``hom-phieu demo --clock`` can set the date and
nothing reads the real time behind their back.
"""

from __future__ import annotations

from datetime import datetime

from hom_phieu.clock import Clock, now_utc


def clock() -> Clock:
    """The application's clock (inside an application context only)."""
    from web.services import services  # (the models use this module: no import cycle)

    return services().clock


def now() -> datetime:
    """The server's time, aware, in UTC."""
    return now_utc(clock())


def now_ms() -> int:
    """The server's time in milliseconds since the Unix epoch."""
    return clock().read().wall_ms


def monotonic_s() -> float:
    """Elapsed-time seconds of the clock (throttles and caches: never the date)."""
    return clock().read().mono_ns / 1e9
