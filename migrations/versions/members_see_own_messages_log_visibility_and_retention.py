"""Who reads messages, and for how long: privacy_settings.members_see_all_messages, retention_days

Revision ID: members_see_own_messages
Revises: numbers_stop_with_member
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "members_see_own_messages"
down_revision = "numbers_stop_with_member"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("privacy_settings") as batch:
        batch.add_column(sa.Column("members_see_all_messages", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("privacy_settings") as batch:
        batch.drop_column("retention_days")
        batch.drop_column("members_see_all_messages")
