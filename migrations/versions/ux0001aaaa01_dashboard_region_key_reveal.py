"""dashboard chart index, workspace default region, one-time API key reveal

Revision ID: ux0001aaaa01
Revises: c432b5710d58
Create Date: 2026-11-27 11:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'ux0001aaaa01'
down_revision = 'c432b5710d58'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.add_column(sa.Column('default_region', sa.String(length=2), nullable=True))
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_once_enc', sa.Text(), nullable=True))
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_ws_updated', ['workspace_id', 'updated_at'], unique=False)


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_ws_updated')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('secret_once_enc')
    with op.batch_alter_table('workspaces', schema=None) as batch_op:
        batch_op.drop_column('default_region')
