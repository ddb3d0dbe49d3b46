"""Building the Close WhatsApp activity of a message, attachments included (close-api.md §5.1).

Attachment bytes come from ONE function, fetch_attachment(), which goes through the guarded
fetcher (webapp/core/outbound.py: public addresses only, one deadline per file and per message, generic
reasons); uploaded files are remembered on the message (`close_url`), so a re-route re-uses them
instead of downloading again.
"""
import base64
import logging
import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import current_app

from webapp.clients.close.client import CloseTransient
from webapp.core import outbound
from webapp.core.extensions import db
from webapp.messages import attribution, cloud_media
from webapp.messages.redaction import note_for
from webapp.models import Message

log = logging.getLogger(__name__)

DEFAULT_TYPE = "application/octet-stream"


@dataclass
class Built:
    payload: dict
    notes: list = field(default_factory=list)
    attachments: list | None = None    # what to keep on the row once synced (no base64, + close_url)


def build_payload(message, ctx, route, reuse_uploads=False):
    """Every field of Close's CreateWhatsAppMessage that we know. reuse_uploads: attach the files
    uploaded for an earlier copy (re-route) instead of uploading again."""
    connection = ctx.connection
    number = message.number
    payload = {
        "external_whatsapp_message_id": message.external_id,
        "lead_id": route.lead_id,
        "contact_id": route.contact_id,
        "direction": message.direction,
        "activity_at": message.sent_at.isoformat(),
        "local_phone": number.e164,
        "message_markdown": message_markdown(message),
    }
    remote = message.chat.remote_phone if message.chat.kind == "direct" else _group_sender_phone(message)
    if not remote and message.chat.kind == "group":
        remote = number.e164  # Close needs a number; the text says whose is hidden
    if remote:
        payload["remote_phone"] = remote
    link = integration_link(message)
    if link:
        payload["integration_link"] = link
    user_id = close_user_for(number, connection)
    if user_id:
        payload["user_id"] = user_id
    reply = reply_activity_id(message, ctx)
    if reply:
        payload["response_to_id"] = reply
    built = Built(payload)
    if not message.attachments:
        return built
    if reuse_uploads:
        files = [_close_file(item) for item in message.attachments if item.get("close_url")]
        if files:
            payload["attachments"] = files
    elif connection.sync_attachments:
        files, built.notes, built.attachments = upload_attachments(message, ctx.client)
        if files:
            payload["attachments"] = files
    else:
        built.notes.append("attachments not synced (setting off)")
    return built


def inert_markdown(text):
    """Customer text can't make Close render a link, an image or HTML: `](` and `<` are escaped.
    WhatsApp's own *bold*, _italic_ and ~strike~ stay readable, and plain brackets stay as typed."""
    return text.replace("](", "]\\(").replace("<", "\\<")


def message_markdown(message):
    """The activity text (creation and later edits write the same field). Close requires it
    non-empty: a media-only message names its files; group messages start with who wrote them; a
    redaction is noted."""
    text = inert_markdown(message.text) if message.text and message.text.strip() else ""
    if not text:
        text = "\n".join(f"📎 {item.get('filename') or 'file'}" for item in message.attachments or [])
    if message.chat.kind == "group":
        who = " ".join(p for p in (message.sender_name, f"({message.sender_phone})" if message.sender_phone else "")
                       if p) or "Unknown sender"
        group = message.chat.display_name or "group chat"
        text = f"**{who}** in {group}:\n{text}" if text else f"**{who}** in {group}"
    note = note_for(message.redactions or {})
    text = f"{text}\n\n_{note}_" if note else text
    return text or "(empty message)"


def integration_link(message):
    """Close links the activity back to the message's chat in Closeline's sync log (1–2083 chars)."""
    base = (current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    link = f"{base}/sync/?chat={message.chat_id}#message-{message.id}"
    return link if base.startswith(("http://", "https://")) and len(link) <= 2083 else None


def _group_sender_phone(message):
    phone = (message.sender_phone or "").strip()
    return phone if phone.startswith("+") else None


def _close_file(item):
    return {"url": item["close_url"], "filename": item.get("filename") or "file",
            "content_type": item.get("content_type") or DEFAULT_TYPE}


def close_user_for(number, connection):
    """The member's Close user (picked on the Team page, else the same email), or None."""
    return attribution.close_user_id(number.membership, connection)


def reply_activity_id(message, ctx):
    """Close activity id of the replied-to message, when that one was synced (same org)."""
    if not message.reply_to_external_id:
        return None
    if message.reply_to_external_id in ctx.activity_ids:
        return ctx.activity_ids[message.reply_to_external_id]
    return db.session.scalar(sa.select(Message.close_activity_id).where(
        Message.workspace_id == message.workspace_id, Message.external_id == message.reply_to_external_id,
        Message.state == "synced", Message.close_org_id == ctx.connection.close_org_id))


def upload_attachments(message, client):
    """Upload within Close's 25 MB per-message total; files that can't go are noted, not fatal.
    Returns (Close files, notes, attachment metadata to keep on the row)."""
    limit = current_app.config["SYNC_MAX_ATTACHMENT_BYTES"]
    files, notes, kept, total = [], [], [], 0
    ends_at = time.monotonic() + current_app.config["SYNC_ATTACHMENT_MESSAGE_DEADLINE"]
    for item in message.attachments:
        entry = {k: v for k, v in item.items() if k != "data"}
        kept.append(entry)
        name = item.get("filename") or "file"
        data, problem = attachment_bytes(item, limit, message.attempts, ends_at, message.whatsapp_number_id)
        if problem:
            notes.append(f"synced without {name}: {problem}")
            continue
        if total + len(data) > limit:
            notes.append(f"synced without {name}: over Close's 25 MB limit per message")
            continue
        content_type = item.get("content_type") or DEFAULT_TYPE
        entry["close_url"] = client.upload_file(name, content_type, data)
        total += len(data)
        files.append(_close_file(entry))
    return files, notes, kept


def attachment_bytes(item, limit, attempts, ends_at, number_id=None):
    """(bytes, None) or (None, why the file is left out). Raises CloseTransient for a blip worth
    retrying the whole message for (the first attempts only), cloud_media.MediaSourceDown when a
    Cloud API file can't be fetched now. `ends_at`: the message's deadline; `number_id`: the
    WhatsAppNumber whose Cloud API access token fetches its media ids."""
    if item.get("size") is not None and item["size"] > limit:
        return None, "over Close's 25 MB limit"
    if item.get("data") is not None:
        return base64.b64decode(item["data"]), None
    if item.get("url"):
        try:
            return fetch_attachment(item["url"], limit, ends_at).content, None
        except outbound.FetchTooLarge:
            return None, "over Close's 25 MB limit"
        except outbound.FetchError as exc:
            log.info("attachment download refused/failed: %s", exc.detail)
            if exc.retryable and attempts < 3:  # a blip: retry the whole message later
                raise CloseTransient("attachment download failed") from None
            return None, outbound.describe(exc)
    if item.get("whatsapp_media_id"):
        left = min(current_app.config["SYNC_ATTACHMENT_FILE_DEADLINE"], ends_at - time.monotonic())
        if left <= 0:
            raise cloud_media.MediaSourceDown("WhatsApp media could not be fetched in time; the message is retried.")
        return cloud_media.fetch(number_id, item["whatsapp_media_id"], max_bytes=limit, deadline=left)
    return None, "no file content"


def fetch_attachment(url, limit, ends_at, allow_private=None):
    """The one download of an attachment → outbound.Fetched, through the guarded fetcher: one
    deadline per file, never past the message's. A URL from a message never gets `allow_private`
    (only a gateway an owner/admin configured does). Raises outbound.FetchError (generic text)."""
    left = min(current_app.config["SYNC_ATTACHMENT_FILE_DEADLINE"], ends_at - time.monotonic())
    if left <= 0:
        raise outbound.FetchFailed("the message's download deadline passed")
    return outbound.fetch(url, max_bytes=limit, deadline=left, allow_private=allow_private)
