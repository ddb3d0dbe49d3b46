"""POST /api/v1/messages, POST /api/v1/messages/batch, GET /api/v1/messages/<id>, GET /api/openapi.json.

Views are thin: the key (decorator), the JSON body, the schema (webapp/messages/schema.py), then
ingest.accept() stores, commits, counts and kicks. The row is committed before the 202.
"""
import json

from flask import current_app, g, jsonify, request
from pydantic import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from webapp.api.auth import api_key_required
from webapp.api.blueprint import bp
from webapp.api.openapi import document
from webapp.core.errors import json_error as error
from webapp.messages import close_access, ingest
from webapp.messages.schema import MAX_BATCH, IncomingMessage, MessageRecord, field_errors

STATUS = {"created": 202, "duplicate": 200, "invalid": 400}


def record(message):
    """The public view of a message and its sync state (schema MessageRecord)."""
    return MessageRecord(
        id=message.external_id, whatsapp_number=message.number.e164,
        chat={"id": message.chat.external_id, "type": message.chat.kind},
        direction=message.direction, sent_at=message.sent_at.isoformat(),
        received_at=message.created_at.isoformat(), state=message.state, reason=message.reason or None,
        attempts=message.attempts, next_attempt_at=_iso(message.next_attempt_at), synced_at=_iso(message.synced_at),
        close={"lead_id": message.close_lead_id, "activity_id": message.close_activity_id,
               "lead_url": close_access.lead_url(message.close_lead_id)},
    ).model_dump(mode="json")


def _iso(value):
    return value.isoformat() if value else None


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


def _invalid(errors):
    return {"error": "invalid_message", "message": "The message is invalid.", "errors": errors}


def _parse(body):
    """(IncomingMessage, None) or (None, {field: message})."""
    try:
        return IncomingMessage.model_validate(body), None
    except ValidationError as exc:
        return None, field_errors(exc)


@bp.post("/v1/messages")
@api_key_required
def create_message():
    body, problem = _json_body()
    if problem:
        return problem
    item, errors = _parse(body)
    if errors:
        return jsonify(_invalid(errors)), 400
    result = ingest.accept(g.api_key.workspace_id, [item], "api", answering=True)[0]
    if result.status == "invalid":
        return jsonify(_invalid(result.errors)), 400
    return jsonify(record(result.message)), STATUS[result.status]


@bp.post("/v1/messages/batch")
@api_key_required
def create_batch():
    body, problem = _json_body()
    if problem:
        return problem
    raw_items = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(raw_items, list) or not raw_items:
        return error(400, "invalid_request", "The body must be {\"messages\": [...]} with 1 to 500 messages.",
                     {"messages": "A non-empty list is required."})
    if len(raw_items) > MAX_BATCH:
        return error(413, "too_many_messages", f"At most {MAX_BATCH} messages per batch.",
                     {"messages": f"At most {MAX_BATCH} items."})
    parsed = [_parse(raw) for raw in raw_items]
    accepted = iter(ingest.accept(g.api_key.workspace_id, [item for item, _ in parsed if item], "api",
                                  answering=True))
    results = []
    for index, (item, errors) in enumerate(parsed):
        outcome = next(accepted) if item else ingest.Accepted("invalid", errors=errors)
        entry = {"index": index, "status": STATUS[outcome.status]}
        if outcome.errors:
            entry["errors"] = outcome.errors
        if outcome.message is not None:
            entry["message"] = record(outcome.message)
        results.append(entry)
    counts = {s: sum(1 for r in results if r["status"] == STATUS[s]) for s in STATUS}
    status = 202 if counts["created"] else 200 if counts["duplicate"] else 400
    return jsonify({"created": counts["created"], "duplicates": counts["duplicate"], "invalid": counts["invalid"],
                    "results": results}), status


@bp.get("/v1/messages/<path:message_id>")
@api_key_required
def get_message(message_id):
    message = ingest.find(g.api_key.workspace_id, message_id)
    if message is None:
        return error(404, "not_found", "No message with this id in the workspace.")
    return jsonify(record(message))


@bp.get("/openapi.json")
def openapi():
    return jsonify(document())
