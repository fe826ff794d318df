"""The box bundle's file format (``docs/recount.md``): a zip of a manifest, the minutes'
canonical bytes exactly as stored, and each device's signed records.

Written by :mod:`web.box_bundle` (from the database), read by :mod:`web.bundle_verify`
(``hom-phieu box verify``). Pure: no database, no Flask.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from hom_phieu.i18n import _
from web.box_count import HeldRow
from web.minutes_json import MinutesFormatError, Reader, iso

BUNDLE_FORMAT = 1
BUNDLE_KIND = "hom-phieu box bundle"
MANIFEST = "manifest.json"
MINUTES = "minutes.json"
# a device's id; an adopted branch's (web.forks): "<the forked device's id>/<fork seq>"
_DEVICE_FILE = re.compile(r"^[A-Za-z0-9_.-]{1,80}(/[0-9]{1,12})?$")


class BundleError(ValueError):
    """The file is not a box bundle (or not one this version reads); the message says why."""


@dataclass(frozen=True, slots=True)
class BundleBranch:
    """An adopted branch of a forked chain (``web.forks``): records ``fork_seq`` on, signed
    by the key of device ``of``, whose walk starts from ``of``'s chain after record
    ``fork_seq - 1`` (of hash ``base_hash``; the verifier's state then: ``base_state``)."""

    of: str  # the forked device's id (its records, at least up to the fork point, are here)
    fork_seq: int
    base_hash: str
    base_state: str  # hom_phieu.ledger.state.LedgerState.to_json()


@dataclass(frozen=True, slots=True)
class BundleRepair:
    """A record the server held altered and replaced by the device's own copy
    (``web.forks.repair_record``): the records file holds the copy; here the damaged bytes."""

    device_id: str
    seq: int
    repaired_at: datetime
    damaged_data: bytes
    damaged_sig: bytes


@dataclass(frozen=True, slots=True)
class BundleDevice:
    """A device whose records the bundle holds: its records are seq 1 to ``last_seq``
    (an adopted branch's: ``branch.fork_seq`` to ``last_seq``)."""

    pk: int  # the server's number for it (the minutes' per-device figures group by it)
    device_id: str
    public_key: bytes  # raw Ed25519
    label: str
    counter: str | None
    last_seq: int  # 0: no record of it is needed
    branch: BundleBranch | None = None

    @property
    def records_file(self) -> str:
        return f"records/{self.device_id}.jsonl"


@dataclass(frozen=True, slots=True)
class BundleKey:
    """A box key published at its opening: its public key and its master secret."""

    fingerprint: str
    box: str | None
    public_key: bytes
    master: bytes


@dataclass(frozen=True, slots=True)
class CountedBefore:
    """What an earlier opening of the office counted of a device's box: seqs up to here."""

    device_id: str
    box: str
    through_seq: int


@dataclass(frozen=True, slots=True)
class Manifest:
    office_id: int
    office_code: str
    office_name: str
    box: str
    minutes_sha256: str
    opened_before: tuple[str, ...]  # boxes of the office opened before this one
    counted_before: tuple[CountedBefore, ...]
    devices: tuple[BundleDevice, ...]
    keys: tuple[BundleKey, ...]
    repairs: tuple[BundleRepair, ...] = ()

    def to_json(self) -> dict[str, Any]:
        made = {
            "format": BUNDLE_FORMAT,
            "kind": BUNDLE_KIND,
            "office": {"id": self.office_id, "code": self.office_code, "name": self.office_name},
            "box": self.box,
            "minutes_sha256": self.minutes_sha256,
            "opened_before": list(self.opened_before),
            "counted_before": [
                {"device_id": c.device_id, "box": c.box, "through_seq": c.through_seq}
                for c in self.counted_before
            ],
            "devices": [_device_json(d) for d in self.devices],
            "keys": [
                {
                    "fingerprint": k.fingerprint,
                    "box": k.box,
                    "public_key": k.public_key.hex(),
                    "master": k.master.hex(),
                }
                for k in self.keys
            ],
        }
        if self.repairs:  # (absent without any: a bundle as the first version wrote it)
            made["repairs"] = [
                {
                    "device_id": r.device_id,
                    "seq": r.seq,
                    "repaired_at": iso(r.repaired_at),
                    "damaged_data": base64.b64encode(r.damaged_data).decode(),
                    "damaged_sig": base64.b64encode(r.damaged_sig).decode(),
                }
                for r in self.repairs
            ]
        return made

    @classmethod
    def from_json(cls, data: object) -> Manifest:
        r = Reader(data, "manifest")
        if r.integer("format") != BUNDLE_FORMAT or r.text("kind") != BUNDLE_KIND:
            raise MinutesFormatError(f"manifest: not a {BUNDLE_KIND} of format {BUNDLE_FORMAT}")
        office = Reader(r.obj("office", lambda value, _where: value), "manifest.office")
        made = cls(
            office_id=office.integer("id"),
            office_code=office.text("code"),
            office_name=office.text("name"),
            box=r.text("box"),
            minutes_sha256=r.text("minutes_sha256"),
            opened_before=r.items("opened_before", _text),
            counted_before=r.items("counted_before", _counted_before),
            devices=r.items("devices", _device),
            keys=r.items("keys", _key),
            repairs=r.opt_items("repairs", _repair) or (),
        )
        office.done()
        r.done()
        return made


def _text(data: object, where: str) -> str:
    if not isinstance(data, str):
        raise MinutesFormatError(f"{where}: expected a string")
    return data


def _hex(text: str, where: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise MinutesFormatError(f"{where}: not hexadecimal") from None


def _counted_before(data: object, where: str) -> CountedBefore:
    r = Reader(data, where)
    made = CountedBefore(r.text("device_id"), r.text("box"), r.integer("through_seq"))
    r.done()
    return made


def _device_json(d: BundleDevice) -> dict[str, Any]:
    made: dict[str, Any] = {
        "pk": d.pk,
        "device_id": d.device_id,
        "public_key": d.public_key.hex(),
        "label": d.label,
        "counter": d.counter,
        "last_seq": d.last_seq,
    }
    if d.branch is not None:  # (absent for a device's own chain)
        b = d.branch
        made["branch"] = {
            "of": b.of,
            "fork_seq": b.fork_seq,
            "base_hash": b.base_hash,
            "base_state": b.base_state,
        }
    return made


def _device(data: object, where: str) -> BundleDevice:
    r = Reader(data, where)
    made = BundleDevice(
        pk=r.integer("pk"),
        device_id=r.text("device_id"),
        public_key=_hex(r.text("public_key"), f"{where}.public_key"),
        label=r.text("label"),
        counter=r.opt_text("counter"),
        last_seq=r.integer("last_seq"),
        branch=r.absent_or_obj("branch", _branch),
    )
    r.done()
    if not _DEVICE_FILE.match(made.device_id):
        raise MinutesFormatError(f"{where}.device_id: {made.device_id!r}")
    return made


def _branch(data: object, where: str) -> BundleBranch:
    r = Reader(data, where)
    made = BundleBranch(
        r.text("of"), r.integer("fork_seq"), r.text("base_hash"), r.text("base_state")
    )
    r.done()
    if made.fork_seq < 1:
        raise MinutesFormatError(f"{where}.fork_seq: {made.fork_seq}")
    return made


def _repair(data: object, where: str) -> BundleRepair:
    r = Reader(data, where)
    try:
        made = BundleRepair(
            device_id=r.text("device_id"),
            seq=r.integer("seq"),
            repaired_at=r.time("repaired_at"),
            damaged_data=base64.b64decode(r.text("damaged_data"), validate=True),
            damaged_sig=base64.b64decode(r.text("damaged_sig"), validate=True),
        )
    except binascii.Error:
        raise MinutesFormatError(f"{where}: not base64") from None
    r.done()
    return made


def _key(data: object, where: str) -> BundleKey:
    r = Reader(data, where)
    made = BundleKey(
        fingerprint=r.text("fingerprint"),
        box=r.opt_text("box"),
        public_key=_hex(r.text("public_key"), f"{where}.public_key"),
        master=_hex(r.text("master"), f"{where}.master"),
    )
    r.done()
    return made


# --- writing ------------------------------------------------------------------------------


def write_bundle(
    out: IO[bytes], manifest: Manifest, minutes: bytes, rows: Mapping[str, Iterable[HeldRow]]
) -> None:
    """The bundle into ``out``: ``rows`` by device id, each device's in sequence order."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, json.dumps(manifest.to_json(), ensure_ascii=False, indent=1))
        archive.writestr(MINUTES, minutes)
        for device in manifest.devices:
            with archive.open(device.records_file, "w") as file:
                for row in rows.get(device.device_id, ()):
                    file.write(row_line(row))


def row_line(row: HeldRow) -> bytes:
    """One record as a line of its device's file."""
    line = {
        "seq": row.seq,
        "kind": row.kind,
        "office": row.office_id,
        "box": row.box,
        "received_ms": row.received_ms,
        "data": base64.b64encode(row.data).decode(),
        "sig": base64.b64encode(row.sig).decode(),
    }
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"


# --- reading ------------------------------------------------------------------------------


class Bundle:
    """A bundle opened for reading (a context manager: it holds the zip open)."""

    def __init__(self, source: str | IO[bytes]) -> None:
        try:
            self._zip = zipfile.ZipFile(source)
        except (zipfile.BadZipFile, OSError) as error:
            raise BundleError(
                _("not a box bundle (not a zip file): {error}").format(error=error)
            ) from None
        try:
            self.manifest = Manifest.from_json(json.loads(self._zip.read(MANIFEST)))
            self.minutes = self._zip.read(MINUTES)
            for device in self.manifest.devices:
                self._zip.getinfo(device.records_file)
        except (KeyError, ValueError, zipfile.BadZipFile) as error:
            self._zip.close()
            raise BundleError(_("not a box bundle: {error}").format(error=error)) from None

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._zip.close()

    def rows(self, device: BundleDevice) -> Iterator[HeldRow]:
        """The device's records as the bundle holds them, in file order."""
        with self._zip.open(device.records_file) as file:
            for number, line in enumerate(file, start=1):
                yield _row(line, f"{device.records_file}:{number}")


def _row(line: bytes, where: str) -> HeldRow:
    try:
        r = Reader(json.loads(line), where)
        made = HeldRow(
            seq=r.integer("seq"),
            kind=r.text("kind"),
            office_id=r.integer("office"),
            box=r.text("box"),
            received_ms=r.opt_integer("received_ms"),
            data=base64.b64decode(r.text("data"), validate=True),
            sig=base64.b64decode(r.text("sig"), validate=True),
        )
        r.done()
    except (ValueError, binascii.Error) as error:
        raise BundleError(_("not a box bundle: {error}").format(error=error)) from None
    return made
