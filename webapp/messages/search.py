"""Message log search: what a search box query matches, answered from indexes.

A row matches when its text contains the query (any case), the query is one of its ids — the id
its source gave it, WhatsApp's own message id (a gateway's stored id wraps it), its Close activity
id or its Close lead id, each an index lookup — or its chat's name or phone contains the query.
The text part uses the databases' own text indexes (webapp/models/text_search.py): SQLite FTS5
with the trigram tokenizer (a quoted phrase:
every character literal, substring match, case folded), PostgreSQL's pg_trgm GIN index, which
serves ILIKE directly. Queries under three characters have no trigram to look up: their text
part is an ILIKE scan of the newest SHORT_QUERY_ROWS rows of the page (a full scan of a million
rows takes about a second); the page says so (`is_short`). Ids, names and phones are searched in
full whatever the length.
"""
import sqlalchemy as sa

from webapp.core.extensions import db
from webapp.models import Chat, Message
from webapp.models.text_search import FTS_TABLE

TRIGRAM = 3
SHORT_QUERY_ROWS = 20_000
_fts = sa.table(FTS_TABLE, sa.column("rowid"))


def matching_ids(query, workspace_id, q, limit):
    """Ids of the rows of `query` (a select of Message with the page's filters) matching `q`:
    the newest `limit` of them, newest first. Each part is its own indexed top-N query, so the
    cost follows the page size, not the size of the log."""
    rows = query.with_only_columns(Message.id).order_by(None)
    parts = [
        _text_part(rows, q).limit(limit),
        rows.where(Message.external_id == q).limit(limit),
        rows.where(Message.whatsapp_id == q).limit(limit),
        rows.where(Message.close_activity_id == q).limit(limit),
        rows.where(Message.close_lead_id == q).order_by(Message.id.desc()).limit(limit),
        rows.where(Message.chat_id.in_(_chats_matching(workspace_id, q))).order_by(Message.id.desc()).limit(limit),
    ]
    found = set()
    for part in parts:
        found.update(db.session.scalars(part))
    return sorted(found, reverse=True)[:limit]


def is_short(q):
    return bool(q) and len(q) < TRIGRAM


def like_pattern(q):
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _text_part(rows, q):
    if db.engine.dialect.name == "sqlite" and len(q) >= TRIGRAM:
        # Driven by the FTS table in rowid order, so SQLite stops after `limit` hits.
        phrase = '"' + q.replace('"', '""') + '"'
        return (rows.join(_fts, _fts.c.rowid == Message.id)
                .where(sa.literal_column(FTS_TABLE).op("MATCH")(phrase))
                .order_by(_fts.c.rowid.desc()))
    if is_short(q):
        # Filtered outside the LIMIT, so no planner can swap the scan of the newest rows for a
        # trigram index lookup that matches every row (PostgreSQL did: 1 s at a million rows).
        newest = rows.add_columns(Message.text).order_by(Message.id.desc()).limit(SHORT_QUERY_ROWS).subquery()
        return (sa.select(newest.c.id).where(newest.c.text.ilike(like_pattern(q), escape="\\"))
                .order_by(newest.c.id.desc()))
    return rows.where(Message.text.ilike(like_pattern(q), escape="\\")).order_by(Message.id.desc())


def _chats_matching(workspace_id, q):
    pattern = like_pattern(q)
    return sa.select(Chat.id).where(Chat.workspace_id == workspace_id,
                                    sa.or_(Chat.display_name.ilike(pattern, escape="\\"),
                                           Chat.remote_phone.ilike(pattern, escape="\\")))
