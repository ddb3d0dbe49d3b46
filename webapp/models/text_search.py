"""The message log's text index, which lives outside the models: SQLite FTS5 (trigram tokenizer,
an external-content table kept in step by triggers) and a PostgreSQL pg_trgm GIN index.

Both answer "the text contains this substring, any case" from an index instead of a scan. They are
created with the `messages` table (create_all, used by tests and the bench) and by the migration;
`include_name` keeps them out of the models-vs-migrations comparison, which knows only the models.
"""
import sqlalchemy as sa

from webapp.models.messages import Message

FTS_TABLE = "messages_fts"
TRGM_INDEX = "ix_messages_text_trgm"

SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "text, content='messages', content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_insert AFTER INSERT ON messages BEGIN "
    f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_delete AFTER DELETE ON messages BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text); END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_update AFTER UPDATE OF text ON messages BEGIN "
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text); "
    f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END",
)
SQLITE_DROP = (f"DROP TABLE IF EXISTS {FTS_TABLE}",)  # the triggers go with `messages`
POSTGRES_CREATE = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX IF NOT EXISTS {TRGM_INDEX} ON messages USING gin (text gin_trgm_ops)",
)


def include_name(name, type_, parent_names):
    """Alembic filter: the text index is not described by the models, so don't compare it."""
    if type_ == "table":
        return not (name or "").startswith(FTS_TABLE)
    if type_ == "index":
        return name != TRGM_INDEX
    return True


def _run(statements, dialect):
    def listener(target, connection, **_):
        if connection.dialect.name == dialect:
            for statement in statements:
                connection.execute(sa.text(statement))
    return listener


sa.event.listen(Message.__table__, "after_create", _run(SQLITE_CREATE, "sqlite"))
sa.event.listen(Message.__table__, "after_create", _run(POSTGRES_CREATE, "postgresql"))
sa.event.listen(Message.__table__, "after_drop", _run(SQLITE_DROP, "sqlite"))
