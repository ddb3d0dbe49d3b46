"""Property-based: whatever JSON-ish thing arrives at the ingestion API or the signed webhook —
unpaired surrogates, NUL bytes, astral characters, huge numbers, wrong types, deep structures —
the answer is never a 5xx, and an answer that refuses stores nothing."""
import hashlib
import hmac
import json
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from webapp.core.extensions import db
from webapp.models import CloudApiNumber, Message, WhatsAppNumber

SECRET = "prop-secret"
PNID = "1234567890"

# Every code point, surrogates and NUL included, plus the hand-picked troublemakers.
plain_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=30)
nasty_text = st.one_of(
    plain_text, plain_text, plain_text, plain_text,
    st.text(st.characters(codec=None, categories=None), max_size=40),
    st.sampled_from(["\ud800", "a\udfffb", "\x00", "nul\x00", "\U0001f600" * 3, "\u202e", "\ufeff", "",
                     " ", "x" * 5000, "+14155550101", "14155550101", "2025-06-01T09:00:00Z", "1748768400"]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
                    st.floats(allow_nan=False, allow_infinity=False), nasty_text)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(nasty_text, inner, max_size=4)), max_leaves=20)


def _maybe(value_strategy, good):
    return st.one_of(st.just(good), st.just(good), st.just(good), value_strategy)


attachments = st.lists(st.fixed_dictionaries({
    "filename": nasty_text, "content_type": st.sampled_from(["image/png", "text/plain", "image/\x00", "x"]),
    "url": st.sampled_from(["https://files.example.com/a.png", "https://files.example.com/\x00",
                            "https://files.example.com/\ud800"])}), max_size=2)
FIELDS = ["whatsapp_number", "chat", "chat.id", "chat.type", "chat.phone", "chat.name", "message", "message.id",
          "message.direction", "message.sent_at", "message.text", "message.reply_to", "message.attachments"]


def _put(body, path, value):
    *parents, last = path.split(".")
    target = body
    for key in parents:
        if not isinstance(target.get(key), dict):
            return
        target = target[key]
    target[last] = value


@st.composite
def messages_in(draw):
    """A storable message whose strings come from everywhere in Unicode, with 0-2 fields of any JSON."""
    body = {"whatsapp_number": "+14155550001",
            "chat": {"id": draw(nasty_text), "type": "direct", "phone": "+14155550101", "name": draw(nasty_text)},
            "message": {"id": draw(nasty_text), "direction": "incoming", "sent_at": "2025-06-01T09:00:00Z",
                        "text": draw(nasty_text), "reply_to": draw(st.none() | nasty_text),
                        "attachments": draw(st.one_of(st.just([]), st.just([]), st.just([]), attachments))}}
    for path in draw(st.lists(st.sampled_from(FIELDS), max_size=2, unique=True)):
        _put(body, path, draw(json_values))
    return body


webhook_item = st.fixed_dictionaries({
    "from": _maybe(json_values, "14155550101"), "id": nasty_text, "timestamp": _maybe(json_values, "1748768400"),
    "type": _maybe(json_values, "text"), "text": st.one_of(*[st.fixed_dictionaries({"body": nasty_text})] * 3, json_values),
    "context": _maybe(json_values, {})})
webhook_items = st.one_of(webhook_item, webhook_item, webhook_item, json_values)


def _count():
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Message))


# No shrinking: a failure is reported as generated (shrinking HTTP round trips takes minutes).
SETTINGS = settings(max_examples=80, deadline=None, database=None, derandomize=True,
                    phases=[Phase.generate], suppress_health_check=list(HealthCheck))


@pytest.mark.timeout(600)
def test_ingestion_api_never_answers_5xx(app, api, sandbox_connection):
    client = api.client
    headers = {"Authorization": f"Bearer {api.key}", "Content-Type": "application/json"}

    @SETTINGS
    @given(item=messages_in(), batch=st.lists(st.one_of(messages_in(), json_values), min_size=1, max_size=5))
    def check(item, batch):
        before = _count()
        one = client.post("/api/v1/messages", data=json.dumps(item), headers=headers)
        assert one.status_code < 500, (one.status_code, item)
        if one.status_code >= 400:
            assert _count() == before
        before = _count()
        many = client.post("/api/v1/messages/batch", data=json.dumps({"messages": batch}), headers=headers)
        assert many.status_code < 500, (many.status_code, batch)
        if many.status_code >= 400:
            assert _count() == before
        message_id = item["message"].get("id") if isinstance(item.get("message"), dict) else None
        path_id = quote(message_id if isinstance(message_id, str) and message_id else "x", safe="",
                        errors="surrogatepass")
        got = client.get("/api/v1/messages/" + path_id, headers=headers)
        assert got.status_code < 500
    check()
    assert _count() > 0   # the generated messages really went through the storing path (how many depends on the draw)


@pytest.mark.timeout(600)
def test_signed_webhook_never_answers_5xx(app, demo, sandbox_connection):
    app.config["WHATSAPP_APP_SECRET"] = SECRET
    number = db.session.scalar(sa.select(WhatsAppNumber).where(WhatsAppNumber.e164 == "+14155550001"))
    db.session.add(CloudApiNumber(workspace_id=demo.acme.id, phone_number_id=PNID, whatsapp_number_id=number.id))
    db.session.commit()
    client = app.test_client()

    @SETTINGS
    @given(items=st.lists(webhook_items, max_size=4), metadata=_maybe(json_values, {"phone_number_id": PNID}),
           contacts=_maybe(json_values, [{"wa_id": "14155550101", "profile": {"name": "Gob"}}]),
           shape=st.sampled_from(["full", "full", "full", "full", "raw-values", "garbage"]))
    def check(items, metadata, contacts, shape):
        value = {"messaging_product": "whatsapp", "metadata": metadata, "contacts": contacts, "messages": items}
        payload = {"full": {"entry": [{"id": "W", "changes": [{"field": "messages", "value": value}]}]},
                   "raw-values": {"entry": [{"changes": [value, {"value": items}]}]},
                   "garbage": {"entry": items}}[shape]
        raw = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        response = client.post("/api/webhooks/whatsapp", data=raw,
                               headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})
        assert response.status_code in (200, 413), (response.status_code, payload)
    check()
    db.session.rollback()
    # Some generated messages really went through the storing path (how many depends on the draw).
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) > 0
