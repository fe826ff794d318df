"""device heartbeats kept as history; fleet thresholds (helper H1 fills it)

The thresholds are a row of ``settings`` (``fleet_thresholds``): no table of their own.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_heartbeats",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("device_pk", sa.Integer(), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("previous_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_device_heartbeats_device_at", "device_heartbeats", ["device_pk", "received_at"]
    )
    op.create_index("ix_device_heartbeats_received_at", "device_heartbeats", ["received_at"])


def downgrade() -> None:
    op.drop_table("device_heartbeats")
