"""chain checkpoints: where each device's verified chain stood after an opening

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opening_id", sa.Integer(), sa.ForeignKey("openings.id"), nullable=False),
        sa.Column("device_pk", sa.Integer(), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("opening_id", "device_pk"),
    )
    op.create_index("ix_chain_checkpoints_device_pk", "chain_checkpoints", ["device_pk"])
    _append_only("chain_checkpoints")


def _append_only(table: str) -> None:
    """The function ``hom_phieu_append_only`` on PostgreSQL comes from revision 0001."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION hom_phieu_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def downgrade() -> None:
    op.drop_table("chain_checkpoints")
