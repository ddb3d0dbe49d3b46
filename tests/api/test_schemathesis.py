"""Generated requests against /api/openapi.json (schemathesis, driving the WSGI app directly):
500+ positive and 150 negative cases per operation; zero 5xx; every answer must match the document."""
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

POSITIVE_CASES = 500
NEGATIVE_CASES = 150
# The generated cases test the API document and the request checks, which are the same code on both
# databases (the storing path runs on PostgreSQL in the ingest tests): once, on SQLite, is enough.
pytestmark = pytest.mark.sqlite_only
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


def _run(operation, mode, examples, headers, counter):
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        if mode is GenerationMode.POSITIVE and isinstance(case.body, dict) and "whatsapp_number" in case.body:
            _make_storable(case.body, len(counter))
        response = case.call(headers=headers)
        # A 413 (over 500 messages, or too large) is a rejection too, which the check doesn't know.
        rejects = mode is GenerationMode.NEGATIVE and response.status_code != 413
        checks = CHECKS + ([negative_data_rejection] if rejects else [])
        case.validate_response(response, checks=checks, headers=headers)
        counter.append(response.status_code)
    check()


def _make_storable(body, n):
    """Random strings are rarely a registered number or a real phone: fix those on every other
    case, so the generated texts, ids and attachments also go through the storing path."""
    body["whatsapp_number"] = "+14155550001"
    chat, message = body.get("chat"), body.get("message")
    if n % 2 and isinstance(chat, dict) and isinstance(message, dict):
        chat["phone"] = "+14155550101"
        message["sent_at"] = "2025-06-01T09:00:00Z"


@pytest.mark.timeout(900)  # generous: a busy machine (a twin suite beside it) may be slow
def test_generated_requests_conform(app, api, sandbox_connection):
    app.config.update(WHATSAPP_APP_SECRET="s", WHATSAPP_VERIFY_TOKEN="t")
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    headers = {"Authorization": f"Bearer {api.key}"}
    started = time.monotonic()
    seen = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        statuses = []
        _run(operation, GenerationMode.POSITIVE, POSITIVE_CASES, headers, statuses)
        if operation.method.upper() == "POST":
            _run(operation, GenerationMode.NEGATIVE, NEGATIVE_CASES, headers, statuses)
        seen[operation.label] = statuses
    for label, statuses in seen.items():
        assert len(statuses) >= POSITIVE_CASES * 0.9, (label, len(statuses))  # hypothesis may dedupe a few
        assert not [s for s in statuses if s >= 500], label
    assert 202 in seen["POST /api/v1/messages"]  # some generated messages were really stored
    print({label: len(s) for label, s in seen.items()}, f"{time.monotonic() - started:.1f}s")
