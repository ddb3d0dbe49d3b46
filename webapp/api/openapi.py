"""The OpenAPI 3.1 document of the ingestion API, served at /api/openapi.json.

The schemas are generated from the pydantic models that validate the requests and shape the
answers (webapp/messages/schema.py); only the paths are written here. Kept true by
tests/sync/test_openapi.py (real responses validated with openapi-core) and
tests/sync/test_schemathesis.py (generated requests, every response checked against it).
"""
from copy import deepcopy

from pydantic.json_schema import models_json_schema

from webapp.messages.schema import BatchIn, BatchResult, ErrorBody, IncomingMessage, MessageRecord, WebhookResult

REF = "#/components/schemas/{model}"


def _schemas():
    models = [(IncomingMessage, "validation"), (BatchIn, "validation"), (MessageRecord, "serialization"),
              (BatchResult, "serialization"), (ErrorBody, "serialization"), (WebhookResult, "serialization")]
    _, top = models_json_schema(models, ref_template=REF)
    return top["$defs"]


def _json(ref, description):
    return {"description": description, "content": {"application/json": {"schema": {"$ref": ref}}}}


_ERR = "#/components/schemas/ErrorBody"
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
            "schema": {"$ref": "#/components/schemas/IncomingMessage"}}}},
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
                "200": _json("#/components/schemas/WebhookResult", "Accepted (stored, duplicate, or ignored)."),
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
        "openapi": "3.1.0",
        "info": {"title": "Closeline ingestion API", "version": "1.0.0",
                 "description": "Feed WhatsApp messages to Closeline; they are synced to Close as WhatsApp "
                                "activities. Sync state per message: received → queued → synced | skipped | "
                                "held | failed → dead."},
        "paths": deepcopy(PATHS),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "A workspace API key (Settings → API keys)."}},
        },
    }
