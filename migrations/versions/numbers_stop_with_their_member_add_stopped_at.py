"""A WhatsApp number stops syncing when its member is removed: whatsapp_numbers.stopped_at

Revision ID: numbers_stop_with_member
Revises: inbox_keeps_no_raw_bodies
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

from webapp.models.base import UTCDateTime

revision = "numbers_stop_with_member"
down_revision = "inbox_keeps_no_raw_bodies"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("whatsapp_numbers") as batch:
        batch.add_column(sa.Column("stopped_at", UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("whatsapp_numbers") as batch:
        batch.drop_column("stopped_at")
