"""The OpenAPI 3.0 document of the ingestion API, served at /api/openapi.json.

Kept true by tests/sync/test_openapi.py (real responses validated with openapi-core) and
tests/sync/test_schemathesis.py (generated requests, every response checked against it).
"""
from copy import deepcopy

STATES = ["received", "queued", "synced", "skipped", "held", "failed", "dead"]

_nullable_str = {"type": "string", "nullable": True}
_datetime = {"type": "string", "format": "date-time"}

SCHEMAS = {
    "Attachment": {
        "type": "object",
        "description": "A file, by URL (fetched by the worker) or inline as base64. Exactly one of url/data. "
                       "Files over Close's 25 MB per message are synced without the file (reason noted).",
        "required": ["filename", "content_type"],
        "properties": {
            "filename": {"type": "string", "minLength": 1, "maxLength": 255},
            "content_type": {"type": "string", "pattern": r"^[\w.+-]+/[\w.+-]+$", "maxLength": 100,
                             "example": "image/jpeg"},
            "url": {"type": "string", "format": "uri", "pattern": r"^https?://\S+$", "maxLength": 2000},
            "data": {"type": "string", "format": "byte", "description": "base64"},
        },
    },
    "MessageIn": {
        "type": "object",
        "required": ["whatsapp_number", "chat", "message"],
        "properties": {
            "whatsapp_number": {"type": "string", "minLength": 1, "maxLength": 40, "example": "+14155550001",
                                "description": "The workspace's registered WhatsApp number (E.164)."},
            "chat": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "string", "minLength": 1, "maxLength": 200},
                    "type": {"type": "string", "enum": ["direct", "group"], "default": "direct"},
                    "phone": {"type": "string", "minLength": 1, "maxLength": 40, "example": "(415) 555-0101",
                              "description": "The customer's phone; national formats are read in the region "
                                             "of whatsapp_number. Required for direct chats."},
                    "name": {"type": "string", "maxLength": 200},
                },
            },
            "message": {
                "type": "object",
                "required": ["id", "direction", "sent_at"],
                "description": "Needs text or at least one attachment.",
                "properties": {
                    "id": {"type": "string", "minLength": 1, "maxLength": 200,
                           "description": "The message id in WhatsApp; the idempotency key."},
                    "direction": {"type": "string", "enum": ["incoming", "outgoing"]},
                    "sent_at": {"type": "string", "format": "date-time",
                                "description": "ISO 8601 with a UTC offset or Z."},
                    "text": {"type": "string", "maxLength": 65536},
                    "reply_to": {"type": "string", "minLength": 1, "maxLength": 200,
                                 "description": "Id of the message this one replies to."},
                    "attachments": {"type": "array", "maxItems": 10,
                                    "items": {"$ref": "#/components/schemas/Attachment"}},
                },
            },
        },
    },
    "MessageRecord": {
        "type": "object",
        "required": ["id", "whatsapp_number", "chat", "direction", "sent_at", "received_at", "state",
                     "reason", "attempts", "next_attempt_at", "synced_at", "close"],
        "properties": {
            "id": {"type": "string"},
            "whatsapp_number": {"type": "string"},
            "chat": {"type": "object", "required": ["id", "type"],
                     "properties": {"id": {"type": "string"},
                                    "type": {"type": "string", "enum": ["direct", "group"]}}},
            "direction": {"type": "string", "enum": ["incoming", "outgoing"]},
            "sent_at": _datetime,
            "received_at": _datetime,
            "state": {"type": "string", "enum": STATES,
                      "description": "received → queued → synced | skipped | held | failed → dead"},
            "reason": dict(_nullable_str, description="Why skipped/held/failed/dead, or a note on a synced one."),
            "attempts": {"type": "integer", "minimum": 0},
            "next_attempt_at": dict(_datetime, nullable=True),
            "synced_at": dict(_datetime, nullable=True),
            "close": {"type": "object", "required": ["lead_id", "activity_id", "lead_url"],
                      "properties": {"lead_id": _nullable_str, "activity_id": _nullable_str,
                                     "lead_url": _nullable_str}},
        },
    },
    "BatchIn": {
        "type": "object",
        "required": ["messages"],
        "properties": {"messages": {"type": "array", "minItems": 1, "maxItems": 500,
                                    "items": {"$ref": "#/components/schemas/MessageIn"}}},
    },
    "BatchResult": {
        "type": "object",
        "required": ["created", "duplicates", "invalid", "results"],
        "properties": {
            "created": {"type": "integer"}, "duplicates": {"type": "integer"}, "invalid": {"type": "integer"},
            "results": {"type": "array", "items": {
                "type": "object", "required": ["index", "status"],
                "properties": {"index": {"type": "integer"},
                               "status": {"type": "integer", "enum": [200, 202, 400]},
                               "message": {"$ref": "#/components/schemas/MessageRecord"},
                               "errors": {"$ref": "#/components/schemas/FieldErrors"}}}},
        },
    },
    "FieldErrors": {"type": "object", "additionalProperties": {"type": "string"},
                    "description": "Field path (e.g. chat.phone) → what is wrong."},
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"},
                       "errors": {"$ref": "#/components/schemas/FieldErrors"}},
    },
}


def _json(ref, description):
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


_ERR = "#/components/schemas/Error"
_REC = "#/components/schemas/MessageRecord"
_COMMON = {"401": _json(_ERR, "Missing, unknown or revoked API key."),
           "413": _json(_ERR, "Body too large.")}

PATHS = {
    "/api/v1/messages": {"post": {
        "operationId": "createMessage",
        "summary": "Ingest one WhatsApp message (idempotent on message.id)",
        "description": "Answers as soon as the row is committed; Close is called later by a worker.",
        "security": [{"apiKey": []}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/MessageIn"}}}},
        "responses": dict({
            "202": _json(_REC, "Stored; will be synced."),
            "200": _json(_REC, "Already stored earlier with this id: the existing record, nothing created."),
            "400": _json(_ERR, "Invalid JSON or fields (per-field errors)."),
        }, **_COMMON),
    }},
    "/api/v1/messages/batch": {"post": {
        "operationId": "createMessages",
        "summary": "Ingest up to 500 messages",
        "description": "Each item is handled like POST /api/v1/messages; per-item status 202/200/400. "
                       "Answers 202 when at least one was created, 200 when all were known, 400 when none was valid.",
        "security": [{"apiKey": []}],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/BatchIn"}}}},
        "responses": dict({
            "202": _json("#/components/schemas/BatchResult", "At least one message stored."),
            "200": _json("#/components/schemas/BatchResult", "Nothing new (all known)."),
            "400": {"description": "No valid message, or a malformed body.", "content": {"application/json": {
                "schema": {"oneOf": [{"$ref": "#/components/schemas/BatchResult"}, {"$ref": _ERR}]}}}},
        }, **dict(_COMMON, **{"413": _json(_ERR, "Body too large, or more than 500 messages.")})),
    }},
    "/api/v1/messages/{message_id}": {"get": {
        "operationId": "getMessage",
        "summary": "A message and its sync state",
        "security": [{"apiKey": []}],
        "parameters": [{"name": "message_id", "in": "path", "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 200}}],
        "responses": {"200": _json(_REC, "The record."), "401": _COMMON["401"],
                      "400": _json(_ERR, "The id contains a NUL byte or invalid Unicode."),
                      "404": _json(_ERR, "No such message in the key's workspace.")},
    }},
    "/api/webhooks/whatsapp": {
        "get": {
            "operationId": "verifyWhatsAppWebhook",
            "summary": "Meta's verification handshake",
            "parameters": [
                {"name": "hub.mode", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "hub.verify_token", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "hub.challenge", "in": "query", "required": False, "schema": {"type": "string"}},
            ],
            "responses": {
                "200": {"description": "hub.challenge echoed (mode subscribe, token matches WHATSAPP_VERIFY_TOKEN).",
                        "content": {"text/plain": {"schema": {"type": "string"}}}},
                "400": _json(_ERR, "A parameter contains a NUL byte or invalid Unicode."),
                "403": _json(_ERR, "Wrong mode or token (or no token configured)."),
            },
        },
        "post": {
            "operationId": "receiveWhatsAppWebhook",
            "summary": "WhatsApp Cloud API webhook (messages)",
            "description": "Signed with X-Hub-Signature-256 (HMAC-SHA256 of the raw body with WHATSAPP_APP_SECRET), "
                           "checked before the body is parsed; bodies over 256 KB are refused unread. "
                           "metadata.phone_number_id picks the one workspace that registered it; messages for "
                           "an unregistered id are acknowledged with 200, logged and not stored, so Meta does "
                           "not retry them forever. Signed but malformed messages are acknowledged and listed in "
                           "`rejected`.",
            "parameters": [{"name": "X-Hub-Signature-256", "in": "header", "required": False,
                            "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": {"description": "Accepted (stored, duplicate, or ignored).", "content": {
                    "application/json": {"schema": {
                        "type": "object", "required": ["stored", "duplicates", "ignored"],
                        "properties": {"stored": {"type": "integer"}, "duplicates": {"type": "integer"},
                                       "ignored": {"type": "integer"},
                                       "rejected": {"type": "array", "items": {
                                           "type": "object", "required": ["id", "errors"],
                                           "properties": {"id": {"type": "string", "nullable": True},
                                                          "errors": {"$ref": "#/components/schemas/FieldErrors"}}}}}}}}},
                "401": _json(_ERR, "Missing or wrong signature; nothing stored."),
                "413": _COMMON["413"],
            },
        },
    },
    "/api/openapi.json": {"get": {
        "operationId": "openapi", "summary": "This document",
        "responses": {"200": {"description": "OpenAPI 3 document",
                              "content": {"application/json": {"schema": {"type": "object"}}}}},
    }},
}


def document():
    return {
        "openapi": "3.0.3",
        "info": {"title": "Closeline ingestion API", "version": "1.0.0",
                 "description": "Feed WhatsApp messages to Closeline; they are synced to Close as WhatsApp "
                                "activities. Sync state per message: received → queued → synced | skipped | "
                                "held | failed → dead."},
        "paths": deepcopy(PATHS),
        "components": {
            "schemas": deepcopy(SCHEMAS),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "A workspace API key (Settings → API keys)."}},
        },
    }
