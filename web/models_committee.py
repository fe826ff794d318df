"""The committee's own records: each member's confirmation code, and every change made to
an office's committee (who is on it, in which role, the quorum, password resets, codes set
before the committee).

A confirmation code is what only the member holds: chosen by the member on the secretary's
ceremony screen, stored as a hash, never shown and never settable by an administrator
(``web.committee_codes``). The changes are append-only (the database refuses UPDATE and
DELETE); the checklist and the minutes list those of the box's month
(``web.committee_changes``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from web import clock
from web.models import Base, User


class CodeOrigin(StrEnum):
    """How a code came to be set before the committee."""

    FOUNDING = "founding"  # the office's first codes: at its first ceremony with codes
    PREVIOUS_CODE = "previous_code"  # the member typed their previous code
    COUNTERSIGNED = "countersigned"  # the quorum met; a member who confirmed countersigned


class ChangeKind(StrEnum):
    """What changed (named as the audit log names the action)."""

    MEMBER_ADDED = "committee_member_added"
    MEMBER_REMOVED = "committee_member_removed"
    ROLE_CHANGED = "committee_role_changed"
    QUORUM_CHANGED = "committee_quorum_changed"
    PASSWORD_RESET = "password_reset"  # by an administrator: the member's code is suspended
    CODE_SET = "confirmation_code_set"  # a member set a code before the committee


class ConfirmationCode(Base):
    """A member's confirmation code for one office's committee (hash only).

    ``valid`` is False once the code is suspended (an administrator reset the account's
    password, or the member was removed from the committee): the member cannot confirm
    until they set a new code before the committee. The old hash stays, so that the member
    (and only the member) can prove it then.
    """

    __tablename__ = "confirmation_codes"
    __table_args__ = (UniqueConstraint("office_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(300))
    valid: Mapped[bool] = mapped_column(Boolean, default=True)
    set_at: Mapped[datetime] = mapped_column(default=clock.now)
    origin: Mapped[str] = mapped_column(String(20))  # CodeOrigin


class CommitteeChange(Base):
    """One change to an office's committee. Append-only."""

    __tablename__ = "committee_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    kind: Mapped[str] = mapped_column(String(40))  # ChangeKind
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # who made it
    member_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # whom it is about
    committee_role: Mapped[str | None] = mapped_column(String(30))  # the member's role
    # role_changed: the roles; quorum_changed: the numbers; code_set: its CodeOrigin (after)
    before: Mapped[str] = mapped_column(String(30), default="")
    after: Mapped[str] = mapped_column(String(30), default="")
    opening_id: Mapped[int | None] = mapped_column(ForeignKey("openings.id"))  # code_set
    countersigned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    by: Mapped[User | None] = relationship(foreign_keys=[by_id])
    member: Mapped[User | None] = relationship(foreign_keys=[member_id])
    countersigner: Mapped[User | None] = relationship(foreign_keys=[countersigned_by])
