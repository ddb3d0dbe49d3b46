"""Edits and deletions made on WhatsApp after a message reached the outbox.

`update_text` changes the stored text and, when the message is already in Close, the activity's
text (the field payload.message_markdown writes). `mark_revoked` deletes the Close activity when the
workspace mirrors deletions; otherwise it keeps the activity and notes "deleted on WhatsApp" on
the row (shown in the sync log). A row a drain holds the lease on is left alone (`Busy`: the
caller retries), so a change never races a delivery. Close errors propagate so the caller retries.
"""
import sqlalchemy as sa

from webapp.clients.close.client import CloseNotFound
from webapp.core.extensions import db
from webapp.messages import close_access, outbox, totals
from webapp.messages import gate as privacy
from webapp.messages.ingest import find
from webapp.messages.payload import message_markdown
from webapp.models import Message, utcnow

DELETED_NOTE = "deleted on WhatsApp"
PENDING = ("queued", "held", "failed", "received")


class NoCloseConnection(RuntimeError):
    """The change must reach Close but the workspace has no live connection (retry later)."""


class Busy(RuntimeError):
    """A drain is delivering the message right now (retry later)."""


def _client(workspace_id):
    connection = close_access.live_connection(workspace_id)
    if connection is None:
        raise NoCloseConnection("no live Close connection")
    return close_access.client_for_connection(connection)


def _unleased(workspace_id, external_id):
    message = find(workspace_id, external_id)
    if message is not None and message.state != "synced" and not _lease_free(message):
        raise Busy("the message is being delivered to Close")
    return message


def _lease_free(message):
    return db.session.scalar(sa.select(outbox.lease_is_free(utcnow())).where(Message.id == message.id))


def _note(message, note):
    if note not in (message.reason or ""):
        message.reason = f"{message.reason}; {note}" if message.reason else note


def update_text(workspace_id, external_id, text):
    """→ "missing" | "stored" (not in Close yet: the drain sends the new text) | "updated"."""
    message = _unleased(workspace_id, external_id)
    if message is None:
        return "missing"
    cleaned = privacy.clean_edit(message, text)
    if cleaned is None:  # excluded chat: the edit's text is not stored either
        return "stored"
    text, redactions = cleaned
    message.redactions = redactions
    outcome = "stored"
    if message.state == "synced" and message.close_activity_id and message.text != text:
        message.text = text
        try:
            _client(workspace_id).update_whatsapp_activity(message.close_activity_id,
                                                           {"message_markdown": message_markdown(message)})
        except CloseNotFound:
            pass  # deleted in Close meanwhile: nothing to update
        outcome = "updated"
    message.text = text
    _note(message, "edited on WhatsApp")
    message.updated_at = utcnow()
    db.session.commit()
    return outcome


def mark_revoked(workspace_id, external_id, mirror):
    """→ "missing" | "noted" | "deleted" (activity removed in Close) | "dropped" (never reached Close)."""
    message = _unleased(workspace_id, external_id)
    if message is None:
        return "missing"
    outcome, before = "noted", message.state
    if mirror and message.state == "synced" and message.close_activity_id:
        try:
            _client(workspace_id).delete_whatsapp_activity(message.close_activity_id)
        except CloseNotFound:
            pass
        message.close_activity_id = None
        _note(message, f"{DELETED_NOTE}; deleted in Close")
        outcome = "deleted"
    elif mirror and message.state in PENDING:
        message.state = "skipped"
        _note(message, f"{DELETED_NOTE} before it reached Close")
        outcome = "dropped"
    else:
        _note(message, DELETED_NOTE)
    message.updated_at = utcnow()
    db.session.commit()
    if outcome == "dropped":
        totals.count_changes(workspace_id, {before: -1, "skipped": 1})
    return outcome
