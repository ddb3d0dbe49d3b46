"""The sync engine against Close as it really behaves, over real HTTP with the strict sandbox."""
import base64

import pytest

from tests.helpers.messages import SANDBOX_KEY, activities, body, messages


def _sandbox_client(close_sandbox, **kwargs):
    from webapp.clients.close.client import CloseClient
    return CloseClient(close_sandbox.api_url, api_key=SANDBOX_KEY, **kwargs)


def _calls(close_sandbox, prefix):
    return [e for e in close_sandbox.control("GET", "/_sandbox/requests")["data"] if e["path"].startswith(prefix)]


# -- finding 7a: 25 MB is 25,000,000 bytes ---------------------------------------------------------

def test_attachment_limit_is_25_000_000_bytes(app, close_sandbox):
    from webapp.clients.close.client import CloseRejected
    assert app.config["SYNC_MAX_ATTACHMENT_BYTES"] == 25_000_000
    client = _sandbox_client(close_sandbox)
    with pytest.raises(CloseRejected) as refused:
        client.upload_file("big.bin", "application/octet-stream", b"x" * 25_000_001)  # < 25 MiB
    assert "25 MB" in refused.value.message
    assert _calls(close_sandbox, "/api/v1/files/") == []  # refused before bothering Close


# -- finding 7b: media-only messages carry a non-empty message_markdown ---------------------------

def test_media_only_message_sends_the_file_names_as_markdown(app, api, sandbox_connection, close_sandbox, drain_now, demo):
    png = base64.b64encode(b"\x89PNG fake").decode()
    api.post(body("media-only", phone="+14155550101", text="", attachments=[
        {"filename": "photo.jpg", "content_type": "image/jpeg", "data": png}]))
    drain_now(demo.acme.id)
    (row,) = messages(external_id="media-only")
    assert row.state == "synced", row.reason
    (activity,) = activities(close_sandbox, "media-only")
    assert activity["message_markdown"] == "📎 photo.jpg"
    assert [a["filename"] for a in activity["attachments"]] == ["photo.jpg"]


# -- finding 7c: an activity refused because of user_id goes again without it --------------------

def test_deactivated_close_user_is_dropped_from_the_activity_and_noted(app, api, connect, close_sandbox,
                                                                      drain_now, demo, ids):
    from close_sandbox import world
    mia = world.user_id("mia")
    connect(picks={"owner@acme.test": mia})  # the sender's Close user…
    close_sandbox.control("DELETE", f"/_sandbox/organizations/{ids.org}/memberships/mia@acme.test")  # …left
    api.post(body("by-mia", phone="+14155550101", text="Hi"))
    drain_now(demo.acme.id)
    (row,) = messages(external_id="by-mia")
    assert row.state == "synced" and mia in row.reason and "Close refused" in row.reason
    (activity,) = activities(close_sandbox, "by-mia")
    assert activity["user_id"] == ids.dana  # Close's default: the credential's user
    posts = [e for e in close_sandbox.control("GET", "/_sandbox/requests")["data"]
             if e["path"] == "/api/v1/activity/whatsapp_message/" and e["method"] == "POST"]
    assert [e["status"] for e in posts] == [400, 200]


def test_moving_a_chat_whose_close_user_has_left_moves_it_without_the_user(app, api, connect, close_sandbox,
                                                                          drain_now, demo, ids):
    from close_sandbox import world
    from webapp.messages import actions, moves
    mia = world.user_id("mia")
    connect(picks={"owner@acme.test": mia})
    api.post(body("mia-then", phone="+14155550101", text="Hi"))
    drain_now(demo.acme.id)
    (row,) = messages(external_id="mia-then")
    assert row.state == "synced" and activities(close_sandbox, "mia-then")[0]["user_id"] == mia
    close_sandbox.control("DELETE", f"/_sandbox/organizations/{ids.org}/memberships/mia@acme.test")
    actions.reroute_chat(demo.acme.id, row.chat_id, ids.hooli)
    assert moves.move_chat_activities(row.chat_id) == 1
    (moved,) = activities(close_sandbox, "mia-then")
    assert moved["lead_id"] == ids.hooli and moved["user_id"] == ids.dana
    (row,) = messages(external_id="mia-then")
    assert row.close_activity_id == moved["id"] and mia in row.reason and "Close refused" in row.reason


# -- finding 8: rate limits grouped by path and method ------------------------------------------------

def test_a_full_write_bucket_does_not_stall_reads_of_the_same_path(app, close_sandbox, ids):
    import fakeredis

    from webapp.clients.close.ratelimit import RedisRateLimiter
    close_sandbox.control("PUT", "/_sandbox/rate-limits", {"group": "activity:POST", "limit": 1, "window": 30})
    slept = []
    limiter = RedisRateLimiter(fakeredis.FakeRedis(), sleep=slept.append, max_wait=0.01)
    client = _sandbox_client(close_sandbox, org_id=ids.org, rate_limiter=limiter)
    client.create_whatsapp_activity({
        "external_whatsapp_message_id": "rl-1", "lead_id": ids.bluth, "contact_id": ids.gob,
        "direction": "incoming", "activity_at": "2025-06-01T09:00:00+00:00", "local_phone": "+14155550001",
        "remote_phone": "+14155550101", "message_markdown": "hi"})
    assert limiter.wait_time(ids.org, "activity:POST") > 20  # Close said: bucket empty for ~30 s
    assert limiter.before_call(ids.org, "activity:GET") == 0 and slept == []
    assert [a["external_whatsapp_message_id"] for a in client.find_whatsapp_activities("rl-1")] == ["rl-1"]


# -- finding 9: Close's Inbox and links back to Closeline ----------------------------------------------

@pytest.mark.parametrize("inbox", [False, True])
def test_send_to_inbox_setting_and_integration_link(inbox, app, api, connect, close_sandbox, drain_now, demo,
                                                     login):
    connection = connect(send_to_inbox=True) if inbox else connect()
    assert connection.send_to_inbox is inbox  # off unless turned on
    api.post(body("in-1", phone="+14155550101", direction="incoming", text="Hello"))
    api.post(body("out-1", phone="+14155550101", direction="outgoing", text="Hi back"))
    drain_now(demo.acme.id)
    posts = {e["index"]: e["query"] for e in close_sandbox.control("GET", "/_sandbox/requests")["data"]
             if e["path"] == "/api/v1/activity/whatsapp_message/" and e["method"] == "POST"}
    assert sorted(posts.values()) == (["", "send_to_inbox=true"] if inbox else ["", ""])
    rows = {m.external_id: m for m in messages()}
    (activity,) = activities(close_sandbox, "in-1")
    base = app.config["PUBLIC_URL"].rstrip("/")
    message = rows["in-1"]
    assert activity["integration_link"] == f"{base}/sync/?chat={message.chat_id}#message-{message.id}"
    page = login("owner@acme.test").get(activity["integration_link"][len(base):].split("#")[0])
    assert page.status_code == 200 and f'id="message-{message.id}"' in page.get_data(as_text=True)


# -- finding 3: the search index lags; never a second lead for one chat ----------------------------

def _leads_with_phone(close_sandbox, phone):
    leads = _sandbox_client(close_sandbox).get("/lead/", _limit=200)["data"]
    return [ld["id"] for ld in leads
            if any(p["phone"] == phone for c in ld.get("contacts") or [] for p in c.get("phones") or [])]


def test_lost_create_answer_with_a_lagging_index_makes_one_lead(app, api, sandbox_connection, close_sandbox, drain_now,
                                                               demo):
    from tests.helpers.waiting import wait_for
    app.config["SYNC_INDEX_GRACE"] = 30.0  # longer than the index lag below
    close_sandbox.control("PUT", "/_sandbox/search-index", {"delay": 4})
    close_sandbox.control("PUT", "/_sandbox/faults", {"response_lost_rate": 1.0, "paths": ["/lead/"],
                                                      "methods": ["POST"]})
    api.post(body("lag-1", phone="+14155550188", name="Lagging"))
    drain_now(demo.acme.id)  # Close created the lead; the answer never came back
    close_sandbox.control("DELETE", "/_sandbox/faults")
    api.post(body("lag-2", phone="+14155550188", name="Lagging"))

    def settled():
        drain_now(demo.acme.id)
        rows = messages()
        return len(rows) == 2 and all(m.state == "synced" for m in rows)
    wait_for(settled, timeout=60, interval=0.5, message="both messages synced")
    (lead,) = _leads_with_phone(close_sandbox, "+14155550188")
    assert {m.close_lead_id for m in messages()} == {lead}
    creates = [e for e in close_sandbox.control("GET", "/_sandbox/requests")["data"]
               if e["path"] == "/api/v1/lead/" and e["method"] == "POST"]
    assert len(creates) == 1


def test_worker_killed_right_after_creating_the_lead_makes_one_lead(app, api, sandbox_connection, close_sandbox, workers,
                                                                   demo):
    from tests.helpers.waiting import wait_for
    app.config["SYNC_INDEX_GRACE"] = 30.0  # longer than the index lag below (passed on to the workers)
    from tests.helpers.messages import settle
    close_sandbox.control("PUT", "/_sandbox/search-index", {"delay": 6})
    # Close creates the lead at once but its answer takes 20 s to come back: the worker dies waiting.
    close_sandbox.control("PUT", "/_sandbox/faults", {"response_delay_ms": 20000, "paths": ["/lead/"],
                                                      "methods": ["POST"]})
    first = workers.start()
    api.post(body("kill-1", phone="+14155550189", name="Killed"))

    def lead_created():
        return [e for e in close_sandbox.control("GET", "/_sandbox/requests")["data"]
                if e["path"] == "/api/v1/lead/" and e["method"] == "POST" and e["status"] == 200]
    wait_for(lead_created, timeout=30, message="Close to create the lead")
    workers.kill(first)
    close_sandbox.control("DELETE", "/_sandbox/faults")
    api.post(body("kill-2", phone="+14155550189", name="Killed"))
    workers.start()
    rows = settle(["kill-1", "kill-2"], timeout=90)
    (lead,) = _leads_with_phone(close_sandbox, "+14155550189")
    assert {m.close_lead_id for m in rows} == {lead}
    assert len(lead_created()) == 1
