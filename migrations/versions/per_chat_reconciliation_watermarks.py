"""Per-chat reconciliation: chat watermarks, and the number's reconciliation state on its link

Revision ID: per_chat_reconciliation
Revises: users_choose_language
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

from webapp.models.base import UTCDateTime

revision = "per_chat_reconciliation"
down_revision = "users_choose_language"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "whatsapp_chat_watermarks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("chat_jid", sa.String(length=200), nullable=False),
        sa.Column("reconciled_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("behind", sa.Boolean(), nullable=False),
        sa.Column("checked_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["link_id"], ["whatsapp_number_links.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("link_id", "chat_jid"),
    )
    with op.batch_alter_table("whatsapp_number_links") as batch:
        batch.add_column(sa.Column("reconciled_until", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reconcile_started_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reconcile_reason", sa.String(length=40), nullable=False, server_default=""))
        batch.add_column(sa.Column("reconcile_progress", sa.JSON(), nullable=False,
                                   server_default=sa.text("'{}'")))
        batch.add_column(sa.Column("unstored", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch.add_column(sa.Column("last_webhook_at", UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("whatsapp_number_links") as batch:
        for column in ("last_webhook_at", "unstored", "reconcile_progress", "reconcile_reason",
                       "reconcile_started_at", "reconciled_until"):
            batch.drop_column(column)
    op.drop_table("whatsapp_chat_watermarks")
