"""WhatsApp Cloud API webhook: handshake, signature on the raw body, mapping, idempotency."""
import hashlib
import hmac
import json

from tests.helpers.messages import activities, messages

SECRET = "app-secret"
VERIFY = "verify-me"


def _sign(raw, secret=SECRET):
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def _payload(messages_, display="14155550001", contacts=None, pnid="PNID"):
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display, "phone_number_id": pnid},
        "contacts": contacts or [{"profile": {"name": "Gob"}, "wa_id": "14155550101"}],
        "messages": messages_}}]}]}


def _text(mid, body="Hi from WhatsApp", sender="14155550101", **extra):
    return dict({"from": sender, "id": mid, "timestamp": "1748768400", "type": "text", "text": {"body": body}}, **extra)


def _post(client, payload, signature=True, raw=None):
    raw = raw if raw is not None else json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if signature is True:
        headers["X-Hub-Signature-256"] = _sign(raw)
    elif signature:
        headers["X-Hub-Signature-256"] = signature
    return client.post("/api/webhooks/whatsapp", data=raw, headers=headers)


def _configure(app):
    """The webhook secrets, and Acme's owner number registered as Cloud API phone_number_id PNID."""
    import sqlalchemy as sa

    from webapp.core.extensions import db
    from webapp.models import CloudApiNumber, WhatsAppNumber
    app.config.update(WHATSAPP_APP_SECRET=SECRET, WHATSAPP_VERIFY_TOKEN=VERIFY)
    number = db.session.scalar(sa.select(WhatsAppNumber).where(WhatsAppNumber.e164 == "+14155550001"))
    if number is not None:
        db.session.add(CloudApiNumber(workspace_id=number.workspace_id, phone_number_id="PNID",
                                      whatsapp_number_id=number.id))
        db.session.commit()


def test_verification_handshake(app):
    _configure(app)
    client = app.test_client()
    ok = client.get(f"/api/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=1158201444")
    assert ok.status_code == 200 and ok.get_data(as_text=True) == "1158201444"
    assert client.get("/api/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1").status_code == 403
    assert client.get(f"/api/webhooks/whatsapp?hub.mode=unsubscribe&hub.verify_token={VERIFY}&hub.challenge=1").status_code == 403
    assert client.get("/api/webhooks/whatsapp").status_code == 403
    app.config["WHATSAPP_VERIFY_TOKEN"] = ""
    assert client.get("/api/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=&hub.challenge=1").status_code == 403


def test_signature_is_checked_on_the_raw_body(app, demo, sandbox_connection):
    _configure(app)
    client = app.test_client()
    raw = json.dumps(_payload([_text("wamid.1")])).encode()
    assert _post(client, None, signature=None, raw=raw).status_code == 401             # missing
    assert _post(client, None, signature="sha256=" + "0" * 64, raw=raw).status_code == 401
    assert _post(client, None, signature=_sign(raw, "other"), raw=raw).status_code == 401
    assert _post(client, None, signature=_sign(raw)[7:], raw=raw).status_code == 401  # no sha256= prefix
    # Same JSON, different bytes (whitespace): the signature covers the raw body, not the parsed JSON.
    assert _post(client, None, signature=_sign(raw), raw=raw.replace(b", ", b",  ")).status_code == 401
    assert messages() == []
    app.config["WHATSAPP_APP_SECRET"] = ""  # nothing configured: fail closed
    assert _post(client, None, signature=_sign(raw, ""), raw=raw).status_code == 401
    app.config["WHATSAPP_APP_SECRET"] = SECRET
    response = _post(client, None, raw=raw)
    assert response.status_code == 200 and response.get_json() == {"stored": 1, "duplicates": 0, "ignored": 0}
    # signed but not an object: acknowledged (Meta would retry a 4xx forever), nothing stored
    assert _post(client, None, signature=_sign(b"[]"), raw=b"[]").get_json()["rejected"][0]["id"] is None


def test_text_and_media_map_into_the_pipeline(app, demo, sandbox_connection, close_sandbox, drain_now, ids):
    _configure(app)
    client = app.test_client()
    payload = _payload([
        _text("wamid.A"),
        _text("wamid.B", body="replying", context={"from": "14155550001", "id": "wamid.A"}),
        {"from": "14155550101", "id": "wamid.C", "timestamp": "1748768460", "type": "image",
         "image": {"id": "MEDIA1", "mime_type": "image/jpeg", "sha256": "x", "caption": "look"}},
        {"from": "14155550101", "id": "wamid.D", "timestamp": "1748768470", "type": "document",
         "document": {"id": "MEDIA2", "mime_type": "application/pdf", "filename": "quote.pdf"}},
    ])
    assert _post(client, payload).get_json() == {"stored": 4, "duplicates": 0, "ignored": 0}
    # Meta redelivers: idempotent on the WhatsApp message id.
    assert _post(client, payload).get_json() == {"stored": 0, "duplicates": 4, "ignored": 0}
    rows = {m.external_id: m for m in messages()}
    assert rows["wamid.A"].chat.remote_phone == "+14155550101" and rows["wamid.A"].chat.display_name == "Gob"
    assert rows["wamid.A"].source == "webhook" and rows["wamid.A"].sent_at.year == 2025
    assert rows["wamid.B"].reply_to_external_id == "wamid.A"
    assert rows["wamid.C"].text == "look" and rows["wamid.C"].attachments[0]["content_type"] == "image/jpeg"
    assert rows["wamid.D"].attachments[0]["filename"] == "quote.pdf"
    drain_now(demo.acme.id)
    rows = {m.external_id: m for m in messages()}
    assert {m.state for m in rows.values()} == {"synced"}
    assert activities(close_sandbox, "wamid.B")[0]["response_to_id"] == rows["wamid.A"].close_activity_id
    assert "WhatsApp media" in rows["wamid.D"].reason  # the file needs Graph API access: noted
    assert rows["wamid.A"].close_lead_id == ids.bluth


def test_unknown_business_number_is_acknowledged_not_stored(app, demo, caplog):
    _configure(app)
    response = _post(app.test_client(), _payload([_text("wamid.X")], pnid="999999"))
    assert response.status_code == 200 and response.get_json()["ignored"] == 1
    assert messages() == []
    assert "unregistered phone_number_id" in caplog.text


def test_statuses_and_malformed_items_are_ignored(app, demo, sandbox_connection):
    _configure(app)
    payload = _payload([])
    payload["entry"][0]["changes"][0]["value"]["statuses"] = [{"id": "wamid.S", "status": "delivered"}]
    assert _post(app.test_client(), payload).get_json() == {"stored": 0, "duplicates": 0, "ignored": 0}
    bad = _payload([{"id": "wamid.bad", "type": "text", "text": {"body": "x"}, "timestamp": "nope", "from": "1"}])
    assert _post(app.test_client(), bad).get_json()["ignored"] == 1
    assert _post(app.test_client(), {"entry": "x"}).status_code == 200
    assert messages() == []
