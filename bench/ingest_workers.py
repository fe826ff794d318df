"""Server ingest over HTTP with one server process, and with two beside it on one database.

Four kiosks' ledgers (real ``BallotBox`` records on a fake clock) are pushed at the same
time, one thread per kiosk, in batches of 500, to real ``hom-phieu web serve`` processes
on 127.0.0.1; with two processes each kiosk's batches alternate between them, as behind a
reverse proxy. Timed from the first POST to the last 200. On PostgreSQL when one can be
reached (several stateless workers are what it is for; its public schema is DROPPED and
recreated), else on SQLite (one writer at a time: the second process mostly waits).

Floor, measured in the same run: one core verifying every record's Ed25519 signature, the
one thing an honest server cannot skip.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bench.ingest import PATH, build_records, home, postgresql_url, pushes, server
from bench.ingest import reset_postgresql as reset_pg
from bench.report import Row, Settings, log, ms, ratio
from bench.startup_verify import time_signatures
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.verify import Row as LedgerRow
from web.services import close_app

ORDER = 6
KIOSKS = 4
RECORDS, RECORDS_QUICK = 5_000, 500  # per kiosk
COMMAND = str(Path(sys.executable).with_name("hom-phieu"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _servers(count: int, url: str, home_dir: Path) -> list[tuple[subprocess.Popen, str]]:
    env = {**os.environ, "HOM_PHIEU_HOME": str(home_dir), "HOM_PHIEU_DATABASE_URL": url}
    started = []
    for _ in range(count):
        port = _free_port()
        command = [COMMAND, "web", "serve", "--port", str(port)]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        process = subprocess.Popen(command, env=env, **quiet)
        started.append((process, f"http://127.0.0.1:{port}"))
    for process, address in started:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(address + "/login", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("a server process did not start") from None
                time.sleep(0.1)
    return started


def _push_all(addresses: list[str], prepared: list[list[tuple[bytes, dict[str, str]]]]) -> int:
    """Nanoseconds for every kiosk's pushes, all kiosks at once."""
    failures: list[str] = []

    def kiosk(number: int) -> None:
        for batch, (body, headers) in enumerate(prepared[number]):
            address = addresses[(number + batch) % len(addresses)]
            request = urllib.request.Request(address + PATH, body, headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=120) as answer:
                    answer.read()
            except OSError as exc:
                failures.append(f"kiosk {number}, batch {batch}: {exc}")
                return

    threads = [threading.Thread(target=kiosk, args=(n,)) for n in range(len(prepared))]
    started = time.perf_counter_ns()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter_ns() - started
    if failures:
        raise RuntimeError("; ".join(failures[:3]))
    return took


def run(settings: Settings) -> list[Row]:
    settings.workdir.mkdir(parents=True, exist_ok=True)
    per_kiosk = RECORDS_QUICK if settings.quick else RECORDS
    pg_url, why = postgresql_url()
    url = pg_url or f"sqlite:///{settings.workdir / 'server.sqlite3'}"
    name = "PostgreSQL" if pg_url else "SQLite"
    if pg_url is None:
        log(f"  ingest over HTTP: PostgreSQL not available ({why}): SQLite instead")
    with home(settings.workdir / "home"):
        keys = [DeviceKey.load_or_create(settings.workdir / f"key-{n}.pem") for n in range(KIOSKS)]
        ledgers: list[list[LedgerRow]] = []
        for number, key in enumerate(keys):
            folder = settings.workdir / f"kiosk-{number}"
            folder.mkdir(exist_ok=True)
            ledgers.append(build_records(folder, key, per_kiosk))
        prepared = [pushes(key, rows) for key, rows in zip(keys, ledgers, strict=True)]
        floor = time_signatures_all(keys, ledgers)
        total = sum(len(rows) for rows in ledgers)
        results = []
        for workers in (1, 2):
            if pg_url:
                reset_pg(url)
            else:
                Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
            close_app(server(url, *keys))
            servers = _servers(workers, url, settings.workdir / "home")
            try:
                took = _push_all([address for _p, address in servers], prepared)
            finally:
                for process, _address in servers:
                    process.terminate()
                    process.wait(timeout=20)
            rate = total / took * 1e9
            log(f"  ingest over HTTP, {workers} process(es): {ms(took)} ({rate:,.0f} records/s)")
            results.append(
                Row(
                    f"Ingest over HTTP, {name}: {KIOSKS} kiosks × {per_kiosk:,} records at once, "
                    f"{workers} server process{'es' if workers > 1 else ''}",
                    f"{ms(took)} ({rate:,.0f} records/s)",
                    f"{ms(floor)} ({total / floor * 1e9:,.0f} signatures/s, Ed25519, one core)",
                    ratio(took, floor),
                )
            )
        if pg_url:
            reset_pg(url)
        return results


def time_signatures_all(keys: list[DeviceKey], ledgers: list[list[LedgerRow]]) -> int:
    """One core checking every kiosk's signatures with its own key, in nanoseconds."""
    return sum(
        time_signatures(key.public_raw, [(r.data, r.sig) for r in rows])
        for key, rows in zip(keys, ledgers, strict=True)
    )
