"""phone survey: criteria per office, used ticket tokens, rate-limit attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("offices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("survey_criteria", sa.JSON(), nullable=True))
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=10), server_default="kiosk", nullable=False)
        )
    op.create_table(
        "survey_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.String(length=11), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("receipt"),
    )
    op.create_table(
        "survey_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_survey_attempts_address", "survey_attempts", ["address"])
    op.create_index("ix_survey_attempts_at", "survey_attempts", ["at"])


def downgrade() -> None:
    op.drop_table("survey_attempts")
    op.drop_table("survey_tickets")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("offices", schema=None) as batch_op:
        batch_op.drop_column("survey_criteria")
