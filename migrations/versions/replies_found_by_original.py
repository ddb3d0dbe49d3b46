"""An index for the replies waiting for their original (messages.reply_to_external_id)

Revision ID: replies_found_by_original
Revises: members_close_user
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "replies_found_by_original"
down_revision = "members_close_user"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_messages_ws_reply_to", "messages", ["workspace_id", "reply_to_external_id"],
                    sqlite_where=sa.text("reply_to_external_id IS NOT NULL"),
                    postgresql_where=sa.text("reply_to_external_id IS NOT NULL"))


def downgrade():
    op.drop_index("ix_messages_ws_reply_to", table_name="messages")
