"""The device configuration the server signs (``GET /api/v1/config``) and its parts.

Office, counter, the scale's buttons, the roster, the office totals of the latest
opened box and the public keys its boxes are sealed to (months ahead, and the province's
escrow key), versioned by the SHA-256 of their canonical bytes. The models follow
:mod:`hom_phieu.protocol.models`' rules (one ``to_json``/``from_json`` pair, strict).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from hom_phieu.i18n import _
from hom_phieu.ledger.box_key import PUBLIC_BYTES, BoxPublicKey, fingerprint
from hom_phieu.ledger.opinion import KeyRing
from hom_phieu.ledger.records import Level, canonical_bytes
from hom_phieu.protocol import fields as f
from hom_phieu.protocol.fields import NAME_LIMIT, URL_LIMIT, JsonObject, ProtocolError


@dataclass(frozen=True, slots=True)
class OfficeRef:
    """An office as a kiosk names it: its code and its name."""

    code: str  # the office's code on the server
    name: str  # as the screen and the tickets show it

    def to_json(self) -> JsonObject:
        return {"code": self.code, "name": self.name}

    @classmethod
    def from_json(cls, value: Any, where: str = "office") -> OfficeRef:
        doc = f.child(value, where)
        return cls(
            code=f.text(doc.get("code"), f"{where}.code", limit=NAME_LIMIT),
            name=f.text(doc.get("name"), f"{where}.name", limit=NAME_LIMIT, required=False),
        )


# --- the configuration -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ScaleButton:
    """One button of the office's scale: what the kiosk's button of that name means."""

    name: str  # the kiosk's button of that name (pins and colours stay the kiosk's)
    label: str  # what the screen says of it
    level: Level  # the statutory level a press records

    def to_json(self) -> JsonObject:
        return {"name": self.name, "label": self.label, "level": self.level.value}

    @classmethod
    def from_json(cls, value: Any, where: str) -> ScaleButton:
        doc = f.child(value, where)
        return cls(
            name=f.text(doc.get("name"), f"{where}.name", limit=NAME_LIMIT),
            label=f.text(doc.get("label"), f"{where}.label", limit=NAME_LIMIT, required=False),
            level=f.choice(doc.get("level"), f"{where}.level", Level),
        )


@dataclass(frozen=True, slots=True)
class RosterClerk:
    """An active clerk of the office: ``id`` is what VOTE records name."""

    id: str  # what VOTE records name
    name: str
    title: str  # empty when the office gave none
    survey_url: str | None  # the clerk's phone-survey page (docs/phone-survey.md)

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "name": self.name,
            "title": self.title,
            "survey_url": self.survey_url,
        }

    @classmethod
    def from_json(cls, value: Any, where: str) -> RosterClerk:
        doc = f.child(value, where)
        return cls(
            id=f.text(doc.get("id"), f"{where}.id", limit=NAME_LIMIT),
            name=f.text(doc.get("name"), f"{where}.name", limit=NAME_LIMIT, required=False),
            title=f.text(doc.get("title"), f"{where}.title", limit=NAME_LIMIT, required=False),
            survey_url=f.optional_text(
                doc.get("survey_url"), f"{where}.survey_url", limit=URL_LIMIT
            ),
        )


@dataclass(frozen=True, slots=True)
class OfficeResults:
    """The office totals of its most recently opened box (public since the opening; never
    by clerk, counter or field), for the kiosk's results slip."""

    box: str  # "2026-10"
    opened_at: str  # ISO-8601 with its offset, as the minutes have it
    votes: int  # ballots of the minutes' main count
    by_level: Mapping[Level, int]  # every level, 0 included
    minutes_hash: str  # SHA-256 of the minutes' content, hex

    def to_json(self) -> JsonObject:
        return {
            "box": self.box,
            "opened_at": self.opened_at,
            "votes": self.votes,
            "by_level": {level.value: self.by_level[level] for level in Level},
            "minutes_hash": self.minutes_hash,
        }

    @classmethod
    def from_json(cls, value: Any, where: str = "results") -> OfficeResults:
        doc = f.child(value, where)
        by_level = f.child(doc.get("by_level"), f"{where}.by_level")
        return cls(
            box=f.month(doc.get("box"), f"{where}.box"),
            opened_at=f.aware_time(doc.get("opened_at"), f"{where}.opened_at"),
            votes=f.whole(doc.get("votes"), f"{where}.votes"),
            by_level={
                level: f.whole(by_level.get(level.value), f"{where}.by_level.{level.value}")
                for level in Level
            },
            minutes_hash=f.hex_digest(doc.get("minutes_hash"), f"{where}.minutes_hash"),
        )


MAX_SEAL_KEYS = 60  # a year ahead is 14; room for more, not for a flood


@dataclass(frozen=True, slots=True)
class SealKeyRef:
    """A public key the device seals opinions to: a box's (its month), or the province's
    escrow key (``box`` null). The fingerprint is the one printed on the zero report slip
    and in the minutes; a kiosk refuses a configuration where it is not the key's."""

    box: str | None  # "2026-12"; null: the province's escrow key
    public_key: bytes  # raw X25519 public key (32 bytes)
    fingerprint: str  # "1A2B-3C4D-5E6F-7A8B-9C0D", of public_key

    @classmethod
    def of(cls, box: str | None, key: BoxPublicKey) -> SealKeyRef:
        return cls(box, key.raw, key.fingerprint)

    @property
    def key(self) -> BoxPublicKey:
        return BoxPublicKey(self.public_key)

    def to_json(self) -> JsonObject:
        return {"box": self.box, "public_key": f.b64(self.public_key),
                "fingerprint": self.fingerprint}  # fmt: skip

    @classmethod
    def from_json(cls, value: Any, where: str, *, escrow: bool = False) -> SealKeyRef:
        doc = f.child(value, where)
        box = doc.get("box")
        if escrow and box is not None:
            raise ProtocolError(_("{name} must be null").format(name=f"{where}.box"))
        raw = f.base64_bytes(doc.get("public_key"), f"{where}.public_key", size=PUBLIC_BYTES)
        printed = f.text(doc.get("fingerprint"), f"{where}.fingerprint", limit=NAME_LIMIT)
        if printed != fingerprint(raw):
            raise ProtocolError(
                _("{name} is not the fingerprint of its key").format(name=f"{where}.fingerprint")
            )
        return cls(None if escrow else f.month(box, f"{where}.box"), raw, printed)


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """What a kiosk shows and records, signed by the server (``GET /api/v1/config``):
    office, counter, scale, roster, the latest opened box's results, the keys its boxes
    are sealed to, and a ``version`` (SHA-256 of the canonical bytes of the rest) that
    changes whenever any of it does."""

    device_id: str  # the device it is for: the kiosk checks it
    office: OfficeRef
    counter: str | None  # null: the device has no counter
    buttons: tuple[ScaleButton, ...]  # the office's scale
    clerks: tuple[RosterClerk, ...]  # the office's active clerks, by id
    results: OfficeResults | None  # null until the office's first opening
    version: str  # SHA-256 (hex) of the canonical bytes of the rest
    seal_keys: tuple[SealKeyRef, ...] = ()  # each box's key, last month to a year ahead
    escrow_key: SealKeyRef | None = None  # the province's: for a box without a key

    def keyring(self) -> KeyRing:
        """The keys the device seals to: each box's, else the escrow key's."""
        escrow = self.escrow_key
        return KeyRing({ref.box: ref.key for ref in self.seal_keys if ref.box},
                       escrow.key if escrow is not None else None)  # fmt: skip

    @classmethod
    def versioned(
        cls,
        *,
        device_id: str,
        office: OfficeRef,
        counter: str | None,
        buttons: tuple[ScaleButton, ...],
        clerks: tuple[RosterClerk, ...],
        results: OfficeResults | None,
        seal_keys: tuple[SealKeyRef, ...] = (),
        escrow_key: SealKeyRef | None = None,
    ) -> DeviceConfig:
        """The configuration with its version worked out (what the server does)."""
        config = cls(device_id, office, counter, buttons, clerks, results, "", seal_keys,
                     escrow_key)  # fmt: skip
        body = config.to_json()
        del body["version"]
        return replace(config, version=hashlib.sha256(canonical_bytes(body)).hexdigest())

    def to_json(self) -> JsonObject:
        """The keys only where there are any: an office without box keys sends, and signs,
        the configuration it always did (its version unchanged by an upgrade)."""
        doc: JsonObject = {
            "device_id": self.device_id,
            "office": self.office.to_json(),
            "counter": self.counter,
            "buttons": [button.to_json() for button in self.buttons],
            "clerks": [clerk.to_json() for clerk in self.clerks],
            "results": None if self.results is None else self.results.to_json(),
            "version": self.version,
        }
        if self.seal_keys or self.escrow_key is not None:
            doc["seal_keys"] = [ref.to_json() for ref in self.seal_keys]
            doc["escrow_key"] = None if self.escrow_key is None else self.escrow_key.to_json()
        return doc

    @classmethod
    def from_json(cls, value: Any, where: str = "config") -> DeviceConfig:
        """Strict, but for ``results``: a ``results`` that is not well formed is ignored
        (``None``: a slip is printed from whole, checked data or not at all), and one
        missing (a configuration kept before servers sent results) is ``None`` too. So are
        missing ``seal_keys`` and ``escrow_key`` (an older server's: no keys); present, they
        are strict (a fingerprint that is not its key's refuses the configuration)."""
        doc = f.child(value, where)
        try:
            results = None if doc.get("results") is None else OfficeResults.from_json(
                doc.get("results"), f"{where}.results"
            )  # fmt: skip
        except ProtocolError:
            results = None
        buttons = f.items(doc.get("buttons"), f"{where}.buttons")
        clerks = f.items(doc.get("clerks"), f"{where}.clerks")
        return cls(
            device_id=f.text(doc.get("device_id"), f"{where}.device_id", limit=NAME_LIMIT),
            office=OfficeRef.from_json(doc.get("office"), f"{where}.office"),
            counter=f.optional_text(doc.get("counter"), f"{where}.counter", limit=NAME_LIMIT),
            buttons=tuple(
                ScaleButton.from_json(b, f"{where}.buttons[{n}]") for n, b in enumerate(buttons)
            ),
            clerks=tuple(
                RosterClerk.from_json(c, f"{where}.clerks[{n}]") for n, c in enumerate(clerks)
            ),
            results=results,
            version=f.text(doc.get("version"), f"{where}.version", limit=NAME_LIMIT),
            seal_keys=_seal_keys(doc.get("seal_keys"), f"{where}.seal_keys"),
            escrow_key=_escrow_key(doc.get("escrow_key"), f"{where}.escrow_key"),
        )


def _escrow_key(value: Any, where: str) -> SealKeyRef | None:
    return None if value is None else SealKeyRef.from_json(value, where, escrow=True)


def _seal_keys(value: Any, where: str) -> tuple[SealKeyRef, ...]:
    if value is None:  # an older server's configuration: no keys
        return ()
    listed = f.items(value, where)
    if len(listed) > MAX_SEAL_KEYS:
        raise ProtocolError(
            _("{name} may list at most {limit} keys").format(name=where, limit=MAX_SEAL_KEYS)
        )
    refs = tuple(SealKeyRef.from_json(v, f"{where}[{n}]") for n, v in enumerate(listed))
    if len({ref.box for ref in refs}) != len(refs):
        raise ProtocolError(_("{name} lists a box twice").format(name=where))
    return refs


@dataclass(frozen=True, slots=True)
class ConfigAnswer:
    """``GET /api/v1/config``: the configuration and the server's signature of it."""

    config: DeviceConfig  # what the server signs
    sig: str  # base64 signature of the canonical bytes of config, by the server key

    def to_json(self) -> JsonObject:
        return {"config": self.config.to_json(), "sig": self.sig}

    @classmethod
    def from_json(cls, value: Any) -> ConfigAnswer:
        doc = f.document(value)
        return cls(DeviceConfig.from_json(doc.get("config")), f.signature_text(doc, "sig"))
