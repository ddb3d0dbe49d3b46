"""Cloud API numbers: Graph access token (encrypted) and the last webhook error

Revision ID: evo0001aaaa
Revises: card0001aaaa
Create Date: 2026-11-27 11:40:00

"""
from alembic import op
import sqlalchemy as sa
import webapp.models.base  # noqa: F401  (custom column types)


revision = 'evo0001aaaa'
down_revision = 'card0001aaaa'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cloud_api_numbers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_token_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('last_error_at', webapp.models.base.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('cloud_api_numbers', schema=None) as batch_op:
        batch_op.drop_column('last_error_at')
        batch_op.drop_column('last_error')
        batch_op.drop_column('access_token_enc')
