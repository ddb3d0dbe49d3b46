"""/api/openapi.json stays true: real responses of every operation and status are validated
against it with openapi-core (the spec itself is validated on load)."""
import base64
import hashlib
import hmac
import json

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from openapi_core.testing import MockRequest

from tests.helpers.messages import body


@pytest.fixture
def spec(app):
    document = app.test_client().get("/api/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    return OpenAPI.from_dict(document)


def _check(spec, response, status=None):
    if status is not None:
        assert response.status_code == status, response.get_data(as_text=True)[:300]
    request = response.request  # its body is consumed: the operation is found by method + path
    mock = MockRequest("http://localhost", request.method.lower(), request.path, args=dict(request.args))
    spec.validate_response(mock, WerkzeugOpenAPIResponse(response))
    return response


def test_every_documented_answer_matches(app, spec, api, sandbox_connection, close_sandbox, drain_now, demo):
    c = app.test_client()
    auth = {"Authorization": f"Bearer {api.key}"}
    png = base64.b64encode(b"png").decode()
    _check(spec, c.post("/api/v1/messages", json=body("o-1", phone="+14155550101", attachments=[
        {"filename": "a.png", "content_type": "image/png", "data": png}]), headers=auth), 202)
    _check(spec, c.post("/api/v1/messages", json=body("o-1"), headers=auth), 200)
    _check(spec, c.post("/api/v1/messages", json={"chat": 1}, headers=auth), 400)
    _check(spec, c.post("/api/v1/messages", data=b"{", content_type="application/json", headers=auth), 400)
    _check(spec, c.post("/api/v1/messages", json=body(), headers={}), 401)
    _check(spec, c.get("/api/v1/messages/o-1", headers=auth), 200)
    drain_now(demo.acme.id)
    synced = _check(spec, c.get("/api/v1/messages/o-1", headers=auth), 200).get_json()
    assert synced["state"] == "synced" and synced["close"]["activity_id"].startswith("acti_")
    _check(spec, c.get("/api/v1/messages/none", headers=auth), 404)
    _check(spec, c.get("/api/v1/messages/none"), 401)
    batch = {"messages": [body("o-2"), body("o-1"), {"x": 1}]}
    _check(spec, c.post("/api/v1/messages/batch", json=batch, headers=auth), 202)
    _check(spec, c.post("/api/v1/messages/batch", json={"messages": [body("o-2")]}, headers=auth), 200)
    _check(spec, c.post("/api/v1/messages/batch", json={"messages": [{"x": 1}]}, headers=auth), 400)
    _check(spec, c.post("/api/v1/messages/batch", json={"messages": "no"}, headers=auth), 400)
    _check(spec, c.post("/api/v1/messages/batch", json={"messages": [body()] * 501}, headers=auth), 413)
    _check(spec, c.post("/api/v1/messages/batch", json={}, headers={}), 401)
    app.config["MAX_CONTENT_LENGTH"] = 200
    _check(spec, c.post("/api/v1/messages", json=body("too-big", text="x" * 500), headers=auth), 413)
    app.config["MAX_CONTENT_LENGTH"] = 40 * 1024 * 1024
    _check(spec, c.get("/api/openapi.json"), 200)


def test_webhook_answers_match(app, spec, demo, sandbox_connection):
    app.config.update(WHATSAPP_APP_SECRET="s", WHATSAPP_VERIFY_TOKEN="t")
    c = app.test_client()
    _check(spec, c.get("/api/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=t&hub.challenge=42"), 200)
    _check(spec, c.get("/api/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=x&hub.challenge=42"), 403)
    raw = json.dumps({"entry": [{"changes": [{"value": {"metadata": {"display_phone_number": "14155550001"},
                      "messages": [{"from": "14155550101", "id": "wamid.o", "timestamp": "1748768400",
                                    "type": "text", "text": {"body": "hi"}}]}}]}]}).encode()
    sig = "sha256=" + hmac.new(b"s", raw, hashlib.sha256).hexdigest()
    _check(spec, c.post("/api/webhooks/whatsapp", data=raw, content_type="application/json",
                        headers={"X-Hub-Signature-256": sig}), 200)
    _check(spec, c.post("/api/webhooks/whatsapp", data=raw, content_type="application/json",
                        headers={"X-Hub-Signature-256": "sha256=00"}), 401)
    bad = b"[1]"   # signed but not an object: acknowledged with the rejection listed (Meta retries 4xx)
    sig = "sha256=" + hmac.new(b"s", bad, hashlib.sha256).hexdigest()
    _check(spec, c.post("/api/webhooks/whatsapp", data=bad, content_type="application/json",
                        headers={"X-Hub-Signature-256": sig}), 200)
