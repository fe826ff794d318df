"""openings: the ceremony, its confirmations and what it counted; office quorum

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("offices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quorum", sa.Integer(), server_default="3", nullable=False))
    op.create_table(
        "openings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("office_id", sa.Integer(), sa.ForeignKey("offices.id"), nullable=False),
        sa.Column("box", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("started_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("early_reason", sa.Text(), nullable=False),
        sa.Column("dossiers_returned", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("warnings_reason", sa.Text(), nullable=False),
        sa.Column("minutes", sa.LargeBinary(), nullable=True),
        sa.Column("minutes_hash", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("office_id", "box"),
    )
    op.create_index("ix_openings_office_id", "openings", ["office_id"])
    op.create_table(
        "opening_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opening_id", sa.Integer(), sa.ForeignKey("openings.id"), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("committee_role", sa.String(length=30), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("opening_id", "user_id"),
    )
    op.create_index("ix_opening_confirmations_opening_id", "opening_confirmations", ["opening_id"])
    op.create_table(
        "counted_ranges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("opening_id", sa.Integer(), sa.ForeignKey("openings.id"), nullable=False),
        sa.Column("device_pk", sa.Integer(), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("box", sa.String(length=7), nullable=False),
        sa.Column("through_seq", sa.BigInteger(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_counted_ranges_opening_id", "counted_ranges", ["opening_id"])
    op.create_index("ix_counted_ranges_device_pk", "counted_ranges", ["device_pk"])
    op.create_table(
        "holidays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("day"),
    )
    _append_only("opening_confirmations", "counted_ranges")
    _frozen_once_opened()


def _append_only(*tables: str) -> None:
    """The function ``hom_phieu_append_only`` on PostgreSQL comes from revision 0001."""
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in tables:
        if postgres:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION hom_phieu_append_only()"
            )
            continue
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def _frozen_once_opened() -> None:
    """An opened box's row (its minutes and their hash) never changes; no opening is
    ever deleted, started or not."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION hom_phieu_opening_frozen() RETURNS trigger AS $$ BEGIN "
            "IF TG_OP = 'DELETE' OR OLD.status = 'opened' THEN "
            "RAISE EXCEPTION 'an opened box is frozen'; END IF; RETURN NEW; END $$ "
            "LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER openings_frozen BEFORE UPDATE OR DELETE ON openings "
            "FOR EACH ROW EXECUTE FUNCTION hom_phieu_opening_frozen()"
        )
        return
    op.execute(
        "CREATE TRIGGER openings_frozen BEFORE UPDATE ON openings WHEN OLD.status = 'opened' "
        "BEGIN SELECT RAISE(ABORT, 'an opened box is frozen'); END"
    )
    op.execute(
        "CREATE TRIGGER openings_no_delete BEFORE DELETE ON openings "
        "BEGIN SELECT RAISE(ABORT, 'an opened box is frozen'); END"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER openings_frozen ON openings")
        op.execute("DROP FUNCTION hom_phieu_opening_frozen()")
    op.drop_table("holidays")
    op.drop_table("counted_ranges")
    op.drop_table("opening_confirmations")
    op.drop_table("openings")
    with op.batch_alter_table("offices", schema=None) as batch_op:
        batch_op.drop_column("quorum")
