"""ingest.accept(): the one entry point every source calls (API, batch, webhooks, gateway adapters)."""
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from tests.helpers.messages import messages


def _item(message_id, number="+14155550001", phone="+14155550101", **content):
    from webapp.messages.schema import IncomingMessage
    return IncomingMessage(whatsapp_number=number, chat={"id": f"chat-{phone}", "phone": phone, "name": "Gob"},
                           message={"id": message_id, "direction": "incoming",
                                    "sent_at": datetime(2025, 6, 1, 9, 0, tzinfo=UTC),
                                    "text": "from a gateway", **content})


def test_accept_stores_counts_and_kicks_like_the_api(app, sandbox_connection, demo):
    from webapp.core.redis_conn import get_queue
    from webapp.messages import ingest, totals
    totals.totals(demo.acme.id)  # cached: accept() must keep it true
    results = ingest.accept(demo.acme.id, [_item("g-1"), _item("g-1"), _item("g-2", number="+14155559999")],
                            "gateway")
    assert [r.status for r in results] == ["created", "duplicate", "invalid"]
    assert results[2].errors == {"whatsapp_number": "This number is not registered in the workspace."}
    rows = messages()
    assert [(m.external_id, m.source, m.state) for m in rows] == [("g-1", "gateway", "queued")]
    assert rows[0].chat.remote_phone == "+14155550101" and rows[0].text == "from a gateway"
    assert totals.totals(demo.acme.id)["queued"] == 1
    assert [job.func_name for job in get_queue().jobs] == ["jobs.sync.drain"]  # one drain, by dotted name


def test_a_chat_with_a_legacy_mexican_whatsapp_id_is_stored_under_todays_number(app, sandbox_connection, demo):
    """WhatsApp still addresses Mexican mobiles registered before 2019 as 521…: the chat is
    kept (not refused as invalid) under the number Close and the member know, +52…."""
    from webapp.messages import ingest
    (result,) = ingest.accept(demo.acme.id, [_item("mx-1", phone="+5215512345678")], "gateway")
    assert result.status == "created"
    assert messages()[0].chat.remote_phone == "+525512345678"


def test_accept_without_a_connection_holds(app, demo):
    from webapp.messages import ingest
    (result,) = ingest.accept(demo.acme.id, [_item("h-1")], "gateway")
    assert result.status == "created" and result.message.state == "held"
    assert result.message.reason == "disconnected"


def test_the_schema_refuses_with_the_field_path():
    with pytest.raises(ValidationError) as caught:
        _item("x-1", attachments=[{"filename": "a.png", "content_type": "png", "url": "ftp://x"}])
    from webapp.messages.schema import field_errors
    assert field_errors(caught.value) == {
        "message.attachments[0].content_type": "Must be a MIME type like image/jpeg.",
        "message.attachments[0].url": "Must be an http(s) URL."}


def test_openapi_components_are_the_models(app):
    from webapp.messages.schema import IncomingMessage
    document = app.test_client().get("/api/openapi.json").get_json()
    incoming = document["components"]["schemas"]["IncomingMessage"]
    assert set(incoming["required"]) == set(IncomingMessage.model_json_schema()["required"])
    assert document["paths"]["/api/v1/messages"]["post"]["requestBody"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/IncomingMessage"}
