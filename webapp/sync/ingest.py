"""Ingestion: the single entry point of every source (API, batch, webhooks, gateway adapters).

    accept(workspace_id, items: list[IncomingMessage], source: str) -> list[Accepted]

Items are already shape-checked (webapp/sync/schema.py). accept() resolves the workspace's
number and the customer's phone, stores each message in the outbox (the messages table),
commits, updates the status-page totals and kicks the drain. Storing is idempotent on
(workspace, message id) even under concurrency: the unique constraint decides, a losing insert
is rolled back to its savepoint and the existing row returned. Close is never called here.
"""
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from webapp.extensions import db
from webapp.models import Chat, Message, WhatsAppNumber, utcnow
from webapp.phones import InvalidPhone, region_of, to_e164
from webapp.sync import close_access, scheduler, totals
from webapp.sync.schema import IncomingMessage
from webapp.sync.states import HOLD_DISCONNECTED, HOLD_SUBSCRIPTION, SKIP_GROUP


WRITE_ATTEMPTS = 4  # SQLite: a write that lost a race with another writer is tried again


@dataclass
class Accepted:
    """What happened to one item: created (new row), duplicate (known id: the existing row) or
    invalid (errors: {field path: message}, nothing stored)."""
    status: str                        # "created" | "duplicate" | "invalid"
    message: Message | None = None
    errors: dict | None = None


def accept(workspace_id, items: list[IncomingMessage], source: str) -> list[Accepted]:
    """Store every valid item, commit, count and kick the drain once. One Accepted per item, in order."""
    live = close_access.live_connection(workspace_id) is not None
    results = [_accept_one(workspace_id, item, source, live) for item in items]
    created = {}
    for result in results:
        if result.status == "created":
            created[result.message.state] = created.get(result.message.state, 0) + 1
    db.session.commit()
    totals.count_changes(workspace_id, created)
    if created.get("queued"):
        scheduler.kick(workspace_id)
    return results


def _accept_one(workspace_id, item, source, live):
    errors = {}
    number = _number(workspace_id, item.whatsapp_number, errors)
    remote = None
    if item.chat.phone and item.chat.phone.strip():
        try:
            # National formats are read in the region of the member's own number.
            remote = to_e164(item.chat.phone, region_of(number.e164) if number else None)
        except InvalidPhone as exc:
            errors["chat.phone"] = str(exc)
    if errors:
        return Accepted("invalid", errors=errors)
    message, created = store(number, item, remote, source, live)
    return Accepted("created" if created else "duplicate", message)


def _number(workspace_id, raw, errors):
    try:
        e164 = to_e164(raw)
    except InvalidPhone:
        errors["whatsapp_number"] = "Not a valid phone number in international format."
        return None
    number = db.session.scalar(sa.select(WhatsAppNumber).where(
        WhatsAppNumber.workspace_id == workspace_id, WhatsAppNumber.e164 == e164))
    if number is None:
        errors["whatsapp_number"] = "This number is not registered in the workspace."
    return number


def _get_or_create_chat(number, chat_in, remote_phone):
    query = sa.select(Chat).where(Chat.whatsapp_number_id == number.id, Chat.external_id == chat_in.id)
    chat = db.session.scalar(query)
    if chat is not None:
        return chat
    try:
        with db.session.begin_nested():
            chat = Chat(workspace_id=number.workspace_id, whatsapp_number_id=number.id,
                        external_id=chat_in.id, kind=chat_in.type,
                        remote_phone=remote_phone, display_name=chat_in.name)
            db.session.add(chat)
    except IntegrityError:  # created concurrently by another request
        chat = db.session.scalar(query)
    return chat


def initial_state(workspace, chat_kind, connection_live):
    """The state a new row starts in; `received` only lives inside the ingest transaction."""
    if chat_kind == "group":
        return "skipped", SKIP_GROUP
    if not workspace.subscription_active:
        return "held", HOLD_SUBSCRIPTION
    if not connection_live:
        return "held", HOLD_DISCONNECTED
    return "queued", ""


def store(number, item, remote_phone, source, connection_live):
    """Insert the message (not committed). Returns (message, created)."""
    content = item.message
    existing = find(number.workspace_id, content.id)
    if existing is not None:
        return existing, False
    chat = _get_or_create_chat(number, item.chat, remote_phone)
    state, reason = initial_state(number.workspace, item.chat.type, connection_live)
    now = utcnow()
    message = Message(workspace_id=number.workspace_id, chat=chat, whatsapp_number_id=number.id,
                      external_id=content.id, source=source, direction=content.direction,
                      sent_at=content.sent_at, text=content.text, reply_to_external_id=content.reply_to or None,
                      attachments=[a.stored() for a in content.attachments], state=state, reason=reason,
                      queued_at=now if state == "queued" else None, created_at=now, updated_at=now)
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with db.session.begin_nested():
                db.session.add(message)
            return message, True
        except IntegrityError:  # the same id won a concurrent race: answer with that row
            existing = find(number.workspace_id, content.id)
            if existing is None:
                raise
            return existing, False
        except OperationalError as exc:
            # SQLite answers "database is locked" at once (no busy wait) when another writer
            # committed under this transaction's feet; the savepoint is gone, so just write again.
            if "database is locked" not in str(exc) or attempt == WRITE_ATTEMPTS:
                raise
            time.sleep(0.02 * attempt)


def find(workspace_id, external_id):
    return db.session.scalar(sa.select(Message).where(
        Message.workspace_id == workspace_id, Message.external_id == external_id))
