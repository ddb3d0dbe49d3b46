"""The webhook inbox keeps no raw bodies: drop the ones handled events still hold

Revision ID: inbox_keeps_no_raw_bodies
Revises: evo0001aaaa
Create Date: 2026-12-04

Handled events (done, ignored, dead) need only their dedupe key; their raw gateway bodies held
message text and, for Evolution API, the instance token. Events still waiting are processed from
the body they have and emptied when they finish.
"""
import sqlalchemy as sa
from alembic import op

revision = "inbox_keeps_no_raw_bodies"
down_revision = "evo0001aaaa"
branch_labels = None
depends_on = None


def upgrade():
    events = sa.table("whatsapp_gateway_events", sa.column("state", sa.String), sa.column("payload", sa.JSON))
    op.execute(events.update().where(events.c.state.in_(("done", "ignored", "dead"))).values(payload={}))


def downgrade():
    pass  # the bodies are gone on purpose
