"""Privacy controls end to end: excluded chats never reach the Close sandbox and keep no text;
allow-list mode; redaction seen by Close; the privacy page's role checks."""
import sqlalchemy as sa

from tests.helpers.messages import activities, body, messages

SECRET = "my secret diagnosis"


def _requests(sandbox, path="/activity/whatsapp_message/"):
    return [r for r in sandbox.control("GET", "/_sandbox/requests")["data"] if path in r.get("path", "")]


def _stored_texts():
    """Every stored text anywhere a message lives (rows of the outbox)."""
    from webapp.core.extensions import db
    from webapp.models import Message
    db.session.expire_all()
    return [t for t in db.session.scalars(sa.select(Message.text)) if t]


def test_member_excludes_own_chat_from_the_sync_log(app, api, sandbox_connection, close_sandbox, drain_now, demo, login):
    from webapp.core.extensions import db
    from webapp.models import Chat
    # member@acme.test owns +14155550003 (the demo seed); owner owns +14155550001.
    api.post(body("before", number="+14155550003", phone="+14155550101", text="before exclusion"))
    chat = db.session.scalar(sa.select(Chat).where(Chat.external_id == "chat-+14155550101"))
    owner_chat_id = chat.id
    member = login("member@acme.test")
    assert "Never sync this chat" in member.get("/sync/").get_data(as_text=True)
    response = member.post(f"/privacy/chats/{owner_chat_id}/exclude", data={"next": "/sync/"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/sync/")
    api.post(body("after-1", number="+14155550003", phone="+14155550101", text=SECRET,
                  attachments=[{"filename": "x.txt", "content_type": "text/plain", "data": "aGk="}]))
    api.post(body("after-2", number="+14155550003", phone="+14155550101", text=SECRET))
    drain_now(demo.acme.id)
    rows = {m.external_id: m for m in messages()}
    assert {k: m.state for k, m in rows.items()} == {"before": "skipped", "after-1": "skipped", "after-2": "skipped"}
    assert all(m.text == "" and m.attachments == [] for m in rows.values())
    assert rows["after-1"].reason == "Excluded chat (never sync): message content not stored."
    assert SECRET not in " ".join(_stored_texts())
    assert _requests(close_sandbox) == []           # nothing reached Close
    log = member.get("/sync/").get_data(as_text=True)
    assert "message content not stored" in log and SECRET not in log


def test_a_member_cannot_exclude_a_chat_on_someone_elses_number(app, api, sandbox_connection, demo, login):
    from webapp.core.extensions import db
    from webapp.models import Chat
    api.post(body("owners", number="+14155550001", phone="+14155550101"))
    chat = db.session.scalar(sa.select(Chat))
    response = login("member@acme.test").post(f"/privacy/chats/{chat.id}/exclude")
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Chat, chat.id).excluded_at is None
    assert messages()[0].text == "Hello"


def test_workspace_exclusion_list_by_phone_and_label(app, api, sandbox_connection, close_sandbox, drain_now, demo, login):
    admin = login("admin@acme.test")
    api.post(body("queued-first", phone="+14155550101", text=SECRET))   # waiting when the phone is listed
    assert admin.post("/privacy/exclusions", data={"kind": "phone", "value": "(415) 555-0101"}).status_code == 302
    assert admin.post("/privacy/exclusions", data={"kind": "label", "value": "Personal"}).status_code == 302
    bad = admin.post("/privacy/exclusions", data={"kind": "phone", "value": "not a phone"})
    assert bad.status_code == 303
    labelled = body("labelled", phone="+14155550102", text=SECRET)
    labelled["chat"]["labels"] = ["personal"]
    assert api.post(labelled).status_code == 202
    api.post(body("listed", phone="+14155550101", text=SECRET))
    api.post(body("normal", phone="+14155550102", chat_id="other-chat", text="Order update"))
    drain_now(demo.acme.id)
    rows = {m.external_id: m for m in messages()}
    assert rows["normal"].state == "synced"
    for key in ("queued-first", "listed", "labelled"):
        assert rows[key].state == "skipped" and rows[key].text == "", key
    assert "exclusion list" in rows["listed"].reason and "label" in rows["labelled"].reason
    assert SECRET not in " ".join(_stored_texts())
    sent = [a["message_markdown"] for a in activities(close_sandbox)]
    assert sent == ["Order update"]
    page = admin.get("/privacy/").get_data(as_text=True)
    assert "+14155550101" in page and "personal" in page


def test_allow_list_mode_never_creates_a_lead(app, api, sandbox_connection, close_sandbox, drain_now, demo, login, ids):
    assert login("owner@acme.test").post("/privacy/settings", data={
        "allow_list_only": "1", "redact_codes": "1", "redact_cards": "1"}).status_code == 302
    api.post(body("known", phone="+14155550101"))
    api.post(body("stranger", phone="+14155550142"))
    drain_now(demo.acme.id)
    rows = {m.external_id: m for m in messages()}
    assert rows["known"].state == "synced" and rows["known"].close_lead_id == ids.bluth
    assert rows["stranger"].state == "skipped" and rows["stranger"].reason.startswith("Allow-list mode")
    assert _requests(close_sandbox, "/lead/") == [] or all(r["method"] != "POST" for r in _requests(close_sandbox, "/lead/"))


def test_redaction_reaches_close_and_the_original_is_not_stored(app, api, sandbox_connection, close_sandbox, drain_now, demo):
    api.post(body("otp", phone="+14155550101", text="Your login code is 918273, card 4111 1111 1111 1111"))
    drain_now(demo.acme.id)
    (row,) = messages()
    assert "918273" not in row.text and "4111" not in row.text
    assert row.redactions == {"one-time code": 1, "card number": 1}
    (activity,) = activities(close_sandbox, "otp")
    assert activity["message_markdown"] == (
        "Your login code is [one-time code redacted], card [card number redacted]\n\n"
        "_Closeline redacted 1 card number and 1 one-time code before syncing._")


def test_code_redaction_can_be_switched_off(app, api, sandbox_connection, close_sandbox, drain_now, demo, login):
    login("admin@acme.test").post("/privacy/settings", data={"redact_cards": "1"})
    api.post(body("otp2", phone="+14155550101", text="code 918273"))
    drain_now(demo.acme.id)
    assert activities(close_sandbox, "otp2")[0]["message_markdown"] == "code 918273"


def test_privacy_settings_need_admin(app, demo, login):
    member = login("member@acme.test")
    assert member.get("/privacy/").status_code == 200
    assert "Exclusion list" not in member.get("/privacy/").get_data(as_text=True)
    assert member.post("/privacy/settings", data={"allow_list_only": "1"}).status_code == 403
    assert member.post("/privacy/exclusions", data={"kind": "phone", "value": "+14155550101"}).status_code == 403


def test_edits_from_whatsapp_obey_exclusion_and_redaction(app, api, sandbox_connection, demo, login):
    from webapp.messages import edits
    from webapp.messages import gate as privacy
    api.post(body("edited", phone="+14155550101", text="see you"))
    api.post(body("hidden", phone="+14155550102", chat_id="chat-hidden", text="fine"))
    privacy.add_entry(demo.acme.id, "phone", "+14155550102")
    assert edits.update_text(demo.acme.id, "edited", "new code 662211 for login") == "stored"
    assert edits.update_text(demo.acme.id, "hidden", SECRET) == "stored"
    rows = {m.external_id: m for m in messages()}
    assert rows["edited"].text == "new code [one-time code redacted] for login"
    assert rows["edited"].redactions == {"one-time code": 1}
    assert rows["hidden"].text == "" and SECRET not in " ".join(_stored_texts())


def test_never_sync_erases_closelines_copy_of_already_synced_messages(app, api, sandbox_connection, close_sandbox,
                                                                       drain_now, demo, login):
    from webapp.core.extensions import db
    from webapp.models import Chat
    api.post(body("synced-1", number="+14155550003", phone="+14155550101", text=SECRET))
    drain_now(demo.acme.id)
    [synced] = messages()
    assert synced.state == "synced" and synced.text == SECRET and synced.close_activity_id
    chat = db.session.scalar(sa.select(Chat).where(Chat.id == synced.chat_id))
    response = login("member@acme.test").post(f"/privacy/chats/{chat.id}/exclude", follow_redirects=True)
    assert "the ones already in Close stay in Close" in response.get_data(as_text=True)
    [row] = messages()
    assert row.text == "" and row.state == "synced" and row.close_activity_id == synced.close_activity_id
    assert SECRET not in _stored_texts()
    # The same message delivered again is still a duplicate: nothing syncs twice.
    assert api.post(body("synced-1", number="+14155550003", phone="+14155550101", text=SECRET)).status_code == 200
    assert len(_requests(close_sandbox)) == 1
