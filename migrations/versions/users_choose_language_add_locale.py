"""Users choose the pages' language: users.locale (empty follows the browser)

Revision ID: users_choose_language
Revises: members_see_own_messages
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "users_choose_language"
down_revision = "members_see_own_messages"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=10), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locale")
