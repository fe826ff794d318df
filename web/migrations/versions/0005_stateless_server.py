"""stateless server: enrollment throttle in the database, verifier state beside the head

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verifier_state", sa.Text(), nullable=True))
    op.create_table(
        "enroll_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_enroll_failures_address", "enroll_failures", ["address"])
    op.create_index("ix_enroll_failures_at", "enroll_failures", ["at"])


def downgrade() -> None:
    op.drop_table("enroll_failures")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("verifier_state")
