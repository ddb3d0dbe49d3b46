"""Bulk-load the message log for the status-page benchmark (executemany on SQLite, COPY on PostgreSQL)."""
import contextlib
import json
import random
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

STATES = [("synced", 0.94), ("skipped", 0.03), ("failed", 0.01), ("dead", 0.01), ("held", 0.01)]
CHUNK = 20_000


def _state(rng):
    x, acc = rng.random(), 0.0
    for state, share in STATES:
        acc += share
        if x < acc:
            return state
    return "synced"


def fill(workspace_id, target_rows, chats=2000):
    from webapp.core.extensions import db
    from webapp.models import Chat, Message, WhatsAppNumber
    existing = db.session.scalar(sa.select(sa.func.count()).select_from(Message))
    rows = max(0, target_rows - existing)
    if not rows:
        return 0
    numbers = db.session.scalars(sa.select(WhatsAppNumber.id).where(WhatsAppNumber.workspace_id == workspace_id)).all()
    chat_ids = []
    for i in range(chats):
        chat = Chat(workspace_id=workspace_id, whatsapp_number_id=numbers[i % len(numbers)],
                    external_id=f"bulk-chat-{i}", kind="direct", remote_phone=f"+1415556{i:04d}",
                    display_name=f"Bulk customer {i}")
        db.session.add(chat)
        chat_ids.append(chat)
    db.session.commit()
    chat_rows = [(c.id, c.whatsapp_number_id) for c in chat_ids]
    rng = random.Random(1)
    start = datetime(2024, 1, 1, tzinfo=UTC)

    def generate(offset, count):
        for i in range(offset, offset + count):
            chat_id, number_id = chat_rows[i % len(chat_rows)]
            state = _state(rng)
            sent = start + timedelta(seconds=i * 20)
            yield {"workspace_id": workspace_id, "chat_id": chat_id, "whatsapp_number_id": number_id,
                   "external_id": f"bulk-{i}", "source": "api", "direction": "incoming" if i % 2 else "outgoing",
                   "sent_at": sent, "text": f"Bulk message {i} about the order", "reply_to_external_id": None,
                   "attachments": [], "sender_name": "", "redactions": {}, "state": state,
                   "reason": {"skipped": "No Close contact has this phone and auto-create is off.",
                              "failed": "Close unreachable: 503", "dead": "Close refused the activity",
                              "held": "subscription inactive"}.get(state, ""),
                   "attempts": 1, "next_attempt_at": sent + timedelta(hours=1) if state == "failed" else None,
                   "queued_at": sent, "lease_until": None, "close_org_id": "orga_bulk",
                   "close_lead_id": "lead_bulk" if state == "synced" else None,
                   "close_activity_id": f"acti_bulk{i}" if state == "synced" else None,
                   "synced_at": sent if state == "synced" else None, "created_at": sent, "updated_at": sent}

    with _text_index_rebuilt(db):
        if db.engine.dialect.name == "postgresql":
            _copy(db, generate(existing, rows))
        else:
            table = Message.__table__
            for offset in range(0, rows, CHUNK):
                with db.engine.begin() as conn:
                    conn.execute(table.insert(), list(generate(existing + offset, min(CHUNK, rows - offset))))
    with db.engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    return rows


@contextlib.contextmanager
def _text_index_rebuilt(db):
    """Bulk load without the text index, then build it once (as the migration does for old rows):
    a million trigger calls or GIN updates would make the fill, not the search, the slow part."""
    from webapp.models import text_search
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        if dialect == "sqlite":
            for trigger in ("insert", "delete", "update"):
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {text_search.FTS_TABLE}_{trigger}"))
        elif dialect == "postgresql":
            conn.execute(sa.text(f"DROP INDEX IF EXISTS {text_search.TRGM_INDEX}"))
    yield
    with db.engine.begin() as conn:
        statements = {"sqlite": text_search.SQLITE_CREATE, "postgresql": text_search.POSTGRES_CREATE}
        for statement in statements.get(dialect, ()):
            conn.execute(sa.text(statement))
        if dialect == "sqlite":
            conn.execute(sa.text(f"INSERT INTO {text_search.FTS_TABLE}({text_search.FTS_TABLE}) VALUES ('rebuild')"))


def _copy(db, records):
    columns = ["workspace_id", "chat_id", "whatsapp_number_id", "external_id", "source", "direction", "sent_at",
               "text", "reply_to_external_id", "attachments", "sender_name", "redactions", "state", "reason", "attempts",
               "next_attempt_at",
               "queued_at", "lease_until", "close_org_id", "close_lead_id", "close_activity_id", "synced_at",
               "created_at", "updated_at"]
    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cur:
            with cur.copy(f"COPY messages ({', '.join(columns)}) FROM STDIN") as copy:
                for record in records:
                    record["attachments"] = json.dumps(record["attachments"])
                    record["redactions"] = json.dumps(record["redactions"])
                    copy.write_row([record[c] for c in columns])
        raw.commit()
    finally:
        raw.close()
