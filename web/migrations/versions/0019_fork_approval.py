"""a fork's branch counted only once a second person approved its adoption

A technician's upload of a forked side's records (``web.forks.adopt_branch``) is held apart
in ``fork_held_records`` (never changed or deleted); an administrator approves (copied into
``ledger_records``, counted) or refuses (kept apart for good). The database refuses any
change to a decided fork and an approval by an account that confirmed the fork or uploaded
its branch. Forks adopted before this revision stay adopted (no approver named).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

DECIDED = "OLD.status IN ('adopted', 'refused')"
# An approval by nobody, not from a branch asked for, or by an account that asked for it.
ONE_PERSON = (
    "NEW.status = 'adopted' AND (OLD.status <> 'asked' OR NEW.approved_by IS NULL "
    "OR NEW.approved_by = COALESCE(NEW.confirmed_by, -1) "
    "OR NEW.approved_by = COALESCE(NEW.adopted_by, -1) "
    "OR EXISTS (SELECT 1 FROM fork_held_records h WHERE h.fork_id = NEW.id "
    "AND h.held_by = NEW.approved_by))"
)
COLUMNS = ("held_state", "approved_by", "approved_at", "refused_by", "refused_at", "reason")


def upgrade() -> None:
    op.create_table(
        "fork_held_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fork_id", sa.Integer(), sa.ForeignKey("forks.id"), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("box", sa.String(7), nullable=False),
        sa.Column("wall_ms", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sig", sa.LargeBinary(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("held_by", sa.Integer(), sa.ForeignKey("users.id"), nullable=True),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fork_id", "seq"),
    )
    with op.batch_alter_table("forks") as batch:  # (SQLite: the table copied, its keys named)
        batch.add_column(sa.Column("held_state", sa.Text(), nullable=True))
        for who, at in (("approved_by", "approved_at"), ("refused_by", "refused_at")):
            batch.add_column(sa.Column(who, sa.Integer(), nullable=True))
            batch.add_column(sa.Column(at, sa.DateTime(timezone=True), nullable=True))
            batch.create_foreign_key(f"fk_forks_{who}", "users", [who], ["id"])
        batch.add_column(
            sa.Column("reason", sa.Text(), nullable=False, server_default=sa.text("''"))
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION hom_phieu_fork_guard() RETURNS trigger AS $$ BEGIN "
            f"IF {DECIDED} THEN RAISE EXCEPTION 'forks: a decided fork is final'; END IF; "
            f"IF TG_OP = 'UPDATE' AND {ONE_PERSON} THEN "
            "RAISE EXCEPTION 'forks: adoption needs a second person'; END IF; "
            "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER forks_guard BEFORE UPDATE OR DELETE ON forks "
            "FOR EACH ROW EXECUTE FUNCTION hom_phieu_fork_guard()"
        )
        op.execute(
            "CREATE TRIGGER fork_held_records_append_only BEFORE UPDATE OR DELETE ON "
            "fork_held_records FOR EACH ROW EXECUTE FUNCTION hom_phieu_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER forks_decided_{action.lower()} BEFORE {action} ON forks "
            f"FOR EACH ROW WHEN {DECIDED} "
            "BEGIN SELECT RAISE(ABORT, 'forks: a decided fork is final'); END"
        )
        op.execute(
            f"CREATE TRIGGER fork_held_records_no_{action.lower()} BEFORE {action} ON "
            "fork_held_records BEGIN SELECT RAISE(ABORT, 'fork_held_records is append-only'); END"
        )
    op.execute(
        f"CREATE TRIGGER forks_two_people BEFORE UPDATE ON forks FOR EACH ROW WHEN {ONE_PERSON} "
        "BEGIN SELECT RAISE(ABORT, 'forks: adoption needs a second person'); END"
    )


def downgrade() -> None:
    # A branch waiting for approval waits for its upload again (its held records go).
    op.execute("UPDATE forks SET status = 'confirmed', adopted = 0 WHERE status = 'asked'")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS forks_guard ON forks")
        op.execute("DROP FUNCTION IF EXISTS hom_phieu_fork_guard()")
    else:
        for name in ("forks_decided_update", "forks_decided_delete", "forks_two_people"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    with op.batch_alter_table("forks") as batch:
        for column in COLUMNS:
            batch.drop_column(column)
    op.drop_table("fork_held_records")
