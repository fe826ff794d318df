"""box keys: each box sealed to a key only its committee holds, split in shares

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "box_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("office_id", sa.Integer(), sa.ForeignKey("offices.id"), nullable=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("units.id"), nullable=True),
        sa.Column("box", sa.String(length=7), nullable=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", sa.String(length=24), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.Column("holders", sa.Integer(), nullable=False),
        sa.Column("escrow_key_id", sa.Integer(), sa.ForeignKey("box_keys.id"), nullable=True),
        sa.Column("escrow_wrap", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("published_master", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint"),
    )
    op.create_index("ix_box_keys_office_id", "box_keys", ["office_id"])
    op.create_index("ix_box_keys_unit_id", "box_keys", ["unit_id"])
    op.create_table(
        "key_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("box_key_id", sa.Integer(), sa.ForeignKey("box_keys.id"), nullable=False),
        sa.Column("member_index", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("holder_role", sa.String(length=30), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("read_back_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("box_key_id", "member_index"),
    )
    op.create_index("ix_key_shares_box_key_id", "key_shares", ["box_key_id"])
    # A key, once made, never changes; its master is published once; shares stay as dealt.
    _refuse("box_keys", "DELETE")
    _refuse("box_keys", "UPDATE OF purpose, office_id, unit_id, box, public_key, fingerprint, "
            "threshold, holders, escrow_key_id, escrow_wrap, created_at, created_by")  # fmt: skip
    _refuse("box_keys", "UPDATE OF published_master", when="OLD.published_master IS NOT NULL")
    _refuse("key_shares", "DELETE")
    _refuse("key_shares", "UPDATE OF box_key_id, member_index, user_id, holder_name, "
            "holder_role, digest")  # fmt: skip


def _refuse(table: str, action: str, when: str = "") -> None:
    """A trigger refusing ``action`` on ``table`` (``hom_phieu_append_only`` on PostgreSQL
    comes from revision 0001)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    words = action.split()
    name = f"{table}_no_{'_'.join(w.strip(',').lower() for w in words[:3])}"
    if when:
        name += "_again"
    if postgres:
        condition = f"WHEN ({when}) " if when else ""
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {action} ON {table} FOR EACH ROW "
            f"{condition}EXECUTE FUNCTION hom_phieu_append_only()"
        )
    else:
        condition = f"WHEN {when} " if when else ""
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {action} ON {table} FOR EACH ROW {condition}"
            f"BEGIN SELECT RAISE(ABORT, '{table}: {words[0]} refused'); END"
        )


def downgrade() -> None:
    op.drop_table("key_shares")
    op.drop_table("box_keys")
