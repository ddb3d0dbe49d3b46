"""Ingestion: the single entry point of every source (API, batch, webhooks, gateway adapters).

    accept(workspace_id, items: list[IncomingMessage], source: str) -> list[Accepted]

Items are already shape-checked (webapp/messages/schema.py). accept() resolves the workspace's
number and the customer's phone, stores each message in the outbox (the messages table),
commits, updates the status-page totals and kicks the drain. Storing is idempotent on
(workspace, message id) even under concurrency: the unique constraint decides, a losing insert
is rolled back to its savepoint and the existing row returned. Close is never called here.

Privacy is decided here, in one place (webapp/messages/gate.py): a message of an excluded chat is
stored without text, attachments or sender (only that it was excluded, state `skipped`); any other
text is redacted before it is stored. Group chats sync only while pinned to a lead.
"""
import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from webapp.core.extensions import begin_writing, db
from webapp.core.phones import InvalidPhone, region_of, to_e164
from webapp.messages import close_access, scheduler, totals
from webapp.messages import gate as privacy
from webapp.messages.schema import IncomingMessage
from webapp.messages.states import (
    HOLD_DISCONNECTED,
    HOLD_HIDDEN_NUMBER,
    HOLD_SUBSCRIPTION,
    SKIP_GROUP,
    SKIP_HIDDEN_NUMBER,
)
from webapp.models import Chat, Message, WhatsAppNumber, utcnow

WRITE_ATTEMPTS = 4  # SQLite: a write that lost a race with another writer is tried again


@dataclass
class Accepted:
    """What happened to one item: created (new row), duplicate (known id: the existing row) or
    invalid (errors: {field path: message}, nothing stored)."""
    status: str                        # "created" | "duplicate" | "invalid"
    message: Message | None = None
    errors: dict | None = None


@dataclass
class _Memo:
    """What one accept() call looks up once instead of once per item."""
    rules: privacy.Rules
    known: dict                                   # message id → its row (already stored, or stored now)
    numbers: dict = field(default_factory=dict)   # raw number → (row or None, error)
    chats: dict = field(default_factory=dict)     # (number id, chat id) → Chat


def accept(workspace_id, items: list[IncomingMessage], source: str, wait_reason: str = "",
           answering: bool = False) -> list[Accepted]:
    """Store every valid item, commit, count and kick the drain once. One Accepted per item, in order.
    wait_reason: rows that would be queued are held with this reason instead (a history import
    feeds them to the outbox in slices, so live messages are never stuck behind it).
    answering: the caller answers from the returned rows and ends (an API request), so the commit
    leaves them loaded instead of having them read back (three queries per message)."""
    begin_writing(db.session)
    live = close_access.live_connection(workspace_id) is not None
    memo = _Memo(privacy.rules_for(workspace_id), _stored(workspace_id, [item.message.id for item in items]))
    results = [_accept_one(workspace_id, item, source, live, wait_reason, memo) for item in items]
    created = {}
    for result in results:
        if result.status == "created":
            created[result.message.state] = created.get(result.message.state, 0) + 1
    _commit(keep_loaded=answering)
    totals.count_changes(workspace_id, created)
    if created.get("queued"):
        scheduler.kick(workspace_id)
    return results


def _commit(keep_loaded):
    session = db.session()
    session.expire_on_commit = not keep_loaded
    try:
        session.commit()
    finally:
        session.expire_on_commit = True


def _accept_one(workspace_id, item, source, live, wait_reason, memo):
    errors = {}
    number = _number(workspace_id, item.whatsapp_number, errors, memo)
    remote = None
    if item.chat.phone and item.chat.phone.strip():
        try:
            # National formats are read in the region of the member's own number.
            remote = to_e164(item.chat.phone, region_of(number.e164) if number else None)
        except InvalidPhone as exc:
            errors["chat.phone"] = str(exc)
    if errors:
        return Accepted("invalid", errors=errors)
    message, created = store(number, item, remote, source, live, wait_reason, memo)
    return Accepted("created" if created else "duplicate", message)


def _number(workspace_id, raw, errors, memo):
    if raw not in memo.numbers:
        memo.numbers[raw] = _look_up_number(workspace_id, raw)
    number, error = memo.numbers[raw]
    if error:
        errors["whatsapp_number"] = error
    return number


def _look_up_number(workspace_id, raw):
    try:
        e164 = to_e164(raw)
    except InvalidPhone:
        return None, "Not a valid phone number in international format."
    number = db.session.scalar(sa.select(WhatsAppNumber).where(
        WhatsAppNumber.workspace_id == workspace_id, WhatsAppNumber.e164 == e164))
    return number, None if number else "This number is not registered in the workspace."


def _get_or_create_chat(number, chat_in, remote_phone):
    query = sa.select(Chat).where(Chat.whatsapp_number_id == number.id, Chat.external_id == chat_in.id)
    chat = db.session.scalar(query)
    if chat is not None:
        if chat.kind == "group" and chat_in.name and chat.display_name != chat_in.name:
            chat.display_name = chat_in.name  # a group's subject can change; the log and Close follow it
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


def initial_state(workspace, chat, connection_live):
    """The state a new row starts in; `received` only lives inside the ingest transaction."""
    if chat.kind == "group" and not chat.pinned_lead_id:
        return "skipped", SKIP_GROUP
    if not workspace.subscription_active:
        return "held", HOLD_SUBSCRIPTION
    if not connection_live:
        return "held", HOLD_DISCONNECTED
    return "queued", ""


def store(number, item, remote_phone, source, connection_live, wait_reason, memo):
    """Insert the message (not committed). Returns (message, created)."""
    content = item.message
    existing = memo.known.get(content.id)
    if existing is not None:
        return existing, False
    chat_key = (number.id, item.chat.id)
    if chat_key not in memo.chats:
        memo.chats[chat_key] = _get_or_create_chat(number, item.chat, remote_phone)
    chat = memo.chats[chat_key]
    decision = privacy.decide(memo.rules, chat, remote_phone, item.chat.labels, content.text)
    now = utcnow()
    if decision.excluded_reason:  # only that a message was excluded: no content at all
        message = Message(workspace_id=number.workspace_id, chat=chat, whatsapp_number_id=number.id,
                          external_id=content.id, source=source, direction=content.direction,
                          sent_at=content.sent_at, text="", attachments=[], state="skipped",
                          reason=decision.excluded_reason, created_at=now, updated_at=now)
        return _insert(number.workspace_id, message, memo)
    state, reason = initial_state(number.workspace, chat, connection_live)
    if state == "queued" and wait_reason:
        state, reason = "held", wait_reason
    sender = content.sender
    message = Message(workspace_id=number.workspace_id, chat=chat, whatsapp_number_id=number.id,
                      external_id=content.id, source=source, direction=content.direction,
                      sent_at=content.sent_at, text=decision.text, redactions=decision.redactions,
                      reply_to_external_id=content.reply_to or None,
                      sender_name=sender.name if sender else "", sender_phone=sender.phone if sender else None,
                      attachments=[_named_safely(memo.rules, a.stored()) for a in content.attachments],
                      state=state, reason=reason,
                      queued_at=now if state == "queued" else None, created_at=now, updated_at=now)
    return _insert(number.workspace_id, message, memo)


def _named_safely(rules, attachment):
    """A file name is redacted like text (a card number can be a file name)."""
    return dict(attachment, filename=privacy.redact_name(rules, attachment.get("filename")))


def _insert(workspace_id, message, memo):
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            with db.session.begin_nested():
                db.session.add(message)
            memo.known[message.external_id] = message
            return message, True
        except IntegrityError:  # the same id won a concurrent race: answer with that row
            existing = find(workspace_id, message.external_id)
            if existing is None:
                raise
            return existing, False
        except OperationalError as exc:
            # SQLite answers "database is locked" at once (no busy wait) when another writer
            # committed under this transaction's feet; the savepoint is gone, so just write again.
            if "database is locked" not in str(exc) or attempt == WRITE_ATTEMPTS:
                raise
            time.sleep(0.02 * attempt)


def _stored(workspace_id, external_ids):
    """{message id: row} of those already stored (one query for a whole batch)."""
    rows = db.session.scalars(sa.select(Message).where(Message.workspace_id == workspace_id,
                                                      Message.external_id.in_(set(external_ids))))
    return {row.external_id: row for row in rows}


def find(workspace_id, external_id):
    return db.session.scalar(sa.select(Message).where(
        Message.workspace_id == workspace_id, Message.external_id == external_id))


# -- a message that arrived but can't be stored with content yet (its customer's number is hidden) --------

def hold_without_number(number_id, chat_id, chat_name, message_id, direction, sent_at):
    """Show in the sync log that a message of a chat WhatsApp keeps the number of hidden arrived:
    `held` with the reason, and no content at all (no text, files or sender; the exclusion list
    can't be judged without the phone). Idempotent on the id; committed. The message itself is
    stored through accept() once its number is known (drop_without_number removes this row then)."""
    number = db.session.get(WhatsAppNumber, number_id)
    if number is None or find(number.workspace_id, message_id) is not None:
        return
    chat = _get_or_create_chat(number, _ChatIn(chat_id, "direct", chat_name), None)
    rules = privacy.rules_for(number.workspace_id)
    decision = privacy.decide(rules, chat, None, (), "")
    state, reason = ("skipped", decision.excluded_reason) if decision.excluded_reason else \
        ("held", HOLD_HIDDEN_NUMBER)
    now = utcnow()
    message = Message(workspace_id=number.workspace_id, chat=chat, whatsapp_number_id=number.id,
                      external_id=message_id, source="webhook", direction=direction, sent_at=sent_at, text="",
                      attachments=[], state=state, reason=reason, created_at=now, updated_at=now)
    _, created = _insert(number.workspace_id, message, _Memo(rules, {}))
    db.session.commit()
    if created:
        totals.count_changes(number.workspace_id, {state: 1})


def drop_without_number(workspace_id, message_id):
    """The held stand-in of a message whose number is now known goes (the message itself is stored)."""
    row = find(workspace_id, message_id)
    if row is None or row.reason not in (HOLD_HIDDEN_NUMBER, SKIP_HIDDEN_NUMBER):
        return
    state = row.state
    db.session.delete(row)
    db.session.commit()
    totals.count_changes(workspace_id, {state: -1})


def skip_without_number(workspace_id, message_id):
    """The number never came: the stand-in stays in the log as skipped, with that reason."""
    row = find(workspace_id, message_id)
    if row is None or row.reason != HOLD_HIDDEN_NUMBER:
        return
    row.state, row.reason, row.updated_at = "skipped", SKIP_HIDDEN_NUMBER, utcnow()
    db.session.commit()
    totals.count_changes(workspace_id, {"held": -1, "skipped": 1})


@dataclass
class _ChatIn:
    id: str
    type: str
    name: str
