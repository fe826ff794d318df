"""the committee: members' confirmation codes and the append-only log of committee changes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "confirmation_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), sa.ForeignKey("offices.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("code_hash", sa.String(length=300), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("office_id", "user_id"),
    )
    op.create_index("ix_confirmation_codes_office_id", "confirmation_codes", ["office_id"])
    op.create_index("ix_confirmation_codes_user_id", "confirmation_codes", ["user_id"])
    op.create_table(
        "committee_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), sa.ForeignKey("offices.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("by_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("committee_role", sa.String(length=30), nullable=True),
        sa.Column("before", sa.String(length=30), nullable=False),
        sa.Column("after", sa.String(length=30), nullable=False),
        sa.Column("opening_id", sa.Integer(), sa.ForeignKey("openings.id"), nullable=True),
        sa.Column("countersigned_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_committee_changes_office_id", "committee_changes", ["office_id"])
    op.create_index("ix_committee_changes_at", "committee_changes", ["at"])
    _refuse("committee_changes", "UPDATE", "DELETE")
    # A code is replaced or suspended, never deleted: an office that once had codes keeps
    # the proof of it (its first codes can be set without a countersignature only once).
    _refuse("confirmation_codes", "DELETE")


def _refuse(table: str, *actions: str) -> None:
    """Triggers refusing ``actions`` on ``table`` (the function ``hom_phieu_append_only``
    on PostgreSQL comes from revision 0001)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for action in actions:
        name = f"{table}_no_{action.lower()}"
        if postgres:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {action} ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION hom_phieu_append_only()"
            )
        else:
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table}: {action} refused'); END"
            )


def downgrade() -> None:
    op.drop_table("committee_changes")
    op.drop_table("confirmation_codes")
