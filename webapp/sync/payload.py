"""Building the Close WhatsApp activity of a message, attachments included (close-api.md §5.1).

Attachment bytes come from ONE function, fetch_attachment(); uploaded files are remembered on
the message (`close_url`), so a re-route re-uses them instead of downloading again.
"""
import base64
from dataclasses import dataclass, field

import requests
import sqlalchemy as sa
from flask import current_app

from webapp.extensions import db
from webapp.integrations.close.client import CloseTransient
from webapp.models import Message

DEFAULT_TYPE = "application/octet-stream"


class FetchFailed(Exception):
    """A download that may work later (network error, 5xx, 429)."""


class FetchRefused(Exception):
    """A download that will not work (4xx, too large)."""


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
        "remote_phone": message.chat.remote_phone,
        "message_markdown": message_markdown(message),
    }
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


def message_markdown(message):
    """Close requires a non-empty message_markdown: a media-only message names its files."""
    if message.text and message.text.strip():
        return message.text
    names = [item.get("filename") or "file" for item in message.attachments or []]
    return "\n".join(f"📎 {name}" for name in names) or "(empty message)"


def integration_link(message):
    """Close links the activity back to the message's chat in Closeline's sync log (1–2083 chars)."""
    base = (current_app.config.get("PUBLIC_URL") or "").rstrip("/")
    link = f"{base}/sync/?chat={message.chat_id}#message-{message.id}"
    return link if base.startswith(("http://", "https://")) and len(link) <= 2083 else None


def _close_file(item):
    return {"url": item["close_url"], "filename": item.get("filename") or "file",
            "content_type": item.get("content_type") or DEFAULT_TYPE}


def close_user_for(number, connection):
    member = number.membership
    if member is None or not connection.close_users:
        return None
    users = {k.lower(): v for k, v in connection.close_users.items()}
    return users.get(member.user.email.lower())


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
    for item in message.attachments:
        entry = {k: v for k, v in item.items() if k != "data"}
        kept.append(entry)
        name = item.get("filename") or "file"
        data, problem = attachment_bytes(item, limit, message.attempts)
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


def attachment_bytes(item, limit, attempts):
    """(bytes, None) or (None, why the file is left out). Raises CloseTransient for a blip worth
    retrying the whole message for (the first attempts only)."""
    if item.get("size") is not None and item["size"] > limit:
        return None, "over Close's 25 MB limit"
    if item.get("data") is not None:
        return base64.b64decode(item["data"]), None
    if item.get("url"):
        try:
            data, _, _ = fetch_attachment(item["url"], limit)
            return data, None
        except FetchRefused as exc:
            return None, str(exc)
        except FetchFailed as exc:
            if attempts < 3:
                raise CloseTransient(f"attachment download failed: {exc}") from exc
            return None, f"download failed ({exc})"
    if item.get("whatsapp_media_id"):
        return None, "WhatsApp media can't be downloaded (no Graph API access configured)"
    return None, "no file content"


def fetch_attachment(url, limit):
    """The one download of an attachment URL → (bytes, content_type, filename or None).
    Raises FetchRefused (will not work) or FetchFailed (may work later)."""
    try:
        with requests.get(url, stream=True, timeout=20) as response:
            if response.status_code >= 500 or response.status_code == 429:
                raise FetchFailed(f"HTTP {response.status_code}")
            if response.status_code != 200:
                raise FetchRefused(f"download failed (HTTP {response.status_code})")
            chunks, size = [], 0
            for chunk in response.iter_content(65536):
                size += len(chunk)
                if size > limit:
                    raise FetchRefused("over Close's 25 MB limit")
                chunks.append(chunk)
            return b"".join(chunks), response.headers.get("Content-Type"), None
    except requests.RequestException as exc:
        raise FetchFailed(str(exc)) from exc
