"""message log text index (SQLite FTS5 trigram + triggers, PostgreSQL pg_trgm GIN); leased-rows index

Revision ID: speed0001aaaa
Revises: waha0001aaaa
Create Date: 2026-11-27 11:30:00

ix_messages_chat_leased (in the models): the outbox claim's per-chat order check.

The text index is kept outside the models (webapp/models/text_search.py creates the same with the table and keeps
it out of the models-vs-migrations comparison). The statements are spelled out here so this
migration stays what it was even if that module changes.
"""
import sqlalchemy as sa
from alembic import op

revision = 'speed0001aaaa'
down_revision = 'waha0001aaaa'
branch_labels = None
depends_on = None

SQLITE_UP = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "text, content='messages', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",  # index the rows already there
)
SQLITE_DOWN = (
    "DROP TRIGGER IF EXISTS messages_fts_update",
    "DROP TRIGGER IF EXISTS messages_fts_delete",
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TABLE IF EXISTS messages_fts",
)
POSTGRES_UP = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_messages_text_trgm ON messages USING gin (text gin_trgm_ops)",
)
# The extension stays: other objects may use it, and it holds no data.
POSTGRES_DOWN = ("DROP INDEX IF EXISTS ix_messages_text_trgm",)


def _run(by_dialect):
    for statement in by_dialect.get(op.get_bind().dialect.name, ()):
        op.execute(statement)


def upgrade():
    leased = sa.text("lease_until IS NOT NULL")
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_chat_leased', ['chat_id', 'id'], unique=False,
                              sqlite_where=leased, postgresql_where=leased)
    _run({"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP})


def downgrade():
    _run({"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN})
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_chat_leased')
