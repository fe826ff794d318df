"""settings scope: holidays and weekend days per unit; the office or unit an audited change
concerns (for the changes listed in a box's checklist and minutes)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NATIONAL = sa.text("unit_id IS NULL")


def _day_key() -> str:
    """The name of 0002's unique constraint on the day: PostgreSQL's own for an unnamed
    one; on SQLite, the name the batch's naming convention gives it."""
    return "holidays_day_key" if op.get_bind().dialect.name == "postgresql" else "uq_holidays_day"


def upgrade() -> None:
    # The holidays on record so far are national: their unit is NULL. A day is a holiday
    # once per unit, and once nationally (a partial index: NULLs are distinct otherwise).
    with op.batch_alter_table(
        "holidays", naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}
    ) as batch_op:
        batch_op.drop_constraint(_day_key(), "unique")
        batch_op.add_column(sa.Column("unit_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_holidays_unit_id_units", "units", ["unit_id"], ["id"])
        batch_op.create_unique_constraint("uq_holidays_unit_id_day", ["unit_id", "day"])
        batch_op.create_index("ix_holidays_unit_id", ["unit_id"])
    op.create_index(
        "uq_holidays_national_day",
        "holidays",
        ["day"],
        unique=True,
        sqlite_where=NATIONAL,
        postgresql_where=NATIONAL,
    )
    op.add_column("units", sa.Column("weekend", sa.JSON(), nullable=True))
    # Plain ALTER TABLE (no batch copy): the audit log keeps its append-only triggers.
    op.add_column("audit_log", sa.Column("office_id", sa.Integer(), nullable=True))
    op.add_column("audit_log", sa.Column("unit_id", sa.Integer(), nullable=True))
    op.create_index("ix_audit_log_office_id", "audit_log", ["office_id"])
    op.create_index("ix_audit_log_unit_id", "audit_log", ["unit_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_unit_id", "audit_log")
    op.drop_index("ix_audit_log_office_id", "audit_log")
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch copy would lose the triggers.
    op.drop_column("audit_log", "unit_id")
    op.drop_column("audit_log", "office_id")
    op.drop_column("units", "weekend")
    op.drop_index("uq_holidays_national_day", "holidays")
    op.execute("DELETE FROM holidays WHERE unit_id IS NOT NULL")
    with op.batch_alter_table("holidays") as batch_op:
        batch_op.drop_index("ix_holidays_unit_id")
        batch_op.drop_constraint("uq_holidays_unit_id_day", "unique")
        batch_op.drop_constraint("fk_holidays_unit_id_units", "foreignkey")
        batch_op.drop_column("unit_id")
        batch_op.create_unique_constraint(_day_key(), ["day"])
