"""Gateway messages → items of the generic ingestion API (the shape `ingest_bridge.submit` takes).

Shared by the webhook inbox and gap recovery. A chat known only by its LID is resolved to a phone
through the gateway (cached in LidMapping); when that fails the message is held, never guessed.
Media is downloaded from the gateway right away (gateways delete files after minutes).
"""
import base64
import mimetypes
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from webapp.clients.gateways.base import FILE_GONE, TOO_LARGE, GatewayError, media_label, media_note
from webapp.clients.gateways.http import MAX_MEDIA_BYTES
from webapp.core.extensions import db
from webapp.models import Chat, LidMapping, Message, utcnow

UNRESOLVED_LID = "waiting for the phone number of a chat WhatsApp shows only by its LID"
# A file the gateway could not fetch (kind "gone") is tried again while the message is this young:
# WhatsApp's servers fail now and then, and a file lost for good is said so only afterwards.
MEDIA_RETRY_WINDOW = timedelta(hours=1)
MEDIA_RETRY = "the file could not be fetched from the gateway yet; trying again"


class Hold(Exception):
    """Not storable yet (retried later): e.g. an unresolved LID."""


class HiddenNumber(Hold):
    """The chat is known only by its LID and the gateway does not know the phone (yet)."""

    def __init__(self):
        super().__init__(UNRESOLVED_LID)


def has_mapping(link, lid):
    return db.session.scalar(sa.select(LidMapping.id).where(
        LidMapping.gateway_id == link.gateway_id, LidMapping.lid == lid)) is not None


def stand_in_id(message):
    """The id of the held stand-in shown while the chat's number is hidden (its LID form)."""
    return canonical_id(message.from_me, message.chat_jid, message.short_id)


def canonical_id(from_me, chat_phone_jid, short_id):
    # One id per message whichever form (LID or phone) the gateway used for its chat.
    return f"{'true' if from_me else 'false'}_{chat_phone_jid}_{short_id}"


def stored_id_by_short_id(link, short_id):
    """External id of the number's stored message with this WhatsApp id (any chat form), or None."""
    if not short_id or link.whatsapp_number_id is None:
        return None
    return db.session.scalar(sa.select(Message.external_id).where(
        Message.workspace_id == link.workspace_id, Message.whatsapp_number_id == link.whatsapp_number_id,
        Message.external_id.endswith("_" + short_id, autoescape=True)).limit(1))


def resolve_chat(link, client, chat_jid, hint=None):
    """A direct chat's phone JID (`<digits>@c.us`); raises Hold when a LID can't be resolved."""
    if not chat_jid.endswith("@lid"):
        return chat_jid
    cached = db.session.scalar(sa.select(LidMapping.phone_jid).where(
        LidMapping.gateway_id == link.gateway_id, LidMapping.lid == chat_jid))
    if cached:
        return cached
    phone = hint
    if phone is None:
        try:
            phone = client.lid_to_phone(link.session_name, chat_jid)
        except GatewayError as exc:
            if exc.kind == "unreachable":
                raise
            phone = None
    if not phone:
        raise HiddenNumber()
    try:
        with db.session.begin_nested():
            db.session.add(LidMapping(gateway_id=link.gateway_id, lid=chat_jid, phone_jid=phone))
    except IntegrityError:
        pass
    return phone


def to_item(link, client, message):
    """GatewayMessage → generic item dict, or None for chats that are never synced."""
    if message.chat_kind == "ignore":
        return None
    sender = None
    if message.chat_kind == "group":
        chat_jid, phone = message.chat_jid, None
        name = _known_name(link, chat_jid) or _ask(client.chat_name, link.session_name, chat_jid)
        sender = _group_sender(link, client, message)
    else:
        chat_jid = resolve_chat(link, client, message.chat_jid, message.phone_hint)
        phone = "+" + chat_jid.split("@")[0]
        name = "" if message.from_me else message.sender_name
        if not name and not _known_name(link, chat_jid):
            # e.g. the member wrote first, or an engine without the push name: ask for the contact's name
            name = _ask(client.contact_name, link.session_name, message.chat_jid)
    text, attachments = message.text, []
    notes = []
    for index, media in enumerate(message.media):
        attachment, note = _attachment(link, client, message, media, index)
        if attachment:
            attachments.append(attachment)
        if note:
            notes.append(note)
    if notes:
        text = "\n".join([t for t in [text] if t] + notes)
    if not text.strip() and not attachments:
        text = "[empty message]"
    item = {
        "whatsapp_number": link.number.e164,
        "chat": {"id": chat_jid, "type": message.chat_kind, "name": name},
        "message": {
            "id": canonical_id(message.from_me, chat_jid, message.short_id),
            "direction": "outgoing" if message.from_me else "incoming",
            "sent_at": message.sent_at.isoformat(),
            "text": text,
            "attachments": attachments,
        },
    }
    if phone:
        item["chat"]["phone"] = phone
    if sender:
        item["message"]["sender"] = sender
    if message.reply_to_short_id:
        item["message"]["reply_to"] = _held_original(link, chat_jid, message.reply_to_short_id) or \
            canonical_id(message.reply_to_from_me, chat_jid, message.reply_to_short_id)
    return item


def _held_original(link, chat_jid, short_id):
    """External id of the quoted message when this number already holds it in this chat: whose it
    was is then known, not read from the quoted author's id (a LID in hidden-number chats)."""
    if link.whatsapp_number_id is None:
        return None
    return db.session.scalar(sa.select(Message.external_id).join(Chat, Chat.id == Message.chat_id).where(
        Message.workspace_id == link.workspace_id, Message.whatsapp_number_id == link.whatsapp_number_id,
        Chat.external_id == chat_jid, Message.external_id.in_(
            [canonical_id(True, chat_jid, short_id), canonical_id(False, chat_jid, short_id)])).limit(1))


def _known_name(link, chat_jid):
    """The name Closeline already holds for this chat of the number ("" when none, or no chat yet)."""
    if link.whatsapp_number_id is None:
        return ""
    return db.session.scalar(sa.select(Chat.display_name).where(
        Chat.whatsapp_number_id == link.whatsapp_number_id, Chat.external_id == chat_jid)) or ""


def _ask(lookup, *args):
    """A name from the gateway; a gateway that can't say now just leaves it empty (never holds the message)."""
    try:
        return lookup(*args) or ""
    except GatewayError:
        return ""


def _group_sender(link, client, message):
    """Who wrote a group message: their name and number (a hidden number stays unknown, never guessed)."""
    if message.from_me:
        member = link.membership.user if link.membership else None
        return {"name": (member.name if member else "") or "Me", "phone": link.number.e164}
    jid = message.participant or ""
    if jid.endswith("@lid"):
        try:
            jid = resolve_chat(link, client, jid, message.participant_hint)
        except Hold:
            jid = ""
    digits = jid.split("@")[0] if jid.endswith("@c.us") else ""
    return {"name": message.sender_name, "phone": "+" + digits if digits.isdigit() else None}


def _attachment(link, client, message, media, index):
    """(attachment or None, note or None). A file the gateway no longer has is fetched again with
    its message (gateways delete files after minutes) before it is given up, with a plain reason.
    Unreachable gateway → raises (the event is retried)."""
    kind = media_label(media.mimetype)
    if not media.url and media.ref is None:
        media, problem = _fetched_again(link, client, message, index, media.error)
        if media is None:
            return None, media_note(message.media[index].mimetype, problem)
    try:
        data, content_type = client.download_media(media)
    except GatewayError as exc:
        if exc.kind in ("unreachable", "server"):
            raise
        if exc.kind == "gone" and message.sent_at > utcnow() - MEDIA_RETRY_WINDOW:
            raise Hold(MEDIA_RETRY) from exc  # WhatsApp's servers fail now and then: try again later
        if exc.kind != "not_found":
            return None, media_note(media.mimetype, exc)
        again, problem = _fetched_again(link, client, message, index, FILE_GONE)
        if again is None:
            return None, media_note(media.mimetype, problem)
        try:
            data, content_type = client.download_media(again)
        except GatewayError as exc_again:
            if exc_again.kind in ("unreachable", "server"):
                raise
            return None, media_note(media.mimetype, FILE_GONE if exc_again.kind == "not_found" else exc_again)
    if len(data) > MAX_MEDIA_BYTES:
        return None, media_note(media.mimetype, TOO_LARGE).replace("not available", "not synced")
    content_type = (content_type or "application/octet-stream").split(";")[0].strip()
    kind = kind.replace(" ", "-")
    filename = media.filename or f"{kind}-{message.short_id}{'-' + str(index) if index else ''}" \
        f"{mimetypes.guess_extension(content_type) or ''}"
    return {"filename": filename[:255], "content_type": content_type,
            "data": base64.b64encode(data).decode()}, None


def _fetched_again(link, client, message, index, problem):
    """(fresh Media with a URL, None) or (None, why not). The gateway is asked for the message once more."""
    try:
        again = client.media_again(link.session_name, message, index)
    except GatewayError as exc:
        if exc.kind in ("unreachable", "server", "session_state"):
            raise  # try the whole event again later: the file may still come
        return None, FILE_GONE if exc.kind == "not_found" else problem
    if again is None or (not again.url and again.ref is None):
        return None, problem or (again.error if again is not None else None)
    return again, None
