"""reports: the opened results as frozen cells, read tokens, a clerk's own account

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "result_cells",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opening_id", sa.Integer(), sa.ForeignKey("openings.id"), nullable=False),
        sa.Column("office_id", sa.Integer(), sa.ForeignKey("offices.id"), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("units.id"), nullable=False),
        sa.Column("box", sa.String(length=7), nullable=False),
        sa.Column("supplement", sa.Boolean(), nullable=False),
        sa.Column("clerk_code", sa.String(length=40), nullable=False),
        sa.Column("clerk_id", sa.Integer(), sa.ForeignKey("clerks.id"), nullable=True),
        sa.Column("clerk_name", sa.String(length=200), nullable=False),
        sa.Column("counter_id", sa.Integer(), sa.ForeignKey("counters.id"), nullable=True),
        sa.Column("counter_name", sa.String(length=200), nullable=False),
        sa.Column("field_name", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("very_satisfied", sa.Integer(), nullable=False),
        sa.Column("satisfied", sa.Integer(), nullable=False),
        sa.Column("not_satisfied", sa.Integer(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_result_cells_opening_id", "result_cells", ["opening_id"])
    op.create_index("ix_result_cells_unit_box", "result_cells", ["unit_id", "box"])
    op.create_index("ix_result_cells_office_box", "result_cells", ["office_id", "box"])
    op.create_index("ix_result_cells_clerk_box", "result_cells", ["clerk_id", "box"])
    _refuse("result_cells", "UPDATE", "DELETE")
    op.create_table(
        "read_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("units.id"), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_read_tokens_unit_id", "read_tokens", ["unit_id"])
    with op.batch_alter_table("clerks") as batch:
        batch.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_clerks_user_id_users", "users", ["user_id"], ["id"])
        batch.create_unique_constraint("uq_clerks_user_id", ["user_id"])
    # Boxes opened before: their cells, recounted from what they counted (web.result_cells).
    from web.result_cells import backfill

    session = Session(bind=op.get_bind())
    backfill(session)
    session.flush()


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
    with op.batch_alter_table("clerks") as batch:
        batch.drop_constraint("uq_clerks_user_id", type_="unique")
        batch.drop_constraint("fk_clerks_user_id_users", type_="foreignkey")
        batch.drop_column("user_id")
    op.drop_table("read_tokens")
    op.drop_table("result_cells")
