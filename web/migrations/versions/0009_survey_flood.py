"""phone survey: a flood of refused answers is summed, as the kiosk sums refused presses

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "survey_flood_windows",
        sa.Column("office_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("logged", sa.Integer(), nullable=False),
        sa.Column("summed", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["office_id"], ["offices.id"]),
        sa.PrimaryKeyConstraint("office_id"),
    )


def downgrade() -> None:
    op.drop_table("survey_flood_windows")
