"""A FAILED WhatsApp session is restarted first: whatsapp_number_links.restarted_at

Revision ID: failed_sessions_restart_first
Revises: per_chat_reconciliation
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

from webapp.models.base import UTCDateTime

revision = "failed_sessions_restart_first"
down_revision = "per_chat_reconciliation"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("whatsapp_number_links") as batch:
        batch.add_column(sa.Column("restarted_at", UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("whatsapp_number_links") as batch:
        batch.drop_column("restarted_at")
