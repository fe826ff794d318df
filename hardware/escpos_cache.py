"""Importing python-escpos without its capability cache on the ledger's disk.

python-escpos 3.1 keeps the printers' capabilities (its ``capabilities.json``, parsed as
YAML: a quarter of a second) as a pickle in ``ESCPOS_CAPABILITIES_PICKLE_DIR``, written on
import when missing and read back on every later import without a check. A full disk once
cut that file short on the ledger's disk, and every import after it failed: the printer
stayed broken for good. :func:`prepare_escpos` makes the pickle itself, from the JSON, in
memory, only for the import; nothing is left to be damaged, and a damaged file an older
version left behind is never read.

Three modules python-escpos and python-barcode import but a kiosk seldom uses, ``yaml`` (for
the capabilities, read from the pickle instead), ``xml.dom.minidom`` (for SVG barcodes) and
``serial`` (pyserial, for a serial printer only), are imported lazily (:func:`lazily`):
loaded only if something uses them, which keeps about 1 MiB out of the idle kiosk.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import pickle
import platform
import shutil
import sys
import tempfile
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hom_phieu.i18n import _

_IMPORT_LOCK = threading.Lock()
_DEFERRED_LOCK = threading.RLock()
# Imported at import time by python-escpos (capabilities.py, printer/serial.py) and
# python-barcode (writer.py, which escpos.escpos imports), used only to parse YAML, to write
# SVG and to open a serial printer.
DEFERRED_IMPORTS = ("yaml", "xml.dom.minidom", "serial")


class EscposError(Exception):
    """python-escpos cannot be imported; ``reason`` says why, for staff."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def prepare_escpos() -> None:
    """Import python-escpos, its capability pickle made from its JSON (``json``: a
    millisecond) in a fresh private folder in memory (:func:`_memory_folders`), read on
    import, then removed. The ``mkdtemp()`` python-escpos calls on import (the default
    argument of ``environ.get``, evaluated even when the variable is set) gets that folder,
    so no empty folder is left behind either."""
    if "escpos.capabilities" in sys.modules:
        return
    with _IMPORT_LOCK:
        if "escpos.capabilities" in sys.modules:
            return
        folder = _capabilities_folder()
        for name in DEFERRED_IMPORTS:
            lazily(name)
        try:
            with _reading_from(folder):
                import escpos.capabilities  # noqa: F401
        finally:
            shutil.rmtree(folder, ignore_errors=True)


class _Deferred(types.ModuleType):
    """A module whose code runs when a name it defines is first read. Its metadata
    (``__spec__``, ``__path__``…) is there from the start, so ``import`` itself does not run
    it (the standard library's ``LazyLoader`` runs it on any attribute, ``__spec__`` too,
    which ``import`` reads in Python 3.11)."""

    def __getattr__(self, attr: str) -> Any:
        with _DEFERRED_LOCK:  # another thread waits for the code to have run
            if self.__dict__.pop("__deferred__", False):
                try:
                    self.__spec__.loader.exec_module(self)  # type: ignore[union-attr]
                except BaseException:
                    self.__dict__["__deferred__"] = True
                    raise
                self.__class__ = types.ModuleType
        try:
            return self.__dict__[attr]
        except KeyError:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}") from None


def lazily(name: str) -> None:
    """``name`` importable at no cost: its code runs when a name it defines is first read
    (:class:`_Deferred`). Nothing happens if it is already imported or not installed."""
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)  # (imports the parent packages)
    if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
        return
    module = importlib.util.module_from_spec(spec)
    module.__class__ = _Deferred
    module.__dict__["__deferred__"] = True
    sys.modules[name] = module
    parent, _dot, child = name.rpartition(".")
    if parent:  # as an import would: ``xml.dom.minidom`` reachable from ``xml.dom``
        setattr(sys.modules[parent], child, module)


def _capabilities_file() -> Path:
    """The capabilities python-escpos will read: its own, unless the environment names one."""
    named = os.environ.get("ESCPOS_CAPABILITIES_FILE")
    if named:
        return Path(named)
    spec = importlib.util.find_spec("escpos")
    if spec is None or not spec.submodule_search_locations:
        raise EscposError(_("python-escpos is not installed: pip install python-escpos"))
    return Path(next(iter(spec.submodule_search_locations))) / "capabilities.json"


def _memory_folders() -> list[str | None]:
    """Where the cache may go, best first: the service's runtime folder (systemd's
    ``RuntimeDirectory``, in memory), the user's, ``/dev/shm``; last the temporary folder."""
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    candidates = [runtime, os.environ.get("XDG_RUNTIME_DIR", ""), "/dev/shm"]
    return [path for path in candidates if path and os.path.isdir(path)] + [None]


def _capabilities_folder() -> Path:
    """A new private folder holding python-escpos' capability pickle, made from its JSON."""
    source = _capabilities_file()
    try:
        data = pickle.dumps(json.loads(source.read_text(encoding="utf-8")), protocol=2)
        stat = source.stat()
    except (OSError, ValueError) as exc:
        raise EscposError(
            _("the printer capabilities {path} cannot be read: {error}").format(
                path=source, error=exc
            )
        ) from exc
    failure: OSError | None = None
    for parent in _memory_folders():
        folder: Path | None = None
        try:
            folder = Path(tempfile.mkdtemp(prefix="hom-phieu-escpos-", dir=parent))
            target = folder / f"{platform.python_version()}.capabilities.pickle"
            target.write_bytes(data)
            # As old as its source: python-escpos reads it instead of parsing the YAML again.
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
            return folder
        except OSError as exc:  # full, read-only, missing: the next place
            failure = exc
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
    raise EscposError(
        _("no room for the printer capabilities in memory or on disk: {error}").format(
            error=failure
        )
    )


@contextlib.contextmanager
def _reading_from(folder: Path) -> Iterator[None]:
    """While python-escpos is imported: its pickle folder is ``folder``, and its call of
    ``mkdtemp()`` gets that folder instead of a new one (other callers get theirs)."""
    original, saved = tempfile.mkdtemp, os.environ.get("ESCPOS_CAPABILITIES_PICKLE_DIR")

    def mkdtemp(*args: Any, **kwargs: Any) -> Any:  # (str, or bytes for bytes arguments)
        if sys._getframe(1).f_globals.get("__name__") == "escpos.capabilities":
            return str(folder)
        return original(*args, **kwargs)

    os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = str(folder)
    tempfile.mkdtemp = mkdtemp  # type: ignore[assignment]
    try:
        yield
    finally:
        tempfile.mkdtemp = original
        if saved is None:
            os.environ.pop("ESCPOS_CAPABILITIES_PICKLE_DIR", None)
        else:
            os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = saved
