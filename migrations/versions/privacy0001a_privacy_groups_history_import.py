"""privacy controls, opt-in group chats, history imports

Revision ID: privacy0001a
Revises: speed0001aaaa
Create Date: 2026-11-27 12:15:00

"""
from alembic import op
import sqlalchemy as sa

from webapp.models.base import UTCDateTime


revision = 'privacy0001a'
down_revision = 'speed0001aaaa'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'privacy_settings',
        sa.Column('workspace_id', sa.Integer(), nullable=False),
        sa.Column('allow_list_only', sa.Boolean(), nullable=False),
        sa.Column('redact_codes', sa.Boolean(), nullable=False),
        sa.Column('redact_cards', sa.Boolean(), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('workspace_id'))
    op.create_table(
        'exclusion_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('value', sa.String(length=200), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('workspace_id', 'kind', 'value'))
    op.create_index('ix_exclusion_entries_workspace_id', 'exclusion_entries', ['workspace_id'], unique=False)
    op.create_table(
        'history_imports',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.Integer(), nullable=False),
        sa.Column('whatsapp_number_id', sa.Integer(), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('since', UTCDateTime(timezone=True), nullable=True),
        sa.Column('until', UTCDateTime(timezone=True), nullable=True),
        sa.Column('scope', sa.String(length=10), nullable=False),
        sa.Column('state', sa.String(length=12), nullable=False),
        sa.Column('plan', sa.JSON(), nullable=False),
        sa.Column('progress', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['whatsapp_number_id'], ['whatsapp_numbers.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'))
    op.create_index('ix_history_imports_workspace_id', 'history_imports', ['workspace_id'], unique=False)
    with op.batch_alter_table('chats', schema=None) as batch_op:
        batch_op.add_column(sa.Column('excluded_at', UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('excluded_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('pinned_lead_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('pinned_contact_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('pinned_lead_name', sa.String(length=200), nullable=False,
                                      server_default=''))
        batch_op.create_foreign_key('fk_chats_excluded_by_id_users', 'users', ['excluded_by_id'], ['id'],
                                    ondelete='SET NULL')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender_name', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('sender_phone', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('redactions', sa.JSON(), nullable=False, server_default='{}'))


def downgrade():
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('redactions')
        batch_op.drop_column('sender_phone')
        batch_op.drop_column('sender_name')
    with op.batch_alter_table('chats', schema=None) as batch_op:
        batch_op.drop_constraint('fk_chats_excluded_by_id_users', type_='foreignkey')
        batch_op.drop_column('pinned_lead_name')
        batch_op.drop_column('pinned_contact_id')
        batch_op.drop_column('pinned_lead_id')
        batch_op.drop_column('excluded_by_id')
        batch_op.drop_column('excluded_at')
    op.drop_index('ix_history_imports_workspace_id', table_name='history_imports')
    op.drop_table('history_imports')
    op.drop_index('ix_exclusion_entries_workspace_id', table_name='exclusion_entries')
    op.drop_table('exclusion_entries')
    op.drop_table('privacy_settings')
