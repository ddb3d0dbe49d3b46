"""Routing and activity fields (PRODUCT.md §3) against the sandbox over real HTTP.

Most cases drain in-process for determinism; test_pipeline_with_worker runs the same path
through a real RQ worker."""
import base64

import sqlalchemy as sa

from tests.helpers.messages import activities, body, messages


def _links():
    from webapp.core.extensions import db
    from webapp.models import ChatLink
    db.session.expire_all()
    return {link.chat.remote_phone: link for link in db.session.scalars(sa.select(ChatLink))}


def test_every_routing_branch(app, api, sandbox_connection, close_sandbox, drain_now, ids, demo):
    api.post(body("known", phone="+14155550101"))                      # 1 contact, E.164 in Close
    api.post(body("other-format", phone="415 555 0102"))               # Close stores "(415) 555-0102"
    api.post(body("shared", phone="+14155550199"))                     # two leads share it
    api.post(body("new-1", phone="+14155550142", name="Newton"))       # nobody: auto-create
    api.post(body("group", kind="group", phone=None, chat_id="grp"))
    drain_now(demo.acme.id)
    rows = {m.external_id: m for m in messages()}
    assert {k: m.state for k, m in rows.items()} == {
        "known": "synced", "other-format": "synced", "shared": "synced", "new-1": "synced", "group": "skipped"}
    assert rows["known"].close_lead_id == ids.bluth
    assert rows["other-format"].close_lead_id == ids.dunder
    # RULE: the oldest matching contact's lead (Pied Piper was created before Hooli) + review queue.
    assert rows["shared"].close_lead_id == ids.piedpiper
    links = _links()
    assert links["+14155550199"].needs_review and {c["lead_id"] for c in links["+14155550199"].candidates} == \
        {ids.piedpiper, ids.hooli}
    assert links["+14155550101"].source == "found" and not links["+14155550101"].needs_review
    assert links["+14155550142"].source == "created"
    created = close_sandbox.control("GET", f"/_sandbox/activities?lead_id={rows['new-1'].close_lead_id}")["data"]
    assert len(created) == 1
    activity = activities(close_sandbox, "known")[0]
    assert activity["lead_id"] == ids.bluth and activity["contact_id"] == ids.gob
    assert activity["direction"] == "incoming" and activity["message_markdown"] == "Hello"
    assert activity["local_phone"] == "+14155550001" and activity["remote_phone"] == "+14155550101"
    assert activity["user_id"] == ids.dana  # owner@acme.test ↔ dana, picked on the Team page
    assert activity["activity_at"].startswith("2025-06-01T09:")


def test_sticky_link_costs_one_call_per_message(app, api, sandbox_connection, close_sandbox, drain_now, demo, ids):
    api.post(body("s-1", phone="+14155550101"))
    drain_now(demo.acme.id)
    close_sandbox.control("DELETE", "/_sandbox/requests")
    for i in range(5):
        api.post(body(f"s-next-{i}", phone="+14155550101"))
    drain_now(demo.acme.id)
    calls = [r for r in close_sandbox.control("GET", "/_sandbox/requests")["data"]]
    assert len(calls) == 5 and all(c["path"].startswith("/api/v1/activity/whatsapp_message") for c in calls), calls
    # Another member's chat with the same customer is its own chat: the admin's Close user.
    api.post(body("s-admin", phone="+14155550101", number="+14155550002"))
    drain_now(demo.acme.id)
    assert {a["user_id"] for a in activities(close_sandbox, lead_id=ids.bluth) if a["local_phone"] == "+14155550002"} \
        == {ids.rep}


def test_auto_create_off_skips_with_reason(app, api, connect, close_sandbox, drain_now, demo):
    connect(auto_create_lead=False)
    api.post(body("nobody", phone="+14155550177"))
    drain_now(demo.acme.id)
    row = messages()[0]
    assert row.state == "skipped" and "+14155550177" in row.reason and "auto-create is off" in row.reason


def test_one_lead_for_a_burst_of_a_new_chat(app, api, sandbox_connection, close_sandbox, drain_now, demo):
    for i in range(20):
        api.post(body(f"burst-{i}", phone="+14155550160", name="Bursty"))
    # Two drains at once (as two workers would): the insert-first claim lets one create the lead.
    import threading

    from webapp.messages import drain

    def run():
        with app.app_context():
            for _ in range(10):
                drain.drain_workspace(demo.acme.id)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    drain_now(demo.acme.id)
    rows = messages()
    assert {m.state for m in rows} == {"synced"}, {(m.state, m.reason) for m in rows}
    assert len({m.close_lead_id for m in rows}) == 1
    leads = [r for r in close_sandbox.control("GET", "/_sandbox/requests")["data"]
             if r["method"] == "POST" and r["path"] == "/api/v1/lead/"]
    assert len(leads) == 1
    assert sum(len(activities(close_sandbox, f"burst-{i}")) for i in range(20)) == 20


def test_reply_points_at_the_synced_original(app, api, sandbox_connection, close_sandbox, drain_now, demo):
    api.post(body("orig", phone="+14155550101"))
    drain_now(demo.acme.id)
    api.post(body("reply", phone="+14155550101", direction="outgoing", text="Sure", reply_to="orig"))
    api.post(body("reply-to-unknown", phone="+14155550101", reply_to="never-seen"))
    drain_now(demo.acme.id)
    original = activities(close_sandbox, "orig")[0]
    reply = activities(close_sandbox, "reply")[0]
    assert reply["response_to_id"] == original["id"] and reply["direction"] == "outgoing"
    assert activities(close_sandbox, "reply-to-unknown")[0].get("response_to_id") is None


def test_reply_in_the_same_batch(app, api, sandbox_connection, close_sandbox, drain_now, demo):
    api.post(body("o2", phone="+14155550103"))
    api.post(body("r2", phone="+14155550103", reply_to="o2"))
    drain_now(demo.acme.id)
    assert activities(close_sandbox, "r2")[0]["response_to_id"] == activities(close_sandbox, "o2")[0]["id"]


def test_attachments(app, api, connect, close_sandbox, drain_now, demo, monkeypatch):
    connect()
    png = base64.b64encode(b"\x89PNG fake image bytes").decode()
    api.post(body("att", phone="+14155550101", text="", attachments=[
        {"filename": "photo.png", "content_type": "image/png", "data": png}]))
    app.config["SYNC_MAX_ATTACHMENT_BYTES"] = 64
    api.post(body("att-big", phone="+14155550101", text="big one", attachments=[
        {"filename": "huge.bin", "content_type": "application/octet-stream",
         "data": base64.b64encode(b"x" * 100).decode()}]))
    drain_now(demo.acme.id)
    small = activities(close_sandbox, "att")[0]
    assert [a["filename"] for a in small["attachments"]] == ["photo.png"]
    big = activities(close_sandbox, "att-big")[0]
    assert big["attachments"] == []
    rows = {m.external_id: m for m in messages()}
    assert rows["att-big"].state == "synced" and "huge.bin" in rows["att-big"].reason
    assert "25 MB" in rows["att-big"].reason
    assert all("data" not in a for a in rows["att"].attachments)  # base64 dropped once in Close


def test_attachments_setting_off(app, api, connect, close_sandbox, drain_now, demo):
    connect(sync_attachments=False)
    png = base64.b64encode(b"img").decode()
    api.post(body("att-off", phone="+14155550101", attachments=[
        {"filename": "photo.png", "content_type": "image/png", "data": png}]))
    drain_now(demo.acme.id)
    assert activities(close_sandbox, "att-off")[0]["attachments"] == []
    assert "setting off" in messages()[0].reason


def test_pipeline_with_worker(app, api, sandbox_connection, close_sandbox, worker, demo, ids):
    """The real path: API → commit → kick → RQ worker drain → Close."""
    from tests.helpers.messages import settle
    png = base64.b64encode(b"img").decode()
    api.post(body("w-1", phone="+14155550101"))
    api.post(body("w-2", phone="(415) 555-0102", attachments=[
        {"filename": "p.png", "content_type": "image/png", "data": png}]))
    api.post(body("w-3", phone="+14155550101", direction="outgoing", reply_to="w-1"))
    api.post(body("w-4", phone="+14155550170", name="New"))
    api.post(body("w-5", phone="+14155550199"))
    api.post(body("w-6", kind="group", phone=None, chat_id="g"))
    settle(["w-1", "w-2", "w-3", "w-4", "w-5", "w-6"], timeout=120, states={"synced", "skipped"})
    rows = {m.external_id: m for m in messages()}
    assert [rows[k].state for k in sorted(rows)] == ["synced"] * 5 + ["skipped"]
    assert activities(close_sandbox, "w-3")[0]["response_to_id"] == rows["w-1"].close_activity_id
    assert api.get("w-1").get_json()["close"]["lead_url"].endswith(f"/lead/{ids.bluth}/")
