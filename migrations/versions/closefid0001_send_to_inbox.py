"""Close connection setting: notify in Close's Inbox for incoming messages (send_to_inbox).

Revision ID: closefid0001
Revises: ux0001aaaa01
"""
import sqlalchemy as sa
from alembic import op

revision = "closefid0001"
down_revision = "ux0001aaaa01"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("close_connections") as batch:
        batch.add_column(sa.Column("send_to_inbox", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table("close_connections") as batch:
        batch.drop_column("send_to_inbox")
