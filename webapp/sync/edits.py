"""Edits and deletions made on WhatsApp after a message reached the outbox.

`update_text` changes the stored text and, when the message is already in Close, the activity's
text. `mark_revoked` deletes the Close activity when the workspace mirrors deletions; otherwise
it keeps the activity and notes "deleted on WhatsApp" on the row (shown in the sync log).
Both return a short outcome word; Close errors propagate so the caller's job retries.
"""
import sqlalchemy as sa

from webapp.extensions import db
from webapp.integrations.close.client import CloseNotFound
from webapp.models import Message, utcnow
from webapp.sync import close_access

DELETED_NOTE = "deleted on WhatsApp"


class NoCloseConnection(RuntimeError):
    """The change must reach Close but the workspace has no live connection (retry later)."""


def _find(workspace_id, external_id):
    return db.session.scalar(sa.select(Message).where(
        Message.workspace_id == workspace_id, Message.external_id == external_id))


def _client(workspace_id):
    connection = close_access.live_connection(workspace_id)
    if connection is None:
        raise NoCloseConnection("no live Close connection")
    return close_access.client_for_connection(connection)


def _note(message, note):
    if note not in (message.reason or ""):
        message.reason = f"{message.reason}; {note}" if message.reason else note


def update_text(workspace_id, external_id, text):
    """→ "missing" | "stored" (not in Close yet: the drain sends the new text) | "updated"."""
    message = _find(workspace_id, external_id)
    if message is None:
        return "missing"
    if message.state == "synced" and message.close_activity_id and message.text != text:
        try:
            _client(workspace_id).update_whatsapp_activity(message.close_activity_id, {"message_markdown": text})
        except CloseNotFound:
            pass  # deleted in Close meanwhile: nothing to update
        outcome = "updated"
    else:
        outcome = "stored"
    message.text = text
    _note(message, "edited on WhatsApp")
    message.updated_at = utcnow()
    db.session.commit()
    return outcome


def mark_revoked(workspace_id, external_id, mirror):
    """→ "missing" | "noted" | "deleted" (activity removed in Close) | "dropped" (never reached Close)."""
    message = _find(workspace_id, external_id)
    if message is None:
        return "missing"
    outcome = "noted"
    if mirror and message.state == "synced" and message.close_activity_id:
        try:
            _client(workspace_id).delete_whatsapp_activity(message.close_activity_id)
        except CloseNotFound:
            pass
        message.close_activity_id = None
        _note(message, f"{DELETED_NOTE}; deleted in Close")
        outcome = "deleted"
    elif mirror and message.state in ("queued", "held", "failed", "received"):
        message.state = "skipped"
        _note(message, f"{DELETED_NOTE} before it reached Close")
        outcome = "dropped"
    else:
        _note(message, DELETED_NOTE)
    message.updated_at = utcnow()
    db.session.commit()
    if outcome == "dropped":
        from webapp.sync.service import invalidate_totals
        invalidate_totals(workspace_id)
    return outcome
