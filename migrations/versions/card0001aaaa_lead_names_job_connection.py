"""cached lead names on chat links, the connection a job run checked

Revision ID: card0001aaaa
Revises: privacy0001a
Create Date: 2026-11-27 12:15:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'card0001aaaa'
down_revision = 'privacy0001a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('chat_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lead_name', sa.String(length=200), server_default='', nullable=False))
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('connection_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_job_runs_connection_id_close_connections', 'close_connections',
                                    ['connection_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_constraint('fk_job_runs_connection_id_close_connections', type_='foreignkey')
        batch_op.drop_column('connection_id')
    with op.batch_alter_table('chat_links', schema=None) as batch_op:
        batch_op.drop_column('lead_name')
