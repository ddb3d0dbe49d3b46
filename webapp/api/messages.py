"""POST /api/v1/messages, POST /api/v1/messages/batch, GET /api/v1/messages/<id>, GET /api/openapi.json.

Views are thin: authenticate, parse JSON, call webapp.sync.ingest, commit, kick the drain, answer.
The row is committed before the 202; Close is never called here.
"""
import json

from flask import current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.api import bp
from webapp.api.auth import authenticate
from webapp.api.errors import error
from webapp.api.openapi import document
from webapp.extensions import db
from webapp.sync import close_access, ingest, service

MAX_BATCH = 500
UNAUTHORIZED = ("unauthorized", "Send a workspace API key as 'Authorization: Bearer <key>'.")


def record(message):
    """The public view of a message and its sync state (schema MessageRecord)."""
    return {
        "id": message.external_id,
        "whatsapp_number": message.number.e164,
        "chat": {"id": message.chat.external_id, "type": message.chat.kind},
        "direction": message.direction,
        "sent_at": message.sent_at.isoformat(),
        "received_at": message.created_at.isoformat(),
        "state": message.state,
        "reason": message.reason or None,
        "attempts": message.attempts,
        "next_attempt_at": message.next_attempt_at.isoformat() if message.next_attempt_at else None,
        "synced_at": message.synced_at.isoformat() if message.synced_at else None,
        "close": {"lead_id": message.close_lead_id, "activity_id": message.close_activity_id,
                  "lead_url": close_access.lead_url(message.close_lead_id)},
    }


def _unauthorized():
    return error(401, *UNAUTHORIZED, headers={"WWW-Authenticate": 'Bearer realm="closeline"'})


def _json_body():
    """(body, None) or (None, error response)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length and request.content_length > limit:
        return None, _too_large()
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        return None, _too_large()
    try:
        return json.loads(raw or b"null"), None
    except (ValueError, UnicodeDecodeError):
        return None, error(400, "invalid_json", "The body must be JSON.")


def _too_large():
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return error(413, "payload_too_large", f"The body is larger than {limit // (1024 * 1024)} MB.")


def _ingest_one(body, workspace_id, live):
    """(status, payload, message or None) for one item; not committed."""
    try:
        incoming = ingest.validate(body, workspace_id)
    except ingest.Invalid as exc:
        return 400, {"error": "invalid_message", "message": "The message is invalid.", "errors": exc.errors}, None
    message, created = ingest.store(incoming, "api", live)
    return (202 if created else 200), None, message


def _authenticated_body():
    """(api key, JSON body, None) or (None, None, error response)."""
    key = authenticate()
    if key is None:
        return None, None, _unauthorized()
    body, problem = _json_body()
    return key, body, problem


@bp.post("/v1/messages")
def create_message():
    key, body, problem = _authenticated_body()
    if problem:
        return problem
    workspace_id = key.workspace_id
    live = close_access.live_connection(workspace_id) is not None
    status, problem, message = _ingest_one(body, workspace_id, live)
    if problem:
        db.session.rollback()
        return jsonify(problem), 400
    answer = record(message)  # built before commit: no reloads of expired rows
    db.session.commit()
    if status == 202:
        service.count_changes(workspace_id, {message.state: 1})
        if message.state == "queued":
            service.kick(workspace_id)
    return jsonify(answer), status


@bp.post("/v1/messages/batch")
def create_batch():
    key, body, problem = _authenticated_body()
    if problem:
        return problem
    items = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return error(400, "invalid_request", "The body must be {\"messages\": [...]} with 1 to 500 messages.",
                     {"messages": "A non-empty list is required."})
    if len(items) > MAX_BATCH:
        return error(413, "too_many_messages", f"At most {MAX_BATCH} messages per batch.",
                     {"messages": f"At most {MAX_BATCH} items."})
    workspace_id = key.workspace_id
    live = close_access.live_connection(workspace_id) is not None
    results, messages = [], []
    for index, item in enumerate(items):
        status, problem, message = _ingest_one(item, workspace_id, live)
        messages.append(message)
        results.append({"index": index, "status": status, **({"errors": problem["errors"]} if problem else {})})
    created_states = {}
    for result, message in zip(results, messages):
        if message is not None:
            result["message"] = record(message)
            if result["status"] == 202:
                created_states[message.state] = created_states.get(message.state, 0) + 1
    db.session.commit()
    service.count_changes(workspace_id, created_states)
    created = sum(1 for r in results if r["status"] == 202)
    duplicates = sum(1 for r in results if r["status"] == 200)
    if created and any(m is not None and m.state == "queued" for m in messages):
        service.kick(workspace_id)
    status = 202 if created else 200 if duplicates else 400
    return jsonify({"created": created, "duplicates": duplicates, "invalid": len(items) - created - duplicates,
                    "results": results}), status


@bp.get("/v1/messages/<path:message_id>")
def get_message(message_id):
    key = authenticate()
    if key is None:
        return _unauthorized()
    message = ingest._find(key.workspace_id, message_id)
    if message is None:
        return error(404, "not_found", "No message with this id in the workspace.")
    return jsonify(record(message))


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())
