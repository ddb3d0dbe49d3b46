"""WhatsApp Cloud API webhook (Meta's format) → the same ingestion pipeline.

GET: verification handshake (hub.mode=subscribe and hub.verify_token == WHATSAPP_VERIFY_TOKEN →
echo hub.challenge; else 403). POST: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw
body with WHATSAPP_APP_SECRET>` checked with compare_digest before anything is parsed; bad or
missing → 401, nothing stored. With no secret configured every POST is refused (fail closed).

The webhook has no API key: Meta's `metadata.phone_number_id` picks the one workspace whose
owner/admin registered it (webapp/account/cloud_numbers.py); display numbers that members add
never route webhook traffic. An unregistered id is answered 200 and logged: Meta retries non-2xx
deliveries for days, and nothing would ever make them succeed. Only a small body is read before
the signature is checked; a signed payload is acknowledged per message (bad ones are listed in the
answer and logged), never with a 500.
"""
import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime

from flask import current_app, jsonify, request
from pydantic import ValidationError

from webapp.account import cloud_numbers
from webapp.api.blueprint import bp
from webapp.core.errors import json_error as error
from webapp.core.extensions import db
from webapp.core.input_guard import char_problem, first_problem
from webapp.messages import ingest
from webapp.messages.schema import IncomingMessage, field_errors
from webapp.models import utcnow

log = logging.getLogger(__name__)

MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
WEBHOOK_MAX_BYTES = 256 * 1024   # Meta's payloads are small (media comes by id): read no more unsigned
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


def _read_limited(limit):
    """The raw body, or None when it is larger than `limit` (read no further than limit + 1 bytes)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        return None
    raw = request.stream.read(limit + 1)
    return None if len(raw) > limit else raw


@bp.post("/webhooks/whatsapp")
def receive():
    limit = current_app.config.get("WHATSAPP_WEBHOOK_MAX_BYTES") or WEBHOOK_MAX_BYTES
    raw = _read_limited(limit)
    if raw is None:
        return error(413, "payload_too_large", f"Webhook bodies are limited to {limit // 1024} KB.")
    if not signature_ok(raw, request.headers.get("X-Hub-Signature-256"),
                        current_app.config.get("WHATSAPP_APP_SECRET") or ""):
        log.warning("WhatsApp webhook with a missing or wrong signature refused")
        return error(401, "bad_signature", "Missing or wrong X-Hub-Signature-256.")
    counts = {"stored": 0, "duplicates": 0, "ignored": 0}
    payload = _parse(raw)
    if payload is None:
        counts["rejected"] = [{"id": None, "errors": {"body": "Not a JSON object (or nested too deeply)."}}]
        log.warning("signed WhatsApp webhook body is not usable JSON: acknowledged, nothing stored")
        return jsonify(counts)
    per_workspace = {}   # workspace id → [(message id, IncomingMessage)]
    for value in _values(payload):
        for workspace_id, item_id, item in _items(value, counts):
            per_workspace.setdefault(workspace_id, []).append((item_id, item))
    for workspace_id, pairs in per_workspace.items():
        results = ingest.accept(workspace_id, [item for _, item in pairs], "webhook")
        for (item_id, _), result in zip(pairs, results):
            if result.status == "invalid":
                _reject(counts, item_id, result.errors)
            else:
                counts["stored" if result.status == "created" else "duplicates"] += 1
    db.session.commit()  # nothing stored (only ignored messages): the request still ends cleanly
    return jsonify(counts)


def _parse(raw):
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(payload, dict) or (first_problem(payload) or ("", ""))[1].startswith("Nested"):
        return None
    return payload


def _values(payload):
    entries = payload.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            if isinstance(change, dict) and isinstance(change.get("value"), dict):
                yield change["value"]


def _items(value, counts):
    """(workspace id, message id, IncomingMessage) for each usable message of one change value;
    malformed ones are rejected (counted and listed), never raised."""
    raw_messages = value.get("messages")
    messages = [m for m in raw_messages if isinstance(m, dict)] if isinstance(raw_messages, list) else []
    metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
    _record_errors(value, messages, metadata)
    if not messages:
        return  # statuses (sent/delivered/read) and other fields: nothing to sync
    registration = cloud_numbers.for_webhook(metadata.get("phone_number_id"))
    if registration is None:
        counts["ignored"] += len(messages)
        log.warning("WhatsApp webhook for unregistered phone_number_id %r: %d message(s) ignored",
                    str(metadata.get("phone_number_id"))[:40], len(messages))
        return
    number = registration.number
    contacts = value.get("contacts") if isinstance(value.get("contacts"), list) else []
    names = {}
    for contact in contacts:
        if isinstance(contact, dict) and isinstance(contact.get("profile"), dict):
            names[str(contact.get("wa_id"))] = _text(contact["profile"].get("name"))
    for raw in messages:
        item_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        try:
            item = IncomingMessage.model_validate(to_ingest_body(raw, number.e164, names),
                                                  context={"media_ids": True})
        except ValidationError as exc:
            _reject(counts, item_id, field_errors(exc))
            continue
        yield number.workspace_id, item_id, item


def _error_entries(value, messages):
    found = []
    for holder in [value, *messages]:
        entries = holder.get("errors")
        found.extend(e for e in (entries if isinstance(entries, list) else []) if isinstance(e, dict))
    return found


def _describe_error(entry):
    details = entry.get("error_data") if isinstance(entry.get("error_data"), dict) else {}
    parts = [str(entry.get("code") or "").strip(), _text(entry.get("title")) or _text(entry.get("message")),
             _text(details.get("details"))]
    return " — ".join(p for p in parts if p)[:500] or "unspecified error"


def _record_errors(value, messages, metadata):
    """Meta's `errors` entries: logged, and the newest kept on the number for the WhatsApp page."""
    entries = _error_entries(value, messages)
    if not entries:
        return
    text = "; ".join(_describe_error(e) for e in entries)[:2000]
    registration = cloud_numbers.for_webhook(metadata.get("phone_number_id"))
    log.warning("WhatsApp Cloud API reported errors for phone_number_id %r: %s",
                str(metadata.get("phone_number_id"))[:40], char_safe(text))
    if registration is not None and not char_problem(text):
        registration.last_error, registration.last_error_at = text, utcnow()


def char_safe(text):
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _reject(counts, item_id, errors):
    counts["ignored"] += 1
    shown_id = item_id if item_id and not char_problem(item_id) else None
    counts.setdefault("rejected", []).append({"id": shown_id, "errors": errors})
    log.warning("WhatsApp webhook message %r rejected: %s", (item_id or "")[:100], errors)


def _text(value):
    return value if isinstance(value, str) else ""


def to_ingest_body(item, business_e164, names):
    """One Cloud API message → the body of POST /api/v1/messages."""
    sender = _text(item.get("from"))
    kind = item.get("type") if isinstance(item.get("type"), str) else "unknown"
    text, attachments = "", []
    if kind == "text":
        text = item.get("text")  # anything but {"body": "..."} is reported by validate
        text = text.get("body") if isinstance(text, dict) else text
    elif kind in MEDIA_TYPES:
        media = item.get(kind) if isinstance(item.get(kind), dict) else {}
        text = _text(media.get("caption"))
        attachments.append({
            "filename": _text(media.get("filename")) or f"{kind}-{_text(media.get('id')) or 'file'}",
            "content_type": _text(media.get("mime_type")) or DEFAULT_MIME[kind],
            "whatsapp_media_id": media.get("id"),
        })
    else:
        text = f"[{kind[:40] or 'unknown'} message]"  # reactions, locations…: noted, not dropped
    try:
        sent = datetime.fromtimestamp(int(item.get("timestamp")), tz=UTC).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        sent = item.get("timestamp")
    context = item.get("context") if isinstance(item.get("context"), dict) else {}
    return {
        "whatsapp_number": business_e164,
        "chat": {"id": sender, "type": "direct", "phone": "+" + sender if sender else None,
                 "name": names.get(sender) or ""},
        "message": {"id": item.get("id"), "direction": "incoming", "sent_at": sent, "text": text,
                    "reply_to": context.get("id"),
                    "attachments": attachments},
    }
