"""alerts that can be acknowledged and resolved (helper H2 fills it)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Alerts keep their kind's parameters (words rendered at display time), a severity,
    the box they name, a key unique while open (one open alert per kind and subject:
    raising it again updates ``last_seen_at``/``seen_count``), and who acknowledged and
    resolved them, when."""
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("params", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.add_column(
            sa.Column("severity", sa.String(length=10), nullable=False, server_default="warning")
        )
        batch_op.add_column(sa.Column("box", sa.String(length=7), nullable=True))
        batch_op.add_column(sa.Column("open_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("seen_count", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("resolved_note", sa.Text(), nullable=False, server_default="")
        )
        batch_op.create_unique_constraint("uq_alerts_open_key", ["open_key"])
        batch_op.create_index("ix_alerts_resolved_at", ["resolved_at"], unique=False)
        batch_op.create_foreign_key("fk_alerts_resolved_by_users", "users", ["resolved_by"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint("fk_alerts_resolved_by_users", type_="foreignkey")
        batch_op.drop_index("ix_alerts_resolved_at")
        batch_op.drop_constraint("uq_alerts_open_key", type_="unique")
        for column in (
            "resolved_note",
            "resolved_by",
            "resolved_at",
            "acknowledged_at",
            "seen_count",
            "last_seen_at",
            "open_key",
            "box",
            "severity",
            "params",
        ):
            batch_op.drop_column(column)
