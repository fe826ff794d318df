"""forked devices re-enrolled, their records adopted; records repaired from the device's copy

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_pk", sa.Integer(), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("fork_seq", sa.BigInteger(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), sa.ForeignKey("evidence.id"), nullable=False),
        sa.Column("base_hash", sa.String(64), nullable=False),
        sa.Column("base_state", sa.Text(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("new_device_pk", sa.Integer(), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("branch_pk", sa.Integer(), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("confirmed_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("adopted_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("adopted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("adopted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("branch_pk"),
    )
    op.create_index("ix_forks_device_pk", "forks", ["device_pk"])
    op.create_table(
        "record_repairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_pk", sa.Integer(), sa.ForeignKey("devices.id"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("damaged_data", sa.LargeBinary(), nullable=False),
        sa.Column("damaged_sig", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("confirmed_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_record_repairs_device_pk", "record_repairs", ["device_pk"])
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
    else:
        _sqlite()


# A held record may be rewritten only by a repair: its record_repairs row (which keeps the
# damaged bytes) names the device, the seq and the hash of the bytes written.
REPAIRED = (
    "NEW.device_pk = OLD.device_pk AND NEW.seq = OLD.seq AND EXISTS (SELECT 1 FROM "
    "record_repairs r WHERE r.device_pk = OLD.device_pk AND r.seq = OLD.seq AND r.hash = NEW.hash)"
)


def _postgresql() -> None:
    op.execute(
        "CREATE FUNCTION hom_phieu_repair_only() RETURNS trigger AS $$ BEGIN "
        f"IF TG_OP = 'UPDATE' AND {REPAIRED} THEN RETURN NEW; END IF; "
        "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$ LANGUAGE plpgsql"
    )
    op.execute("DROP TRIGGER IF EXISTS ledger_records_append_only ON ledger_records")
    op.execute(
        "CREATE TRIGGER ledger_records_append_only BEFORE UPDATE OR DELETE ON ledger_records "
        "FOR EACH ROW EXECUTE FUNCTION hom_phieu_repair_only()"
    )
    op.execute(
        "CREATE TRIGGER record_repairs_append_only BEFORE UPDATE OR DELETE ON record_repairs "
        "FOR EACH ROW EXECUTE FUNCTION hom_phieu_append_only()"
    )


def _sqlite() -> None:
    op.execute("DROP TRIGGER IF EXISTS ledger_records_no_update")
    op.execute(
        "CREATE TRIGGER ledger_records_no_update BEFORE UPDATE ON ledger_records FOR EACH ROW "
        f"WHEN NOT ({REPAIRED}) BEGIN SELECT RAISE(ABORT, 'ledger_records is append-only'); END"
    )
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER record_repairs_no_{action.lower()} BEFORE {action} ON "
            "record_repairs BEGIN SELECT RAISE(ABORT, 'record_repairs is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_records_append_only ON ledger_records")
        op.execute("DROP FUNCTION IF EXISTS hom_phieu_repair_only()")
        op.execute(
            "CREATE TRIGGER ledger_records_append_only BEFORE UPDATE OR DELETE ON "
            "ledger_records FOR EACH ROW EXECUTE FUNCTION hom_phieu_append_only()"
        )
    else:
        op.execute("DROP TRIGGER IF EXISTS ledger_records_no_update")
        op.execute(
            "CREATE TRIGGER ledger_records_no_update BEFORE UPDATE ON ledger_records "
            "BEGIN SELECT RAISE(ABORT, 'ledger_records is append-only'); END"
        )
    op.drop_table("record_repairs")
    op.drop_table("forks")
