"""The kiosk's side of the sync protocol (``docs/sync-protocol.md``): push, acks, config.

:class:`SyncClient` runs on its own thread with its own read-only connection to the
ledger. It never writes the ledger: every verified acknowledgement and configuration is
handed to a callback, which the daemon turns into work for its main loop (the one
writer). Records go in ledger order, in batches, whenever the network allows; failures
back off (:mod:`kiosk.backoff`); a ``gap`` answer moves the position back to where the
server says to resume. One exchange is :func:`kiosk.sync_http.call`.

Every request is signed with the device key (:mod:`hom_phieu.protocol.signing`); every answer the
kiosk acts on (an ack, a configuration) is signed by the server key pinned at enrollment.
What travels are the models of :mod:`hom_phieu.protocol.models`.
"""

from __future__ import annotations

import itertools
import logging
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hom_phieu import formatting
from hom_phieu.clock import Clock
from hom_phieu.i18n import _
from hom_phieu.ledger.device_key import DeviceKey
from hom_phieu.ledger.errors import LedgerStoreError
from hom_phieu.ledger.records import record_hash
from hom_phieu.ledger.store import LedgerStore
from hom_phieu.ledger.verify import Row
from hom_phieu.protocol.fields import ProtocolError
from hom_phieu.protocol.models import (
    Ack,
    DeviceConfig,
    ErrorCode,
    HealthAnswer,
    HealthReport,
    PushRecord,
    PushRequest,
)
from hom_phieu.protocol.signing import API, UntrustedAnswer, verified_config, verified_push_answer
from kiosk.backoff import BACKOFF_INITIAL_S, BACKOFF_MAX_S, backoff_s
from kiosk.loop_events import Accepted, Refused
from kiosk.sync_http import ServerRefused, SyncError, call

BATCH_SIZE = 200
BATCH_BYTES = 1024 * 1024  # raw record bytes per push; base64 makes it ~1.4 MB < 2 MB

log = logging.getLogger(__name__)


# --- the client -------------------------------------------------------------------------
AckCallback = Callable[[int, str, int, int], None]  # head_seq, head_hash, server ms, mono ns
ConfigCallback = Callable[[DeviceConfig], None]
RefusalCallback = Callable[[Refused | Accepted], None]
HealthSource = Callable[[], HealthReport]


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """What the sync thread last saw, for the screen, ``kiosk status`` and health."""

    state: str  # "starting", "ok", "offline" (network), "refused" (the server said no)
    acked_seq: int
    error: str | None = None  # the server's error code, or "network"
    message: str | None = None
    last_ok_ms: int | None = None  # wall time of the last complete sync (this machine's clock)
    retry_in_s: float | None = None


class SyncClient:
    """Pushes records after ``acked_seq``, pulls the configuration, posts health.

    Callbacks run on the sync thread: they must only hand the values to the main loop.
    ``on_ack(head_seq, head_hash, server_time_ms, mono_ns_at_receipt)``: the server holds
    the ledger up to ``head_seq`` (whose hash is ``head_hash``; already checked against
    this ledger) and its clock read ``server_time_ms`` when ``clock`` read
    ``mono_ns_at_receipt``. ``on_config(config)``: a configuration signed by the server,
    for this device, different from the last one handed over. ``health()``: the report
    to post each round (``unsynced`` is filled in when it is ``None``).
    ``on_refusal(Refused)``: the server refused a push (or its answer cannot be trusted),
    at once, on every try; ``on_refusal(Accepted())``: a round went through again.
    """

    def __init__(
        self,
        *,
        server_url: str,
        key: DeviceKey,
        server_public_key: bytes,
        ledger_path: Path,
        clock: Clock,
        acked_seq: int,
        on_ack: AckCallback,
        on_config: ConfigCallback | None = None,
        health: HealthSource | None = None,
        on_refusal: RefusalCallback | None = None,
        config_version: str | None = None,
        interval_s: float = 30.0,
        config_interval_s: float = 3600.0,
        timeout_s: float = 20.0,
        batch_size: int = BATCH_SIZE,
        backoff_initial_s: float = BACKOFF_INITIAL_S,
        backoff_max_s: float = BACKOFF_MAX_S,
    ) -> None:
        self.server_url = server_url
        self._key = key
        self._server_key = server_public_key
        self._ledger_path = ledger_path
        self._clock = clock
        self._on_ack = on_ack
        self._on_config = on_config
        self._health = health
        self._on_refusal = on_refusal
        self._config_version = config_version
        self._interval_s = interval_s
        self._config_interval_s = config_interval_s
        self._timeout_s = timeout_s
        self._batch_size = max(1, min(batch_size, 500))
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._lock = threading.Lock()
        self._acked = acked_seq
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_config = 0.0  # time.monotonic() when the configuration is due
        self._refused: tuple[int, str] | None = None  # since (wall ms), error: for health
        self._status = SyncStatus("starting", acked_seq)

    # --- what the daemon calls ---------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hom-phieu-sync", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Sync now (after a vote), unless the client is backing off after failures."""
        self._wake.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread; an exchange in flight is abandoned (the server stays whole)."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def set_acked(self, seq: int) -> None:
        """Tell the client where the server's acknowledgement stands (e.g. from the ledger)."""
        with self._lock:
            self._acked = seq

    @property
    def acked_seq(self) -> int:
        with self._lock:
            return self._acked

    def status(self) -> SyncStatus:
        with self._lock:
            return self._status

    # --- the thread ----------------------------------------------------------------------
    def _run(self) -> None:
        store: LedgerStore | None = None
        failures = 0
        while not self._stopping.is_set():
            try:
                if store is None:
                    store = LedgerStore(self._ledger_path, readonly=True)
                self.sync_once(store)
                failures = 0
                refused = self.status().state == "refused"
                self._refused = None
                self._set_status("ok", last_ok_ms=int(time.time() * 1000))
                if refused and self._on_refusal is not None:
                    self._on_refusal(Accepted())
                delay, interruptible = self._interval_s, True
            except Exception as exc:  # the thread must outlive any failure
                failures += 1
                delay = backoff_s(failures, initial_s=self._backoff[0], maximum_s=self._backoff[1])
                if isinstance(exc, LedgerStoreError) and store is not None:
                    store.close()
                    store = None
                self._failed(exc, delay)
                self._report_refusal(store)
                interruptible = False
            self._sleep(delay, interruptible)
        if store is not None:
            store.close()

    def _failed(self, exc: Exception, delay: float) -> None:
        if isinstance(exc, ServerRefused) and exc.status < 500:
            state, error, message = "refused", exc.error, exc.message
        elif isinstance(exc, SyncError | LedgerStoreError):
            state, error, message = "offline", "network", str(exc)
        else:
            log.exception(_("sync: an unexpected failure"))
            state, error, message = "offline", "internal", str(exc)
        if isinstance(exc, UntrustedAnswer):
            state, error = "refused", "untrusted"
        log.warning("%s", _("sync: {message} (next try in {delay} s)").format(
            message=message, delay=formatting.decimal(delay)))  # fmt: skip
        self._set_status(state, error=error, message=message, retry_in_s=delay)
        if state == "refused" and self._on_refusal is not None:
            seq = exc.answer.seq if isinstance(exc, ServerRefused) else None
            self._on_refusal(Refused(error or "", message or "", seq))

    def _sleep(self, delay: float, interruptible: bool) -> None:
        """Wait ``delay`` seconds; ``wake()`` cuts it short unless backing off."""
        deadline = time.monotonic() + delay
        while not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            woken = self._wake.wait(remaining)
            self._wake.clear()
            if woken and interruptible:
                return

    def _set_status(self, state: str, **values: Any) -> None:
        with self._lock:
            previous = self._status
            last_ok = values.pop("last_ok_ms", previous.last_ok_ms)
            self._status = SyncStatus(state, self._acked, last_ok_ms=last_ok, **values)

    # --- one round -------------------------------------------------------------------------
    def sync_once(self, store: LedgerStore) -> None:
        """Push everything unacknowledged, post health, pull the configuration if due."""
        self._push_all(store)
        version = self._post_health(store) if self._health is not None else None
        due = time.monotonic() >= self._next_config
        if self._on_config is not None and (due or version != self._config_version):
            self._pull_config()

    def _push_all(self, store: LedgerStore) -> None:
        while not self._stopping.is_set():
            rows = self._batch(store, self.acked_seq)
            if not rows:
                return
            self._push(rows)

    def _batch(self, store: LedgerStore, after: int) -> list[Row]:
        rows: list[Row] = []
        size = 0
        iterator = store.iter_rows(after_seq=after)
        try:
            for row in itertools.islice(iterator, self._batch_size):
                if rows and size + len(row.data) + len(row.sig) > BATCH_BYTES:
                    break
                rows.append(row)
                size += len(row.data) + len(row.sig)
        finally:
            iterator.close()  # ends the read transaction: never hold a WAL snapshot
        return rows

    def _push(self, rows: Sequence[Row]) -> None:
        request = PushRequest(
            nonce=secrets.token_hex(16),
            records=tuple(PushRecord(r.seq, r.data, r.sig) for r in rows),
        )
        try:
            answer = call(
                self.server_url,
                "POST",
                f"{API}/records",
                key=self._key,
                payload=request,
                timeout_s=self._timeout_s,
            )
        except ServerRefused as exc:
            if exc.error == ErrorCode.GAP:
                self._resume(exc, rows[0].seq)
                return
            raise
        mono_ns = self._clock.read().mono_ns
        pushed = verified_push_answer(self._server_key, answer)
        ack = self._checked_ack(pushed.ack, request.nonce, rows)
        with self._lock:
            self._acked = ack.head_seq
        if pushed.config_version != self._config_version:
            self._next_config = 0.0
        self._on_ack(ack.head_seq, ack.head_hash, ack.server_time_ms, mono_ns)

    def _resume(self, exc: ServerRefused, first_sent: int) -> None:
        """The server lost records (restored from a backup): go back to where it stands."""
        resume = exc.answer.resume_from
        if resume is None or not 1 <= resume < first_sent:
            raise UntrustedAnswer(
                _("the server asked to resume from {resume}, which is not before {first}").format(
                    resume=resume, first=first_sent
                )
            )
        log.warning("%s", _("sync: the server holds records up to {seq} only; resending").format(
            seq=resume - 1))  # fmt: skip
        with self._lock:
            self._acked = resume - 1

    def _checked_ack(self, ack: Ack, nonce: str, rows: Sequence[Row]) -> Ack:
        """The (signed) ack answers this push and vouches for this ledger's records."""
        if ack.nonce != nonce or ack.device_id != self._key.device_id:
            raise UntrustedAnswer(_("the acknowledgement is not the answer to this push"))
        sent = {r.seq: r for r in rows}
        if ack.head_seq not in sent or record_hash(sent[ack.head_seq].data) != ack.head_hash:
            raise UntrustedAnswer(
                _("the server acknowledged record {seq}, which is not this ledger's").format(
                    seq=ack.head_seq
                )
            )
        return ack

    def _post_health(self, store: LedgerStore) -> str | None:
        assert self._health is not None
        try:
            report = self._health()
        except Exception:  # a broken report must not stop the sync
            log.exception(_("sync: the health report failed"))
            return self._config_version
        if report.unsynced is None:  # sequence numbers have no gaps: the count is the head
            report = replace(report, unsynced=max(0, store.record_count() - self.acked_seq))
        report = self._truths(report)
        answer = call(
            self.server_url,
            "POST",
            f"{API}/health",
            key=self._key,
            payload=report,
            timeout_s=self._timeout_s,
        )
        try:
            return HealthAnswer.from_json(answer).config_version
        except ProtocolError as exc:
            raise UntrustedAnswer(exc.message) from None

    def _truths(self, report: HealthReport) -> HealthReport:
        """What only the sync thread knows, added to the daemon's report: the state
        folder's disk, the records the server refuses (all those not acknowledged: none
        goes through past the first refused) and since when, and this machine's clock."""
        try:
            disk = shutil.disk_usage(self._ledger_path.parent)
            report = replace(report, disk_free=disk.free, disk_total=disk.total)
        except OSError:
            pass  # (unknown: the server shows no disk figure)
        if self._refused is not None:
            since_ms, error = self._refused
            report = replace(report, refused=report.unsynced or 0, refused_since_ms=since_ms,
                             refused_error=error[:40])  # fmt: skip
        return replace(report, clock_ms=self._clock.read().wall_ms)

    def _report_refusal(self, store: LedgerStore | None) -> None:
        """After a refused push (the round stopped before its health report), tell the
        server anyway: a refused kiosk must not look healthy with "0 unsynced"."""
        status = self.status()
        if status.state != "refused" or self._health is None or store is None:
            return
        if self._refused is None:
            self._refused = (self._clock.read().wall_ms, status.error or "refused")
        try:
            self._post_health(store)
        except Exception as exc:  # (the server may refuse that too: the next round retries)
            log.info("sync: the health report after a refusal failed: %s", exc)

    def _pull_config(self) -> None:
        assert self._on_config is not None
        answer = call(
            self.server_url, "GET", f"{API}/config", key=self._key, timeout_s=self._timeout_s
        )
        config = verified_config(self._server_key, self._key.device_id, answer)
        self._next_config = time.monotonic() + self._config_interval_s
        if config.version != self._config_version:
            self._config_version = config.version
            self._on_config(config)
