"""The admin server's data: the unit tree, offices and their people, devices, the records
they send, and the sealed boxes those records land in.

SQLAlchemy 2.0 declarative models, the same on SQLite and PostgreSQL; the schema is
created and changed only by the Alembic migrations in ``web/migrations``. Nothing here
stores a count: a box's figures are always recomputed from its records (a device's stored
verifier state holds its open box's running tally only to check that device's next CLOSE;
no page or count reads it).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, synonym

from web import clock


class Base(DeclarativeBase):
    type_annotation_map: ClassVar = {datetime: DateTime(timezone=True)}


class Role:
    """What an account may do (a committee member also has a committee role per office)."""

    ADMIN = "admin"
    TECHNICIAN = "technician"
    COMMITTEE = "committee"
    CLERK = "clerk"
    VIEWER = "viewer"
    ALL = (ADMIN, TECHNICIAN, COMMITTEE, CLERK, VIEWER)


class CommitteeRole:
    UBND_LEADER = "ubnd_leader"  # lãnh đạo UBND (chủ tịch)
    UBND_DEPUTY = "ubnd_deputy"  # phó chủ tịch UBND
    MTTQ_CHAIR = "mttq_chair"  # chủ tịch Ủy ban MTTQ
    UNION_REP = "union_rep"  # đại diện công đoàn
    ONE_STOP_CLERK = "one_stop_clerk"  # công chức bộ phận một cửa
    SECRETARY = "secretary"  # thư ký
    ALL = (UBND_LEADER, UBND_DEPUTY, MTTQ_CHAIR, UNION_REP, ONE_STOP_CLERK, SECRETARY)
    # An opening needs one of these among its confirmations: the People's Committee leads.
    PRESIDING = (UBND_LEADER, UBND_DEPUTY)


class Unit(Base):
    """A node of the administrative tree: province, commune, ward… (depth is data)."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))  # "tỉnh", "xã", "phường", …
    # Its weekend days (Monday 0) for the offices under it; None: the unit above's
    # (web.unit_calendar).
    weekend: Mapped[list | None] = mapped_column(JSON)
    parent: Mapped[Unit | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Unit]] = relationship(back_populates="parent")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # None: whole tree
    language: Mapped[str] = mapped_column(String(5), default="vi")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Migration 0016 (web.alert_mail): where alerts are mailed, and the user's own choice.
    email: Mapped[str | None] = mapped_column(String(254))
    alert_mail: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    unit: Mapped[Unit | None] = relationship()


class AuditEntry(Base):
    """Append-only log of administrative actions (no UPDATE or DELETE in the code)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    address: Mapped[str] = mapped_column(String(64), default="")
    # The office or unit whose settings the action changed (web.month_changes lists them).
    office_id: Mapped[int | None] = mapped_column(Integer, index=True)
    unit_id: Mapped[int | None] = mapped_column(Integer, index=True)


class ProcedureField(Base):
    """Lĩnh vực thủ tục hành chính."""

    __tablename__ = "procedure_fields"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Office(Base):
    """Bộ phận một cửa of a unit: where the counters, clerks and kiosks are."""

    __tablename__ = "offices"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # How many committee members must confirm an opening (k of the committee's n).
    quorum: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    # The phone survey's detailed criteria (their labels); None: the default set.
    survey_criteria: Mapped[list | None] = mapped_column(JSON)
    unit: Mapped[Unit] = relationship()
    counters: Mapped[list[Counter]] = relationship(back_populates="office")
    clerks: Mapped[list[Clerk]] = relationship(back_populates="office")
    scale: Mapped[list[ScaleButton]] = relationship(
        back_populates="office", order_by="ScaleButton.position"
    )


class ScaleButton(Base):
    """One button of an office's rating scale, mapped to the statutory three levels."""

    __tablename__ = "scale_buttons"
    __table_args__ = (UniqueConstraint("office_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(40))
    label: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    office: Mapped[Office] = relationship(back_populates="scale")


class Counter(Base):
    __tablename__ = "counters"
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # Retired: no longer offered for new devices and clerks (past ballots still name it);
    # NULL while in service. (Migration 0013.)
    # deferred: the data migration 0010 loads counters through this model before 0013
    # has added the column (an upgrade from before 0010 would fail reading it)
    retired_at: Mapped[datetime | None] = mapped_column(deferred=True)
    office: Mapped[Office] = relationship(back_populates="counters")


class Clerk(Base):
    __tablename__ = "clerks"
    __table_args__ = (UniqueConstraint("office_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))  # the id kiosks put in VOTE records
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200), default="")
    field_id: Mapped[int | None] = mapped_column(ForeignKey("procedure_fields.id"))
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"))
    contact: Mapped[str] = mapped_column(String(200), default="")
    photo: Mapped[bytes | None] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The clerk's own account, which may read the clerk's opened results (and nothing else).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    office: Mapped[Office] = relationship(back_populates="clerks")


class CommitteeMember(Base):
    __tablename__ = "committee_members"
    __table_args__ = (UniqueConstraint("office_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    committee_role: Mapped[str] = mapped_column(String(30))
    user: Mapped[User] = relationship()


class Device(Base):
    """A kiosk, known by its Ed25519 public key once it has enrolled."""

    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    counter_id: Mapped[int | None] = mapped_column(ForeignKey("counters.id"))
    label: Mapped[str] = mapped_column(String(200), default="")
    # "kiosk", or "survey": the server's own ledger of the office's phone answers
    kind: Mapped[str] = mapped_column(String(10), default="kiosk", server_default="kiosk")
    device_id: Mapped[str | None] = mapped_column(String(40), unique=True)  # hp-…
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # active, revoked
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    enrolled_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_seen_at: Mapped[datetime | None] = mapped_column()
    head_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # contiguous records held
    head_hash: Mapped[str] = mapped_column(String(64), default="0" * 64)
    # The verifier's state at that head (``LedgerState.to_json``), written with every head
    # move; trusted only when it parses and names the same head (else replayed: see
    # ``web.device_state``). NULL for heads written before migration 0005.
    verifier_state: Mapped[str | None] = mapped_column(Text)
    health: Mapped[dict] = mapped_column(JSON, default=dict)
    office: Mapped[Office] = relationship()
    counter: Mapped[Counter | None] = relationship()


class Enrollment(Base):
    """A one-time code a technician gives a kiosk to provision it. Only its hash is kept."""

    __tablename__ = "enrollments"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    device: Mapped[Device] = relationship()


class LedgerRecord(Base):
    """A device's signed record, exactly as it was signed. (device, seq) is unique."""

    __tablename__ = "ledger_records"
    __table_args__ = (UniqueConstraint("device_pk", "seq"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(10))
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    box: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM of the device's box
    wall_ms: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sig: Mapped[bytes] = mapped_column(LargeBinary)
    hash: Mapped[str] = mapped_column(String(64), index=True)
    receipt: Mapped[str | None] = mapped_column(String(11), index=True)
    received_at: Mapped[datetime] = mapped_column(default=clock.now)


class Evidence(Base):
    """A record refused because the server already holds a different one for its seq:
    the mark of a cloned or rolled-back device. Kept whole, for investigation."""

    __tablename__ = "evidence"
    id: Mapped[int] = mapped_column(primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sig: Mapped[bytes] = mapped_column(LargeBinary)
    reason: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=clock.now)


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    office_id: Mapped[int | None] = mapped_column(ForeignKey("offices.id"))
    device_pk: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    message: Mapped[str] = mapped_column(Text)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Migration 0015 (web.alerts): words are rendered from kind + params at display time.
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    severity: Mapped[str] = mapped_column(String(10), default="warning")
    box: Mapped[str | None] = mapped_column(String(7))
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)  # NULL once resolved
    last_seen_at: Mapped[datetime | None] = mapped_column()
    seen_count: Mapped[int] = mapped_column(Integer, default=1)
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_note: Mapped[str] = mapped_column(Text, default="")
    raised_at: Mapped[datetime] = synonym("at")


class Opening(Base):
    """The opening ceremony of an office's box of a month: started by the secretary,
    confirmed by a quorum, then opened: counted, minuted and frozen.

    Once ``status`` is ``opened`` the database refuses any change to the row, so the
    minutes (canonical JSON) and their hash stay exactly as the committee signed them.
    """

    __tablename__ = "openings"
    __table_args__ = (UniqueConstraint("office_id", "box"),)
    STARTED, OPENED = "started", "opened"
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    box: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    status: Mapped[str] = mapped_column(String(10), default=STARTED)
    started_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=clock.now)
    early_reason: Mapped[str] = mapped_column(Text, default="")
    dossiers_returned: Mapped[int | None] = mapped_column(Integer)
    opened_at: Mapped[datetime | None] = mapped_column()
    opened_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    warnings_reason: Mapped[str] = mapped_column(Text, default="")
    minutes: Mapped[bytes | None] = mapped_column(LargeBinary)  # canonical JSON
    minutes_hash: Mapped[str | None] = mapped_column(String(64))
    office: Mapped[Office] = relationship()
    confirmations: Mapped[list[Confirmation]] = relationship(
        back_populates="opening", order_by="Confirmation.id"
    )


class Confirmation(Base):
    """A committee member's confirmation of an opening, with their own credentials.
    Append-only."""

    __tablename__ = "opening_confirmations"
    __table_args__ = (UniqueConstraint("opening_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    opening_id: Mapped[int] = mapped_column(ForeignKey("openings.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    committee_role: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    opening: Mapped[Opening] = relationship(back_populates="confirmations")
    user: Mapped[User] = relationship()


class CountedRange(Base):
    """Which records of a device's box an opening counted: seqs up to ``through_seq``.
    Records of the box beyond it arrived late (or after a fault) and are counted by a
    later opening's supplement. Append-only."""

    __tablename__ = "counted_ranges"
    id: Mapped[int] = mapped_column(primary_key=True)
    opening_id: Mapped[int] = mapped_column(ForeignKey("openings.id"), index=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    box: Mapped[str] = mapped_column(String(7))
    through_seq: Mapped[int] = mapped_column(BigInteger)
    votes: Mapped[int] = mapped_column(Integer)


class Holiday(Base):
    """A public holiday (ngày nghỉ lễ): not a working day when a box's opening is due, for
    the offices under its unit (None: national, every office; web.unit_calendar)."""

    __tablename__ = "holidays"
    __table_args__ = (
        UniqueConstraint("unit_id", "day", name="uq_holidays_unit_id_day"),
        Index("uq_holidays_national_day", "day", unique=True,
              sqlite_where=text("unit_id IS NULL"), postgresql_where=text("unit_id IS NULL")),
    )  # fmt: skip
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200))


class Setting(Base):
    """A server-wide setting that administrators change on a page (e.g. the weekend days)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON)


class SurveyTicket(Base):
    """A printed ticket whose QR has been used for its one detailed phone answer."""

    __tablename__ = "survey_tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    receipt: Mapped[str] = mapped_column(String(11), unique=True)
    used_at: Mapped[datetime] = mapped_column(default=clock.now)


class SurveyAttempt(Base):
    """A phone answer sent from an address, kept only for rate limiting (the address is
    stored as a keyed hash, and rows older than the window are deleted)."""

    __tablename__ = "survey_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(default=clock.now, index=True)


class EnrollFailure(Base):
    """A wrong enrollment code sent from an address, kept only for the enrollment throttle
    (the address as a keyed hash; rows older than the window are deleted)."""

    __tablename__ = "enroll_failures"
    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(default=clock.now, index=True)


# Tables kept in modules of their own, registered on Base.metadata with these (the
# migrations and their test compare the whole of it).
from web import (  # noqa: E402, F401
    models_accounts,
    models_alert_mail,
    models_checkpoints,
    models_committee,
    models_enroll,
    models_fleet,
    models_forks,
    models_results,
    models_seal,
    models_survey,
)
