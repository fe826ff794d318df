"""enrollment codes made for many counters at once: enrollment_batches and their devices

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "enrollment_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), sa.ForeignKey("offices.id"), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_days", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reissued_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("reissued_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_enrollment_batches_office_id", "enrollment_batches", ["office_id"])
    op.create_table(
        "enrollment_batch_devices",
        sa.Column("device_pk", sa.Integer(), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("enrollment_batches.id"), nullable=False),
        sa.PrimaryKeyConstraint("device_pk"),
    )
    op.create_index(
        "ix_enrollment_batch_devices_batch_id", "enrollment_batch_devices", ["batch_id"]
    )


def downgrade() -> None:
    op.drop_table("enrollment_batch_devices")
    op.drop_table("enrollment_batches")
