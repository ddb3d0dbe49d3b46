"""Log search by the ids people copy: messages.whatsapp_id, indexes on it and on the Close activity and lead ids

Revision ID: log_search_by_message_ids
Revises: failed_sessions_restart_first
Create Date: 2026-12-04
"""
import re

import sqlalchemy as sa
from alembic import op

revision = "log_search_by_message_ids"
down_revision = "failed_sessions_restart_first"
branch_labels = None
depends_on = None

# Same rule as webapp/models/messages.whatsapp_id_of, frozen here as it was when this ran.
_GATEWAY_ID = re.compile(r"^(?:true|false)_[^_@]+@[^_]+_([^_]+)")
CHUNK = 5000


def _whatsapp_id(external_id):
    found = _GATEWAY_ID.match(external_id or "")
    return (found.group(1) if found else external_id)[:200] if external_id else None


def upgrade():
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("whatsapp_id", sa.String(length=200), nullable=True))
    messages = sa.table("messages", sa.column("id", sa.Integer), sa.column("external_id", sa.String),
                        sa.column("whatsapp_id", sa.String))
    conn = op.get_bind()
    last = 0
    while True:  # in chunks of ids: a big log is filled without one huge transaction in memory
        rows = conn.execute(sa.select(messages.c.id, messages.c.external_id).where(messages.c.id > last)
                            .order_by(messages.c.id).limit(CHUNK)).all()
        if not rows:
            break
        conn.execute(messages.update().where(messages.c.id == sa.bindparam("row_id"))
                     .values(whatsapp_id=sa.bindparam("value")),
                     [{"row_id": row_id, "value": _whatsapp_id(external_id)} for row_id, external_id in rows])
        last = rows[-1][0]
    op.create_index("ix_messages_ws_whatsapp_id", "messages", ["workspace_id", "whatsapp_id"])
    op.create_index("ix_messages_ws_activity", "messages", ["workspace_id", "close_activity_id"])
    op.create_index("ix_messages_ws_lead", "messages", ["workspace_id", "close_lead_id", "id"])


def downgrade():
    op.drop_index("ix_messages_ws_lead", table_name="messages")
    op.drop_index("ix_messages_ws_activity", table_name="messages")
    op.drop_index("ix_messages_ws_whatsapp_id", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("whatsapp_id")
