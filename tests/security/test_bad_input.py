"""Every bad input is a clear 4xx and changes nothing (run on SQLite and PostgreSQL): deep nesting,
unpaired surrogates and NUL bytes in every text field and parameter, wrong JSON types, over-long
search; a batch that fails as a whole stores none of itself."""
import json

import pytest
import sqlalchemy as sa

from tests.helpers.messages import body, messages
from webapp.core.extensions import db
from webapp.models import Chat, Message, WhatsAppNumber


def _raw_post(api, raw, path="/api/v1/messages"):
    return api.client.post(path, data=raw, headers={"Authorization": f"Bearer {api.key}",
                                                    "Content-Type": "application/json"})


def _dump(value):
    # json.dumps writes lone surrogates as \ud800 escapes: exactly what an attacker sends.
    return json.dumps(value).encode()


def _counts():
    db.session.rollback()
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(t)) for t in (Message, Chat, WhatsAppNumber))


def _with(path, value):
    item = body("bad-1", phone="+14155550101")
    target = item
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    target[keys[-1]] = value
    return item


BAD_FIELDS = [
    ("message.text", "hi \ud800 there"), ("message.text", "nul\x00byte"),
    ("chat.name", "\udfff"), ("chat.name", "a\x00"),
    ("message.id", "id-\ud83d"), ("message.id", "id\x00"),
    ("chat.id", "c\x00"), ("chat.id", "c\udc80"),
    ("message.reply_to", "r\x00"),
    ("message.attachments", [{"filename": "a\x00.png", "content_type": "image/png", "url": "https://x.example/a"}]),
    ("message.attachments", [{"filename": "a.png", "content_type": "image/png", "url": "https://x.example/\x00a"}]),
    ("message.attachments", [{"filename": "\ud800.png", "content_type": "image/png", "data": "aGk="}]),
    # wrong JSON types anywhere
    ("message.text", {"body": "x"}), ("message.text", 5), ("chat", "x"), ("chat.name", ["x"]),
    ("message.id", 12), ("message.sent_at", {"x": 1}), ("message.attachments", {"a": 1}),
    ("whatsapp_number", None), ("message.direction", True), ("chat.type", 1.5),
]


@pytest.mark.parametrize("path,value", BAD_FIELDS)
def test_bad_fields_are_400_and_store_nothing(app, api, sandbox_connection, path, value):
    before = _counts()
    response = _raw_post(api, _dump(_with(path, value)))
    assert response.status_code == 400, (path, response.status_code, response.data[:300])
    problem = response.get_json()
    assert problem["errors"] and problem["message"]
    assert _counts() == before


def test_batch_reports_bad_items_and_stores_the_good_ones(app, api, sandbox_connection):
    items = [body("ok-1"), _with("message.text", "x\x00"), body("ok-2"), _with("chat.name", "\ud800")]
    items[3]["message"]["id"] = "bad-2"
    response = _raw_post(api, _dump({"messages": items}), path="/api/v1/messages/batch")
    assert response.status_code == 202
    statuses = [r["status"] for r in response.get_json()["results"]]
    assert statuses == [202, 400, 202, 400]
    assert sorted(m.external_id for m in messages()) == ["ok-1", "ok-2"]


@pytest.mark.parametrize("depth", [40, 1000, 100000])
def test_deep_nesting_is_400(app, api, sandbox_connection, depth):
    before = _counts()
    raw = b'{"whatsapp_number": ' + b"[" * depth + b"]" * depth + b"}"
    for path in ("/api/v1/messages", "/api/v1/messages/batch"):
        response = _raw_post(api, raw, path=path)
        assert response.status_code == 400, (path, depth, response.status_code)
        assert "Nested" in response.get_json()["message"]
    assert _counts() == before


def test_not_json_and_wrong_top_level_types_are_400(app, api, sandbox_connection):
    for raw in (b"", b"nope", b"[]", b"\"x\"", b"1", b"\xff\xfe", b'{"messages": "x"}'):
        assert _raw_post(api, raw).status_code == 400, raw
        assert _raw_post(api, raw, path="/api/v1/messages/batch").status_code in (400,), raw
    assert messages() == []


def test_get_message_with_nul_or_surrogate_id_is_400(app, api, sandbox_connection):
    for bad in ("%00", "a%00b", "%ED%A0%80"):
        response = api.client.get(f"/api/v1/messages/{bad}", headers={"Authorization": f"Bearer {api.key}"})
        assert response.status_code in (400, 404), (bad, response.status_code)
        assert response.is_json
    nul = api.client.get("/api/v1/messages/a%00b", headers={"Authorization": f"Bearer {api.key}"})
    assert nul.status_code == 400 and "NUL" in nul.get_json()["message"]


def test_pages_refuse_nul_in_query_and_form_with_a_message(app, sandbox_connection, demo, login):
    member = login("member@acme.test")
    before = _counts()
    page = member.get("/sync/?q=a%00b")
    assert page.status_code == 400 and b"NUL character" in page.data
    htmx = member.get("/sync/log?q=%00", headers={"HX-Request": "true"})
    assert htmx.status_code == 400 and b"NUL character" in htmx.data
    label = member.post("/team/numbers", data={"number": "+14155550111", "label": "work\x00"})
    assert label.status_code == 400 and b"NUL character" in label.data
    assert _counts() == before


def test_over_long_search_gets_a_message_next_to_the_box(app, sandbox_connection, demo, login):
    member = login("member@acme.test")
    page = member.get("/sync/?q=" + "x" * 5000)
    assert page.status_code == 200
    assert b'id="search-too-long"' in page.data and b"first 100 characters" in page.data
    assert b'maxlength="100"' in member.get("/sync/").data
    assert b'id="search-too-long"' not in member.get("/sync/?q=short").data


def test_a_batch_that_fails_stores_none_of_itself(app, api, sandbox_connection, monkeypatch):
    """The third item blows up inside store(): the 500 must leave no rows of items one and two.
    (The key was used a moment ago, so the request writes nothing before its first savepoint:
    the case where pysqlite let RELEASE SAVEPOINT commit.)"""
    from webapp.messages import ingest
    assert api.post(body("before")).status_code == 202
    real_store, calls = ingest.store, []

    def flaky_store(number, item, *args):
        calls.append(item.message.id)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real_store(number, item, *args)
    monkeypatch.setattr(ingest, "store", flaky_store)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = api.post({"messages": [body("b-1"), body("b-2"), body("b-3")]}, path="/api/v1/messages/batch")
    assert response.status_code == 500
    assert [m.external_id for m in messages()] == ["before"] and _counts()[1] == 1
