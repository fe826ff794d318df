"""What one admin server application holds: one typed place, closed with the app.

Everything else of the server lives in its database (the enrollment throttle's counts,
each device's verifier state beside its head), so any number of server processes can
share one (PostgreSQL): the caches here only save work, bounded and keyed so that another
process's writes can never make them wrong (a device's verifier state is cached under the
head it describes; a configuration version, and an office's box keys, are looked up again
after 30 s).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Flask, current_app
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hom_phieu.clock import Clock
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.opinion import KeyRing
from web.device_state import StateCache

EXTENSION = "hom_phieu"


@dataclass
class Services:
    clock: Clock
    engine: Engine
    sessions: sessionmaker[Session]
    state_cache: StateCache = field(default_factory=StateCache)
    # device pk → (monotonic seconds when looked up, configuration version)
    config_versions: dict[int, tuple[float, str]] = field(default_factory=dict)
    # office pk → (monotonic seconds when looked up, the box keys its phone answers seal to)
    seal_keys: dict[int, tuple[float, KeyRing]] = field(default_factory=dict)
    server_key: DeviceKey | None = None  # loaded on first use (web.server_key)

    def close(self) -> None:
        """Give back the database connections (tests, the demo, a worker that stops)."""
        self.engine.dispose()


def install(app: Flask, services_: Services) -> None:
    app.extensions[EXTENSION] = services_


def services(app: Flask | None = None) -> Services:
    """The services of ``app``, or of the current application."""
    return (app or current_app).extensions[EXTENSION]  # type: ignore[no-any-return]


def close_app(app: Flask) -> None:
    services(app).close()
