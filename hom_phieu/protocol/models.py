"""The documents of the device API (``docs/sync-protocol.md``) as typed, frozen values.

Each model has one ``to_json()`` (the JSON object as it travels, key for key what the
server has always sent: kiosks in the field and signatures over canonical JSON depend on
it) and one ``from_json()``, which checks every field's type and value and raises
:class:`~hom_phieu.protocol.fields.ProtocolError` naming the first wrong one. Fields the
model does not know are ignored, as the protocol has always ignored them (a later
server may add some; the signatures cover the bytes as received, see ``signing.py``).

The server builds the models from its database and sends ``to_json()``; the kiosk reads
the server's answers with ``from_json()``, and the server the kiosk's requests. The
configuration and its parts live in :mod:`hom_phieu.protocol.configuration`; this module
has the rest and is where both sides import every model from.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hom_phieu.i18n import _
from hom_phieu.ledger.records import TimeQuality
from hom_phieu.protocol import fields as f
from hom_phieu.protocol.configuration import (
    ConfigAnswer,
    DeviceConfig,
    OfficeRef,
    OfficeResults,
    RosterClerk,
    ScaleButton,
    SealKeyRef,
)
from hom_phieu.protocol.fields import (
    NAME_LIMIT,
    URL_LIMIT,
    JsonObject,
    TooManyRecords,
)

__all__ = [
    "Ack",
    "ConfigAnswer",
    "DeviceConfig",
    "EnrollAnswer",
    "EnrollRequest",
    "ErrorAnswer",
    "ErrorCode",
    "HealthAnswer",
    "HealthReport",
    "JsonObject",
    "OfficeRef",
    "OfficeResults",
    "PushAnswer",
    "PushRecord",
    "PushRequest",
    "RosterClerk",
    "ScaleButton",
    "SealKeyRef",
]

NONCE_LIMIT = 200
HEALTH_TEXT_LIMIT = 300  # any one text field of a health report
ENROLL_TEXT_LIMIT = 40  # the code and the software version of an enrollment


class ErrorCode(StrEnum):
    """The ``error`` of an error answer (the table in docs/sync-protocol.md). A kiosk
    also meets codes from elsewhere (a proxy's ``502``): :class:`ErrorAnswer` keeps text."""

    MALFORMED = "malformed"
    BAD_CODE = "bad-code"
    UNAUTHENTICATED = "unauthenticated"
    UNKNOWN_DEVICE = "unknown-device"
    BAD_SIGNATURE = "bad-signature"
    REVOKED = "revoked"
    NOT_ACTIVE = "not-active"
    NOT_FOUND = "not-found"
    METHOD_NOT_ALLOWED = "method-not-allowed"
    GAP = "gap"
    EQUIVOCATION = "equivocation"
    KEY_IN_USE = "key-in-use"
    CODE_USED = "code-used"
    CODE_EXPIRED = "code-expired"
    DEVICE_NOT_PENDING = "device-not-pending"
    TOO_LARGE = "too-large"
    TOO_MANY_RECORDS = "too-many-records"
    RECORD_REFUSED = "record-refused"
    THROTTLED = "throttled"
    BUSY = "busy"
    UNAVAILABLE = "unavailable"


# --- errors ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ErrorAnswer:
    """Every refusal: a stable code, words for people, and the details some codes carry."""

    error: str  # stable (scripts may test it): the table of error codes above
    message: str  # words for people, in the language asked for
    resume_from: int | None = None  # gap: the first record to send again (else absent)
    seq: int | None = None  # equivocation, record-refused: the record named (else absent)
    fault: str | None = None  # record-refused: how it is wrong (else absent)

    def to_json(self) -> JsonObject:
        answer: JsonObject = {"error": self.error, "message": self.message}
        details = {"resume_from": self.resume_from, "seq": self.seq, "fault": self.fault}
        answer.update({name: value for name, value in details.items() if value is not None})
        return answer

    @classmethod
    def from_json(cls, value: Any) -> ErrorAnswer:
        doc = f.document(value)
        return cls(
            error=f.text(doc.get("error"), "error", limit=NAME_LIMIT),
            message=f.text(doc.get("message"), "message", limit=URL_LIMIT, required=False),
            resume_from=f.optional_whole(doc.get("resume_from"), "resume_from", minimum=1),
            seq=f.optional_whole(doc.get("seq"), "seq", minimum=1),
            fault=f.optional_text(doc.get("fault"), "fault", limit=NAME_LIMIT),
        )


# --- enrollment --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class EnrollRequest:
    """``POST /api/v1/enroll``: the technician's one-time code and the key to enroll."""

    code: str  # the one-time code; case, spaces and hyphens do not matter
    public_key: bytes  # raw Ed25519, 32 bytes
    software: str | None = None  # the kiosk's software version

    def to_json(self) -> JsonObject:
        return {"code": self.code, "public_key": f.b64(self.public_key), "software": self.software}

    @classmethod
    def from_json(cls, value: Any) -> EnrollRequest:
        doc = f.document(value)
        return cls(
            code=f.text(doc.get("code"), "code", limit=ENROLL_TEXT_LIMIT),
            public_key=f.base64_bytes(doc.get("public_key"), "public_key", size=32),
            software=f.optional_text(doc.get("software"), "software", limit=ENROLL_TEXT_LIMIT),
        )


@dataclass(frozen=True, slots=True)
class EnrollAnswer:
    """The answer to an enrollment: the kiosk's identity and the server key to pin."""

    device_id: str  # the key's fingerprint: the device's id from now on
    office: OfficeRef
    counter: str | None  # null: the device has no counter
    server_public_key: bytes  # raw Ed25519, 32 bytes
    config: DeviceConfig  # as GET /api/v1/config answers it
    config_sig: str  # base64 signature of the canonical bytes of config, by the server key

    def to_json(self) -> JsonObject:
        return {
            "device_id": self.device_id,
            "office": self.office.to_json(),
            "counter": self.counter,
            "server_public_key": f.b64(self.server_public_key),
            "config": self.config.to_json(),
            "config_sig": self.config_sig,
        }

    @classmethod
    def from_json(cls, value: Any) -> EnrollAnswer:
        doc = f.document(value)
        return cls(
            device_id=f.text(doc.get("device_id"), "device_id", limit=NAME_LIMIT),
            office=OfficeRef.from_json(doc.get("office")),
            counter=f.optional_text(doc.get("counter"), "counter", limit=NAME_LIMIT),
            server_public_key=f.base64_bytes(
                doc.get("server_public_key"), "server_public_key", size=32
            ),
            config=DeviceConfig.from_json(doc.get("config")),
            config_sig=f.signature_text(doc, "config_sig"),
        )


# --- records -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PushRecord:
    """One ledger record as it travels: its seq, its bytes, the device's signature."""

    seq: int  # the record's own seq, from 1
    data: bytes  # the record's canonical bytes
    sig: bytes  # the device key's Ed25519 signature of data

    def to_json(self) -> JsonObject:
        return {"seq": self.seq, "data": f.b64(self.data), "sig": f.b64(self.sig)}

    @classmethod
    def from_json(cls, value: Any, where: str) -> PushRecord:
        doc = f.child(value, where)
        return cls(
            seq=f.whole(doc.get("seq"), f"{where}.seq", minimum=1),
            data=f.base64_bytes(doc.get("data"), f"{where}.data"),
            sig=f.base64_bytes(doc.get("sig"), f"{where}.sig"),
        )


@dataclass(frozen=True, slots=True)
class PushRequest:
    """``POST /api/v1/records``: consecutive records and a nonce the ack must echo."""

    nonce: str  # any text of 1 to 200 characters: the ack echoes it
    records: tuple[PushRecord, ...]  # consecutive, ascending; at most 500

    def to_json(self) -> JsonObject:
        return {"nonce": self.nonce, "records": [record.to_json() for record in self.records]}

    @classmethod
    def from_json(cls, value: Any, *, max_records: int | None = None) -> PushRequest:
        """``max_records``: more is :class:`TooManyRecords`, checked before the records."""
        doc = f.document(value)
        nonce = f.text(doc.get("nonce"), "nonce", limit=NONCE_LIMIT)
        records = f.items(doc.get("records"), "records")
        if max_records is not None and len(records) > max_records:
            raise TooManyRecords(_("at most {limit} records per push").format(limit=max_records))
        return cls(
            nonce, tuple(PushRecord.from_json(r, f"records[{n}]") for n, r in enumerate(records))
        )


@dataclass(frozen=True, slots=True)
class Ack:
    """What the server signs for a push: it holds the device's records up to ``head_seq``
    (whose hash is ``head_hash``), its clock read ``server_time_ms``, for push ``nonce``."""

    device_id: str  # the device that pushed
    head_seq: int  # the batch's last record (the server's head for an empty batch)
    head_hash: str  # SHA-256 (hex) of that record's bytes
    server_time_ms: int  # the server's clock when it answered (a time anchor)
    nonce: str  # the push's

    def to_json(self) -> JsonObject:
        return {
            "device_id": self.device_id,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "server_time_ms": self.server_time_ms,
            "nonce": self.nonce,
        }

    @classmethod
    def from_json(cls, value: Any, where: str = "ack") -> Ack:
        doc = f.child(value, where)
        return cls(
            device_id=f.text(doc.get("device_id"), f"{where}.device_id", limit=NAME_LIMIT),
            head_seq=f.whole(doc.get("head_seq"), f"{where}.head_seq"),
            head_hash=f.hex_digest(doc.get("head_hash"), f"{where}.head_hash"),
            server_time_ms=f.whole(doc.get("server_time_ms"), f"{where}.server_time_ms"),
            nonce=f.text(doc.get("nonce"), f"{where}.nonce", limit=NONCE_LIMIT),
        )


@dataclass(frozen=True, slots=True)
class PushAnswer:
    """The answer to a push: counts of this push, the signed ack, the config's version."""

    stored: int  # new records stored by this push
    duplicates: int  # records of the push the server already held, identical
    head_seq: int  # the server's contiguous head for the device
    ack: Ack  # what the server vouches for
    ack_sig: str  # base64 signature of the canonical bytes of ack, by the server key
    config_version: str  # lets the kiosk notice a changed configuration

    def to_json(self) -> JsonObject:
        return {
            "stored": self.stored,
            "duplicates": self.duplicates,
            "head_seq": self.head_seq,
            "ack": self.ack.to_json(),
            "ack_sig": self.ack_sig,
            "config_version": self.config_version,
        }

    @classmethod
    def from_json(cls, value: Any) -> PushAnswer:
        doc = f.document(value)
        return cls(
            stored=f.whole(doc.get("stored"), "stored"),
            duplicates=f.whole(doc.get("duplicates"), "duplicates"),
            head_seq=f.whole(doc.get("head_seq"), "head_seq"),
            ack=Ack.from_json(doc.get("ack")),
            ack_sig=f.signature_text(doc, "ack_sig"),
            config_version=f.text(doc.get("config_version"), "config_version", limit=NAME_LIMIT),
        )


# --- health ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class HealthReport:
    """``POST /api/v1/health``: every field optional (``None``: unknown, or all is well)."""

    unsynced: int | None = None  # records not yet acknowledged
    time_quality: TimeQuality | None = None  # of the kiosk's clock (ledger-format.md)
    printer: str | None = None  # what is wrong with it, for staff (null: all is well)
    screen: str | None = None  # what is wrong with it, for staff (null: all is well)
    software: str | None = None  # the kiosk's software version
    out_of_service: str | None = None  # why the kiosk takes no votes (null: it does)
    disk_free: int | None = None  # bytes free on the disk of the kiosk's state folder
    disk_total: int | None = None  # that disk's size in bytes
    refused: int | None = None  # records the server refuses to hold (null or 0: none)
    refused_since_ms: int | None = None  # kiosk wall time of the first refusal in a row
    refused_error: str | None = None  # the server's error code of that refusal
    clock_ms: int | None = None  # the kiosk's wall clock when it wrote the report

    def to_json(self) -> JsonObject:
        return {
            "unsynced": self.unsynced,
            "time_quality": None if self.time_quality is None else self.time_quality.value,
            "printer": self.printer,
            "screen": self.screen,
            "software": self.software,
            "out_of_service": self.out_of_service,
            "disk_free": self.disk_free,
            "disk_total": self.disk_total,
            "refused": self.refused,
            "refused_since_ms": self.refused_since_ms,
            "refused_error": self.refused_error,
            "clock_ms": self.clock_ms,
        }

    @classmethod
    def from_json(cls, value: Any) -> HealthReport:
        doc = f.document(value)

        def text(name: str) -> str | None:
            return f.optional_text(doc.get(name), name, limit=HEALTH_TEXT_LIMIT)

        return cls(
            unsynced=f.optional_whole(doc.get("unsynced"), "unsynced"),
            time_quality=f.optional_choice(doc.get("time_quality"), "time_quality", TimeQuality),
            printer=text("printer"),
            screen=text("screen"),
            software=text("software"),
            out_of_service=text("out_of_service"),
            disk_free=f.optional_whole(doc.get("disk_free"), "disk_free"),
            disk_total=f.optional_whole(doc.get("disk_total"), "disk_total"),
            refused=f.optional_whole(doc.get("refused"), "refused"),
            refused_since_ms=f.optional_whole(doc.get("refused_since_ms"), "refused_since_ms"),
            refused_error=f.optional_text(
                doc.get("refused_error"), "refused_error", limit=NAME_LIMIT
            ),
            clock_ms=f.optional_whole(doc.get("clock_ms"), "clock_ms"),
        )


@dataclass(frozen=True, slots=True)
class HealthAnswer:
    """The answer to a health report: the configuration's current version."""

    config_version: str  # the configuration's current version
    ok: bool = True  # always true

    def to_json(self) -> JsonObject:
        return {"config_version": self.config_version, "ok": self.ok}

    @classmethod
    def from_json(cls, value: Any) -> HealthAnswer:
        doc = f.document(value)
        return cls(
            config_version=f.text(doc.get("config_version"), "config_version", limit=NAME_LIMIT),
            ok=f.flag(doc.get("ok"), "ok"),
        )


MODELS: tuple[type, ...] = (
    EnrollRequest,
    EnrollAnswer,
    OfficeRef,
    PushRequest,
    PushRecord,
    PushAnswer,
    Ack,
    HealthReport,
    HealthAnswer,
    ConfigAnswer,
    DeviceConfig,
    ScaleButton,
    RosterClerk,
    OfficeResults,
    SealKeyRef,
    ErrorAnswer,
)
"""Every document of the protocol, in the order docs/sync-protocol.md lists them."""
