"""WhatsApp Cloud API webhook (Meta's format) → the same ingestion pipeline.

GET: verification handshake (hub.mode=subscribe and hub.verify_token == WHATSAPP_VERIFY_TOKEN →
echo hub.challenge; else 403). POST: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
body with WHATSAPP_APP_SECRET>` checked with compare_digest before anything is parsed; bad or
missing → 401, nothing stored. With no secret configured every POST is refused (fail closed).

The webhook has no API key: the business number (metadata.display_phone_number) picks the
workspace(s) that registered it. An unregistered number is answered 200 and logged: Meta retries
non-2xx deliveries for days, and nothing would ever make them succeed.
"""
import hashlib
import hmac
import json
import logging
from datetime import datetime, timezone

import sqlalchemy as sa
from flask import current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from pydantic import ValidationError

from webapp.api.blueprint import bp
from webapp.api.errors import error
from webapp.extensions import db
from webapp.models import WhatsAppNumber
from webapp.phones import InvalidPhone, to_e164
from webapp.sync import ingest
from webapp.sync.schema import IncomingMessage, field_errors

log = logging.getLogger(__name__)

MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
DEFAULT_MIME = {"image": "image/jpeg", "document": "application/octet-stream", "audio": "audio/ogg",
                "video": "video/mp4", "sticker": "image/webp"}


@bp.get("/webhooks/whatsapp")
def verify():
    expected = current_app.config.get("WHATSAPP_VERIFY_TOKEN") or ""
    token = request.args.get("hub.verify_token", "")
    if request.args.get("hub.mode") == "subscribe" and expected and \
            hmac.compare_digest(token.encode(), expected.encode()):
        return request.args.get("hub.challenge", ""), 200, {"Content-Type": "text/plain; charset=utf-8"}
    return error(403, "forbidden", "Verification failed.")


def signature_ok(raw, header, secret):
    if not secret or not header or not header.startswith("sha256="):
        return False
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len("sha256="):].strip().lower().encode(), digest.encode())


@bp.post("/webhooks/whatsapp")
def receive():
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return error(413, "payload_too_large", "The body is too large.")
    if not signature_ok(raw, request.headers.get("X-Hub-Signature-256"),
                        current_app.config.get("WHATSAPP_APP_SECRET") or ""):
        log.warning("WhatsApp webhook with a missing or wrong signature refused")
        return error(401, "bad_signature", "Missing or wrong X-Hub-Signature-256.")
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        payload = None
    if not isinstance(payload, dict):
        return error(400, "invalid_json", "The body must be a JSON object.")
    counts = {"stored": 0, "duplicates": 0, "ignored": 0}
    per_workspace = {}
    for value in _values(payload):
        for workspace_id, item in _items(value, counts):
            per_workspace.setdefault(workspace_id, []).append(item)
    for workspace_id, items in per_workspace.items():
        for result in ingest.accept(workspace_id, items, "webhook"):
            counts[{"created": "stored", "duplicate": "duplicates", "invalid": "ignored"}[result.status]] += 1
    db.session.commit()  # nothing stored (only ignored messages): the request still ends cleanly
    return jsonify(counts)


def _values(payload):
    for entry in payload.get("entry") or []:
        if not isinstance(entry, dict):
            continue
        for change in entry.get("changes") or []:
            if isinstance(change, dict) and isinstance(change.get("value"), dict):
                yield change["value"]


def _numbers(display_phone):
    try:
        e164 = to_e164("+" + "".join(ch for ch in str(display_phone) if ch.isdigit()))
    except InvalidPhone:
        return []
    # Registered in several workspaces: each one gets its copy (each registered the number).
    return db.session.scalars(sa.select(WhatsAppNumber).where(WhatsAppNumber.e164 == e164)).all()


def _items(value, counts):
    """(workspace id, IncomingMessage) for each message of one change value; counts the ignored."""
    messages = [m for m in value.get("messages") or [] if isinstance(m, dict)]
    if not messages:
        return  # statuses (sent/delivered/read) and other fields: nothing to sync
    metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
    numbers = _numbers(metadata.get("display_phone_number", ""))
    if not numbers:
        counts["ignored"] += len(messages)
        log.warning("WhatsApp webhook for unregistered business number %r (phone_number_id %r): %d message(s) "
                    "ignored", metadata.get("display_phone_number"), metadata.get("phone_number_id"),
                    len(messages))
        return
    names = {c.get("wa_id"): (c.get("profile") or {}).get("name", "")
             for c in value.get("contacts") or [] if isinstance(c, dict)}
    for number in numbers:
        for raw in messages:
            try:
                item = IncomingMessage.model_validate(to_ingest_body(raw, number.e164, names),
                                                      context={"media_ids": True})
            except ValidationError as exc:
                counts["ignored"] += 1
                log.warning("WhatsApp webhook message %r ignored: %s", raw.get("id"), field_errors(exc))
                continue
            yield number.workspace_id, item


def to_ingest_body(item, business_e164, names):
    """One Cloud API message → the body of POST /api/v1/messages."""
    sender = str(item.get("from") or "")
    kind = item.get("type")
    text, attachments = "", []
    if kind == "text":
        text = (item.get("text") or {}).get("body", "")
    elif kind in MEDIA_TYPES:
        media = item.get(kind) or {}
        text = media.get("caption", "") or ""
        attachments.append({
            "filename": media.get("filename") or f"{kind}-{media.get('id', 'file')}",
            "content_type": media.get("mime_type") or DEFAULT_MIME[kind],
            "whatsapp_media_id": media.get("id"),
        })
    else:
        text = f"[{kind or 'unknown'} message]"  # reactions, locations…: noted, not dropped
    try:
        sent = datetime.fromtimestamp(int(item.get("timestamp")), tz=timezone.utc).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        sent = item.get("timestamp")
    context = item.get("context") or {}
    return {
        "whatsapp_number": business_e164,
        "chat": {"id": sender, "type": "direct", "phone": "+" + sender if sender else None,
                 "name": names.get(sender, "")},
        "message": {"id": item.get("id"), "direction": "incoming", "sent_at": sent, "text": text,
                    "reply_to": context.get("id") if isinstance(context, dict) else None,
                    "attachments": attachments},
    }
