"""A member's Close user: memberships.close_user_id and close_user_org_id; the connection's cached
Close users become a list of {id, email, name}

Revision ID: members_close_user
Revises: log_search_by_message_ids
Create Date: 2026-12-04
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "members_close_user"
down_revision = "log_search_by_message_ids"
branch_labels = None
depends_on = None

connections = sa.table("close_connections", sa.column("id", sa.Integer), sa.column("close_users", sa.JSON))


def _rewrite(convert):
    bind = op.get_bind()
    for row_id, cached in bind.execute(sa.select(connections.c.id, connections.c.close_users)).all():
        cached = json.loads(cached) if isinstance(cached, str) else cached
        bind.execute(connections.update().where(connections.c.id == row_id).values(close_users=convert(cached)))


def upgrade():
    with op.batch_alter_table("memberships") as batch:
        batch.add_column(sa.Column("close_user_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("close_user_org_id", sa.String(length=64), nullable=True))
    # {email: user id} → [{id, email, name}]; the names arrive with the next validation.
    _rewrite(lambda cached: [{"id": user_id, "email": email, "name": email}
                             for email, user_id in (cached or {}).items()] if isinstance(cached, dict) else cached)


def downgrade():
    _rewrite(lambda cached: {u["email"]: u["id"] for u in cached or []} if isinstance(cached, list) else cached)
    with op.batch_alter_table("memberships") as batch:
        batch.drop_column("close_user_org_id")
        batch.drop_column("close_user_id")
