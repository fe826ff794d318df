"""Recounting an opened box from its bundle, offline: ``hom-phieu box verify BUNDLE``.

The bundle (:mod:`web.bundle_format`, ``docs/recount.md``) holds the minutes exactly as
stored, each device's signed records and public key, the box keys published at the opening,
and what earlier openings counted. The recount walks every chain and counts with the
server's own code (:func:`web.box_count.count_device` into a :class:`web.box_count.BoxCount`
holding the published keys), turns the tallies into the minutes' figures with the minutes'
own code (:func:`web.minutes_build.count_tables`), and compares them with the minutes:
total, levels, clerks, channels, supplements, and each device's counted range and faults.
An adopted branch of a forked chain and a repaired record are checked and read as
:mod:`web.bundle_forks` says. Every difference is named. Pure: no database, no Flask.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from hom_phieu.i18n import _
from hom_phieu.ledger.box_key import BoxPrivateKey
from hom_phieu.ledger.records import (
    LEVEL_LABELS,
    Channel,
    Kind,
    RecordFormatError,
    decode,
    receipt_code,
    record_hash,
)
from web.ballot_channels import TicketLookup, TicketRule
from web.box_count import LEVELS, BoxCount, HeldRow, count_device
from web.bundle_compare import compare_counts, compare_devices
from web.bundle_forks import device_ref, repaired_rows
from web.bundle_format import Bundle, BundleDevice, BundleError, Manifest
from web.ceremony_calendar import box_label, next_box
from web.minutes import ClerkRow, Count, Minutes, MinutesFormatError
from web.parallel import SignatureWorkers

MAX_NAMED = 20  # unreadable ballots named one by one; the rest summed up


@dataclass(slots=True)
class Recount:
    """The recount of a bundle: the count, and every difference from the minutes."""

    manifest: Manifest
    minutes: Minutes
    count: BoxCount
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # true of the opening as well

    @property
    def matches(self) -> bool:
        return not self.differences


def recount(bundle: Bundle) -> Recount:
    """Recount ``bundle`` and compare it with its minutes. Raises :class:`BundleError`
    when the minutes cannot be read at all."""
    manifest = bundle.manifest
    try:
        minutes = Minutes.from_bytes(bundle.minutes)
    except MinutesFormatError as error:
        raise BundleError(_("not a box bundle: {error}").format(error=error)) from None
    faults: list[str] = []
    stored_hash = record_hash(bundle.minutes)
    if stored_hash != manifest.minutes_sha256:
        faults.append(
            _("The minutes' SHA-256 is {actual}, the manifest says {stated}").format(
                actual=stored_hash, stated=manifest.minutes_sha256
            )
        )
    if (minutes.office.code, minutes.box) != (manifest.office_code, manifest.box):
        faults.append(
            _(
                "The minutes are of box {minutes_box} of office {minutes_office}, the "
                "manifest says box {box} of office {office}"
            ).format(
                minutes_box=minutes.box,
                minutes_office=minutes.office.code,
                box=manifest.box,
                office=manifest.office_code,
            )
        )
    keys = _keys(manifest, faults)
    _check_seal(minutes, manifest, faults)
    devices = sorted(manifest.devices, key=lambda device: device.pk)  # the opening's order
    count = BoxCount(manifest.box, tickets=TicketRule(_tickets(bundle, devices)), keys=keys)
    held = {entry.device_id: entry.records + entry.uncounted for entry in minutes.devices}
    earlier: dict[str, dict[str, int]] = {}
    for counted in manifest.counted_before:
        through = earlier.setdefault(counted.device_id, {})
        through[counted.box] = max(through.get(counted.box, 0), counted.through_seq)
    notes: list[str] = []
    with SignatureWorkers() as workers:  # the signatures on all cores, as the server does
        for device in devices:
            ref = device_ref(bundle, device, workers, faults)
            rows = _checked_rows(bundle.rows(device), device, faults)
            count_device(
                count,
                ref,
                repaired_rows(rows, ref, manifest.repairs, minutes.opened_at, faults, notes),
                office_id=manifest.office_id,
                next_box=next_box(manifest.box),
                opened_boxes=frozenset(manifest.opened_before),
                already_counted=earlier.get(device.device_id, {}),
                held_in_box=held.get(device.device_id, 0),
                workers=workers,
            )
    result = Recount(manifest, minutes, count, notes=notes)
    result.differences.extend(faults)
    compare_devices(minutes.devices, count.devices, result.differences)
    compare_counts(minutes, count, devices, result.differences)
    unreadable = _unreadable(count, devices)
    (result.differences if result.differences else result.notes).extend(unreadable)
    return result


def _keys(manifest: Manifest, faults: list[str]) -> dict[str, BoxPrivateKey]:
    """The published keys by the fingerprint they really have; a key whose secret is not
    the one its entry names is a fault."""
    keys: dict[str, BoxPrivateKey] = {}
    for entry in manifest.keys:
        try:
            private = BoxPrivateKey.from_master(entry.master)
        except ValueError:
            faults.append(
                _("Key {key}: its published secret is not a box key's secret").format(
                    key=entry.fingerprint
                )
            )
            continue
        actual = private.public
        if actual.fingerprint != entry.fingerprint or actual.raw != entry.public_key:
            faults.append(
                _("Key {key}: the published secret is the secret of another key, {other}").format(
                    key=entry.fingerprint, other=actual.fingerprint
                )
            )
        keys[actual.fingerprint] = private
    return keys


def _check_seal(minutes: Minutes, manifest: Manifest, faults: list[str]) -> None:
    """The box key the minutes name (``seal.key``) must be the one the bundle publishes."""
    named = minutes.seal.key if minutes.seal is not None else None
    if named is None:
        return  # (a box sealed without a box key, or minutes from before keys)
    held = [key.fingerprint for key in manifest.keys if key.box == manifest.box]
    if named not in held:
        faults.append(
            _("The minutes name the box key {key}; the bundle holds {held}").format(
                key=named, held=", ".join(held) or _("no key of this box")
            )
        )


def _tickets(bundle: Bundle, devices: list[BundleDevice]) -> TicketLookup:
    """The rule of :func:`web.ticket_lookup.ticket_lookup` over the bundle's records:
    (clerk, wall_ms) of the office's button VOTE whose receipt code is ``code``. Read
    on the first ticket asked for (a box without phone answers never needs it); the
    records it reads are the ones the walk verifies."""
    office_id = bundle.manifest.office_id
    found: dict[str, tuple[str, int]] | None = None

    def lookup(code: str) -> tuple[str, int] | None:
        nonlocal found
        if found is None:
            found = {}
            for device in devices:
                for row in bundle.rows(device):
                    if row.office_id != office_id:
                        continue
                    try:
                        vote = decode(row.data)
                    except RecordFormatError:
                        continue  # (the walk names it)
                    if vote.kind is Kind.VOTE and vote.body.get("channel") == Channel.BUTTON:
                        found.setdefault(
                            receipt_code(vote.hash), (str(vote.body.get("clerk")), vote.wall_ms)
                        )
        return found.get(code)

    return lookup


def _checked_rows(
    rows: Iterable[HeldRow], device: BundleDevice, faults: list[str]
) -> Iterator[HeldRow]:
    """The device's rows, noting when the file stops before the last record listed."""
    last = 0
    for row in rows:
        last = row.seq
        yield row
    if last < device.last_seq:
        faults.append(
            _(
                "Device {device}: the bundle's records stop at number {last}, the "
                "manifest lists them up to {expected}: records are missing"
            ).format(device=device.device_id, last=last, expected=device.last_seq)
        )


def _unreadable(count: BoxCount, devices: list[BundleDevice]) -> list[str]:
    """Ballots whose sealed opinion did not open: by key when the bundle lacks the key,
    one by one otherwise."""
    names = {device.pk: device.device_id for device in devices}
    missing = Counter(u.key for u in count.unreadable if u.key not in (count.keys or {}))
    lines = [
        _("{count} ballots are sealed to key {key}, which the bundle does not hold").format(
            count=n, key=key
        )
        for key, n in sorted(missing.items())
    ]
    altered = [u for u in count.unreadable if u.key not in missing]
    lines.extend(
        _("Device {device}, record {seq}: {message}").format(
            device=names.get(u.device_pk, u.device_pk), seq=u.seq, message=u.message
        )
        for u in altered[:MAX_NAMED]
    )
    if len(altered) > MAX_NAMED:
        lines.append(
            _("… and {count} more ballots that do not open").format(count=len(altered) - MAX_NAMED)
        )
    return lines


# --- the report ---------------------------------------------------------------------------


def report(result: Recount) -> list[str]:
    """What ``hom-phieu box verify`` prints: the verdict, then the figures or the differences."""
    manifest, count = result.manifest, result.count
    where = {
        "box": box_label(manifest.box),
        "office": manifest.office_name,
        "code": manifest.office_code,
    }
    if not result.matches:
        lines = [_("DOES NOT MATCH the minutes: box {box} of {office} ({code})").format(**where)]
        lines.extend(f"- {line}" for line in result.differences)
    else:
        lines = [_("Matches the minutes: box {box} of {office} ({code})").format(**where)]
        lines.append(_("Minutes SHA-256: {hash}").format(hash=manifest.minutes_sha256))
        lines.append(_figures(_("Ballots counted"), result.minutes.count))
        lines.extend(
            f"  {_figures(row.name or row.key, row)}" for row in result.minutes.count.by_clerk
        )
        for supplement in result.minutes.supplements:
            lines.append(
                _figures(
                    _("Late ballots of box {box}").format(box=box_label(supplement.box)),
                    supplement.count,
                )
            )
        if result.minutes.count.unverified is not None:
            lines.append(
                _figures(
                    _("Unverified phone answers (not counted)"), result.minutes.count.unverified
                )
            )
        records = sum(check.last_verified_seq for check in count.devices)
        lines.append(
            _("{devices} devices, {records} records: every signature and chain verified").format(
                devices=len(count.devices), records=records
            )
        )
    lines.extend(f"* {line}" for line in result.notes)
    return lines


def _figures(what: str, figures: Count | ClerkRow) -> str:
    levels = ", ".join(f"{_(LEVEL_LABELS[level])} {figures.by_level[level]}" for level in LEVELS)
    return _("{what}: {votes} ({levels})").format(what=what, votes=figures.votes, levels=levels)
