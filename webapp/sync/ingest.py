"""Ingestion: validate a message from any source and write it to the outbox (the messages table).

Every source (API, batch, WhatsApp webhook, demo traffic) calls `validate()` then `store()`.
`store()` is idempotent on (workspace, message id) even under concurrency: the unique
constraint decides, a losing insert is rolled back to its savepoint and the existing row returned.
Close is never called here.
"""
import base64
import binascii
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db
from webapp.input_guard import first_problem
from webapp.models import Chat, Message, WhatsAppNumber, utcnow
from webapp.phones import InvalidPhone, region_of, to_e164

MAX_ID = 200
MAX_TEXT = 65_536
MAX_ATTACHMENTS = 10
CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+$")

HOLD_SUBSCRIPTION = "subscription inactive"
HOLD_DISCONNECTED = "disconnected"
SKIP_GROUP = "Group chat: only direct chats are synced to Close."


@dataclass
class Incoming:
    """A validated message, ready to store."""
    number: WhatsAppNumber
    chat_id: str
    chat_kind: str
    remote_phone: str | None
    chat_name: str
    message_id: str
    direction: str
    sent_at: datetime
    text: str
    reply_to: str | None
    attachments: list = field(default_factory=list)


class Invalid(ValueError):
    def __init__(self, errors):
        super().__init__("invalid message")
        self.errors = errors


def _str(errors, obj, key, path, required=True, max_len=MAX_ID, min_len=1):
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None:
        if required:
            errors[path] = "This field is required."
        return None
    if not isinstance(value, str):
        errors[path] = "Must be a string."
        return None
    if required and len(value.strip()) < min_len:
        errors[path] = "Must not be empty."
        return None
    if len(value) > max_len:
        errors[path] = f"At most {max_len} characters."
        return None
    return value


def _obj(errors, body, key):
    value = body.get(key)
    if value is None:
        errors[key] = "This field is required."
        return {}
    if not isinstance(value, dict):
        errors[key] = "Must be an object."
        return {}
    if not value:  # an empty object would skip every check below (and store a row without a chat)
        errors[key] = "Must not be empty."
    return value


def parse_time(value):
    """ISO 8601 with a UTC offset (or Z); naive times are ambiguous and refused."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("Must be an ISO 8601 date-time string.")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError("Not an ISO 8601 date-time (e.g. 2025-06-01T09:30:00Z).")
    if parsed.tzinfo is None:
        raise ValueError("Include a UTC offset, e.g. 2025-06-01T09:30:00Z or +02:00.")
    if not 2000 <= parsed.year <= 2100:
        raise ValueError("Date is out of range.")
    return parsed.astimezone(timezone.utc)


def _attachments(errors, raw, media_ids=False):
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors["message.attachments"] = "Must be a list."
        return []
    if len(raw) > MAX_ATTACHMENTS:
        errors["message.attachments"] = f"At most {MAX_ATTACHMENTS} attachments."
        return []
    result = []
    for i, item in enumerate(raw):
        path = f"message.attachments[{i}]"
        if not isinstance(item, dict):
            errors[path] = "Must be an object."
            continue
        filename = _str(errors, item, "filename", f"{path}.filename", max_len=255)
        ctype = _str(errors, item, "content_type", f"{path}.content_type", max_len=100)
        if ctype and not CONTENT_TYPE.match(ctype):
            errors[f"{path}.content_type"] = "Must be a MIME type like image/jpeg."
        url, data = item.get("url"), item.get("data")
        if media_ids and item.get("whatsapp_media_id") and url is None and data is None:
            # WhatsApp webhook media: only an id; the file needs Graph API access (see delivery).
            result.append({"filename": filename, "content_type": ctype,
                           "whatsapp_media_id": str(item["whatsapp_media_id"])[:200]})
            continue
        if (url is None) == (data is None):
            errors[path] = "Give exactly one of url or data (base64)."
            continue
        entry = {"filename": filename, "content_type": ctype}
        if url is not None:
            if not isinstance(url, str) or not re.match(r"^https?://\S+$", url) or len(url) > 2000:
                errors[f"{path}.url"] = "Must be an http(s) URL."
                continue
            entry["url"] = url
        else:
            if not isinstance(data, str):
                errors[f"{path}.data"] = "Must be a base64 string."
                continue
            try:
                decoded = base64.b64decode(data, validate=True)
            except (binascii.Error, ValueError):
                errors[f"{path}.data"] = "Not valid base64."
                continue
            entry.update(data=data, size=len(decoded))
        result.append(entry)
    return result


def validate(body, workspace_id, media_ids=False):
    """Body of POST /api/v1/messages → Incoming, or raises Invalid({field: message}).
    media_ids: accept WhatsApp media-id attachments (webhook only)."""
    if not isinstance(body, dict):
        raise Invalid({"body": "Must be a JSON object."})
    unusable = first_problem(body)  # NUL, unpaired surrogates, deep nesting: this item only
    if unusable:
        raise Invalid({unusable[0]: unusable[1]})
    errors = {}
    number = None
    raw_number = _str(errors, body, "whatsapp_number", "whatsapp_number", max_len=40)
    if raw_number:
        try:
            e164 = to_e164(raw_number)
        except InvalidPhone:
            errors["whatsapp_number"] = "Not a valid phone number in international format."
        else:
            number = db.session.scalar(sa.select(WhatsAppNumber).where(
                WhatsAppNumber.workspace_id == workspace_id, WhatsAppNumber.e164 == e164))
            if number is None:
                errors["whatsapp_number"] = "This number is not registered in the workspace."

    chat = _obj(errors, body, "chat")
    message = _obj(errors, body, "message")
    chat_id = _str(errors, chat, "id", "chat.id") if chat else None
    kind = chat.get("type", "direct") if chat else "direct"
    if kind not in ("direct", "group"):
        errors["chat.type"] = "Must be 'direct' or 'group'."
    chat_name = _str(errors, chat, "name", "chat.name", required=False, max_len=200) or ""
    remote = None
    raw_phone = _str(errors, chat, "phone", "chat.phone", required=(kind == "direct"), max_len=40) \
        if chat else None
    if raw_phone:
        try:
            # National formats are read in the region of the member's own number.
            remote = to_e164(raw_phone, region_of(number.e164) if number else None)
        except InvalidPhone as exc:
            errors["chat.phone"] = str(exc)

    msg_id = _str(errors, message, "id", "message.id") if message else None
    direction = message.get("direction") if message else None
    if message and direction not in ("incoming", "outgoing"):
        errors["message.direction"] = "Must be 'incoming' or 'outgoing'."
    sent_at = None
    if message:
        if message.get("sent_at") is None:
            errors["message.sent_at"] = "This field is required."
        else:
            try:
                sent_at = parse_time(message.get("sent_at"))
            except ValueError as exc:
                errors["message.sent_at"] = str(exc)
    text = _str(errors, message, "text", "message.text", required=False, max_len=MAX_TEXT) or ""
    reply_to = _str(errors, message, "reply_to", "message.reply_to", required=False) if message else None
    attachments = _attachments(errors, message.get("attachments"), media_ids) if message else []
    if message and not text.strip() and not attachments and "message.attachments" not in errors \
            and "message.text" not in errors:
        errors["message.text"] = "A message needs text or at least one attachment."
    if errors:
        raise Invalid(errors)
    return Incoming(number=number, chat_id=chat_id, chat_kind=kind, remote_phone=remote,
                    chat_name=chat_name, message_id=msg_id, direction=direction, sent_at=sent_at,
                    text=text, reply_to=reply_to or None, attachments=attachments)


def _get_or_create_chat(incoming):
    number = incoming.number
    query = sa.select(Chat).where(Chat.whatsapp_number_id == number.id, Chat.external_id == incoming.chat_id)
    chat = db.session.scalar(query)
    if chat is not None:
        return chat
    try:
        with db.session.begin_nested():
            chat = Chat(workspace_id=number.workspace_id, whatsapp_number_id=number.id,
                        external_id=incoming.chat_id, kind=incoming.chat_kind,
                        remote_phone=incoming.remote_phone, display_name=incoming.chat_name)
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


def store(incoming, source, connection_live):
    """Insert the message (not committed). Returns (message, created)."""
    number = incoming.number
    existing = _find(number.workspace_id, incoming.message_id)
    if existing is not None:
        return existing, False
    chat = _get_or_create_chat(incoming)
    state, reason = initial_state(number.workspace, incoming.chat_kind, connection_live)
    now = utcnow()
    message = Message(workspace_id=number.workspace_id, chat=chat, whatsapp_number_id=number.id,
                      external_id=incoming.message_id, source=source, direction=incoming.direction,
                      sent_at=incoming.sent_at, text=incoming.text, reply_to_external_id=incoming.reply_to,
                      attachments=incoming.attachments, state=state, reason=reason,
                      queued_at=now if state == "queued" else None, created_at=now, updated_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(message)
    except IntegrityError:  # the same id won a concurrent race: answer with that row
        existing = _find(number.workspace_id, incoming.message_id)
        if existing is None:
            raise
        return existing, False
    return message, True


def _find(workspace_id, external_id):
    return db.session.scalar(sa.select(Message).where(
        Message.workspace_id == workspace_id, Message.external_id == external_id))
