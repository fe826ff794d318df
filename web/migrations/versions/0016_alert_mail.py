"""alerts sent by e-mail: users' addresses and the mails sent

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Users get an e-mail address and their own choice to receive alerts by mail; each
    alert mailed to a user is one ``alert_mails`` row (unique: never mailed twice)."""
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(
            sa.Column("alert_mail", sa.Boolean(), nullable=False, server_default=sa.text("true"))
        )
    op.create_table(
        "alert_mails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alert_id", "user_id", name="uq_alert_mails_alert_user"),
    )
    op.create_index("ix_alert_mails_user_status", "alert_mails", ["user_id", "status"])
    op.create_index("ix_alert_mails_user_sent", "alert_mails", ["user_id", "sent_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_mails_user_sent", table_name="alert_mails")
    op.drop_index("ix_alert_mails_user_status", table_name="alert_mails")
    op.drop_table("alert_mails")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("alert_mail")
        batch_op.drop_column("email")
