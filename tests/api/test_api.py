"""Ingestion API: auth, every bad-input case, idempotency, batch, GET state, size limit."""
import base64
import threading

import sqlalchemy as sa

from tests.helpers.messages import body, messages


def test_post_stores_and_answers_202_then_200_for_the_same_id(app, api, sandbox_connection):
    first = api.post(body("m-1"))
    assert first.status_code == 202, first.get_json()
    record = first.get_json()
    assert record["id"] == "m-1" and record["state"] == "queued" and record["chat"]["type"] == "direct"
    again = api.post(body("m-1", text="changed"))
    assert again.status_code == 200
    assert again.get_json()["id"] == "m-1" and again.get_json()["received_at"] == record["received_at"]
    rows = messages()
    assert len(rows) == 1 and rows[0].text == "Hello"
    got = api.get("m-1")
    assert got.status_code == 200 and got.get_json()["state"] == "queued"


def test_national_phone_is_read_in_the_members_region(app, api, sandbox_connection):
    assert api.post(body("m-n", phone="(415) 555-0102")).status_code == 202
    assert messages()[0].chat.remote_phone == "+14155550102"


def test_states_at_ingest_without_connection_or_subscription(app, api, demo):
    from webapp.core.extensions import db
    response = api.post(body("held-1"))
    assert response.get_json()["state"] == "held" and response.get_json()["reason"] == "disconnected"
    demo.acme.set_subscription("canceled")
    db.session.commit()
    assert api.post(body("held-2")).get_json()["reason"] == "subscription inactive"


def test_group_chat_is_recorded_as_skipped(app, api, sandbox_connection):
    response = api.post(body("g-1", kind="group", phone=None, chat_id="group-1"))
    assert response.status_code == 202
    assert response.get_json()["state"] == "skipped" and "Group chat" in response.get_json()["reason"]


def test_bad_key_is_401(app, api):
    for headers in [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}]:
        response = app.test_client().post("/api/v1/messages", json=body(), headers=headers)
        assert response.status_code == 401 and response.get_json()["error"] == "unauthorized"
        assert app.test_client().get("/api/v1/messages/x", headers=headers).status_code == 401
        assert app.test_client().post("/api/v1/messages/batch", json={"messages": [body()]},
                                      headers=headers).status_code == 401
    assert messages() == []


def test_revoked_key_is_401(app, api, demo):
    from webapp.core.extensions import db
    from webapp.models import ApiKey, utcnow
    for key in db.session.scalars(sa.select(ApiKey)):
        key.revoked_at = utcnow()
    db.session.commit()
    assert api.post(body()).status_code == 401


def _mutate(path, value):
    payload = body("bad-1")
    target = payload
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    if value is KeyError:
        target.pop(keys[-1], None)
    else:
        target[keys[-1]] = value
    return payload


BAD = [
    ("whatsapp_number", "+14155559999", "whatsapp_number"),       # not registered in the workspace
    ("whatsapp_number", "not a phone", "whatsapp_number"),
    ("whatsapp_number", KeyError, "whatsapp_number"),
    ("whatsapp_number", 14155550001, "whatsapp_number"),
    ("chat", KeyError, "chat"),
    ("chat", "x", "chat"),
    ("chat.id", "", "chat.id"),
    ("chat.id", "x" * 201, "chat.id"),
    ("chat.type", "channel", "chat.type"),
    ("chat.name", "a\x00b", "chat.name"),                         # PostgreSQL text can't hold NUL
    ("chat.phone", "12", "chat.phone"),
    ("chat.phone", "hello", "chat.phone"),
    ("chat.phone", KeyError, "chat.phone"),
    ("message", KeyError, "message"),
    ("message.id", KeyError, "message.id"),
    ("message.id", 5, "message.id"),
    ("message.direction", "inbound", "message.direction"),
    ("message.sent_at", "yesterday", "message.sent_at"),
    ("message.sent_at", "2025-06-01T09:00:00", "message.sent_at"),  # no offset
    ("message.sent_at", KeyError, "message.sent_at"),
    ("message.sent_at", 1717232400, "message.sent_at"),
    ("message.text", "", "message.text"),                            # no text and no attachment
    ("message.text", 7, "message.text"),
    ("message.reply_to", 7, "message.reply_to"),
    ("message.attachments", "x", "message.attachments"),
    ("message.attachments", [{"filename": "a.png", "content_type": "image/png"}], "message.attachments[0]"),
    ("message.attachments", [{"filename": "a.png", "content_type": "image/png", "data": "!!!"}],
     "message.attachments[0].data"),
    ("message.attachments", [{"filename": "a.png", "content_type": "png", "url": "https://x.test/a"}],
     "message.attachments[0].content_type"),
    ("message.attachments", [{"filename": "a.png", "content_type": "image/png", "url": "ftp://x/a"}],
     "message.attachments[0].url"),
]


def test_bad_input_is_400_with_the_field(app, api, sandbox_connection):
    # One app for all cases (the demo seed is slow); each case names the field it breaks.
    for path, value, field in BAD:
        response = api.post(_mutate(path, value))
        assert response.status_code == 400, (path, value, response.get_json())
        assert field in response.get_json()["errors"], (path, value, response.get_json())
    assert messages() == []


def test_non_object_body_is_400(app, api):
    for raw in [b"not json", b"[1, 2]", b"null", b'"x"', b"\xff\xfe"]:
        response = app.test_client().post("/api/v1/messages", data=raw, content_type="application/json",
                                          headers={"Authorization": f"Bearer {api.key}"})
        assert response.status_code == 400, raw


def test_oversize_body_is_413(app, api, sandbox_connection):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    big = body("big", attachments=[{"filename": "a.bin", "content_type": "application/octet-stream",
                                    "data": base64.b64encode(b"x" * 4096).decode()}])
    assert api.post(big).status_code == 413
    assert api.post({"messages": [big]}, path="/api/v1/messages/batch").status_code == 413
    assert messages() == []


def test_unknown_message_is_404_and_other_workspace_is_invisible(app, api, sandbox_connection, demo):
    from webapp.core.extensions import db
    from webapp.models import ApiKey
    assert api.get("nope").status_code == 404
    api.post(body("mine"))
    row, other_key = ApiKey.generate(demo.globex, "globex")
    db.session.add(row)
    db.session.commit()
    assert api.get("mine", key=other_key).status_code == 404
    # The Globex key cannot post for Acme's number either.
    assert api.post(body("theirs"), key=other_key).status_code == 400


def test_batch_mixes_created_duplicate_and_invalid(app, api, sandbox_connection):
    api.post(body("b-0"))
    items = [body("b-0"), body("b-1"), body("b-1"), _mutate("message.direction", "sideways")]
    response = api.post({"messages": items}, path="/api/v1/messages/batch")
    assert response.status_code == 202
    data = response.get_json()
    assert [r["status"] for r in data["results"]] == [200, 202, 200, 400]
    assert data["created"] == 1 and data["duplicates"] == 2 and data["invalid"] == 1
    assert "message.direction" in data["results"][3]["errors"]
    assert len(messages()) == 2


def test_batch_limits(app, api, sandbox_connection):
    post = lambda payload: api.post(payload, path="/api/v1/messages/batch")  # noqa: E731
    assert post({"messages": []}).status_code == 400
    assert post({"nope": 1}).status_code == 400
    assert post({"messages": [body(f"x-{i}") for i in range(501)]}).status_code == 413
    full = post({"messages": [body(f"y-{i}") for i in range(500)]})
    assert full.status_code == 202 and full.get_json()["created"] == 500
    assert post({"messages": [_mutate("chat", KeyError)]}).status_code == 400


def test_concurrent_replays_create_one_row(app, api, sandbox_connection, database_url):
    """Idempotent under concurrency: the unique constraint decides, the loser answers 200."""
    results = []

    def replay():
        client = app.test_client()
        for _ in range(10):
            response = client.post("/api/v1/messages", json=body("same-id"),
                                   headers={"Authorization": f"Bearer {api.key}"})
            results.append(response.status_code)

    threads = [threading.Thread(target=replay) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(results)) == [200, 202] and results.count(202) == 1
    assert len(messages()) == 1
