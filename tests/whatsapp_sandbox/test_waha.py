"""The WAHA façade over real HTTP: auth, session lifecycle, QR, pairing code, webhooks with HMAC
verified independently, retries, history filters, LIDs, media files, edits and revokes."""
import base64
import hashlib
import hmac
import json

import pytest
import requests

from tests.helpers.waiting import wait_for
from tests.helpers.whatsapp_sandbox import CUSTOMER, HIDDEN_CUSTOMER, LID_CUSTOMER, MEMBER, WAIT
from whatsapp_sandbox.testing import WhatsAppSandboxControlError

PNG = b"\x89PNG\r\n\x1a\n"


def test_api_key_is_required_and_ping_is_open(wa, waha):
    assert requests.get(wa.waha_url + "/ping", timeout=10).json() == {"message": "pong"}
    missing = requests.get(wa.waha_url + "/api/sessions", timeout=10)
    assert missing.status_code == 401
    assert missing.json() == {"message": "Unauthorized", "statusCode": 401}
    wrong = requests.get(wa.waha_url + "/api/sessions", headers={"X-Api-Key": "nope"}, timeout=10)
    assert wrong.status_code == 401
    by_query = requests.get(wa.waha_url + "/api/server/version", params={"x-api-key": "waha-sandbox-key"}, timeout=10)
    assert by_query.status_code == 200 and by_query.json()["version"] == "2026.7.1"


def test_sha512_configured_key_accepts_the_plain_key(wa):
    digest = hashlib.sha512(b"plain-secret").hexdigest()
    wa.reset(WAHA_API_KEY="sha512:" + digest)
    ok = requests.get(wa.waha_url + "/api/sessions", headers={"X-Api-Key": "plain-secret"}, timeout=10)
    assert ok.status_code == 200
    hashed = requests.get(wa.waha_url + "/api/sessions", headers={"X-Api-Key": digest}, timeout=10)
    assert hashed.status_code == 401


def test_session_lifecycle_qr_scan_me_stop_logout_delete(wa, waha):
    created = waha.post("/api/sessions", json={"name": "mia", "config": {"metadata": {"member": "mia"}}})
    assert created.status_code == 201
    assert created.json()["status"] == "STOPPED"  # `start` omitted: not started
    assert waha.get("/api/sessions").json() == []
    assert [s["name"] for s in waha.get("/api/sessions", params={"all": "true"}).json()] == ["mia"]

    assert waha.post("/api/sessions/mia/start").status_code == 201
    assert waha.post("/api/sessions/mia/start").status_code == 422  # already started
    waha.wait_status("mia", "SCAN_QR_CODE")
    image = waha.get("/api/mia/auth/qr")
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    assert image.content.startswith(PNG)
    as_json = waha.get("/api/mia/auth/qr", headers={"Accept": "application/json"}).json()
    assert as_json["mimetype"] == "image/png" and base64.b64decode(as_json["data"]).startswith(PNG)
    value = waha.get("/api/mia/auth/qr", params={"format": "raw"}).json()["value"]
    assert value.startswith("2@")
    me = waha.get("/api/sessions/mia/me")
    assert me.status_code == 200 and me.content == b""  # null before authentication

    wa.control("POST", "scan", {"number": MEMBER, "qr": value})
    waha.wait_status("mia", "WORKING")
    assert waha.get("/api/sessions/mia/me").json() == {
        "id": "14155550003@c.us", "lid": "201010000000003@lid", "pushName": "Mia Member"}
    qr_when_working = waha.get("/api/mia/auth/qr")
    assert qr_when_working.status_code == 422
    assert qr_when_working.json()["expected"] == ["SCAN_QR_CODE"] and qr_when_working.json()["status"] == "WORKING"

    assert waha.post("/api/sessions/mia/stop").json()["status"] == "STOPPED"
    assert waha.post("/api/sessions/mia/start").status_code == 201
    waha.wait_status("mia", "WORKING")  # stored authentication: no new QR
    assert waha.post("/api/sessions/mia/logout").status_code == 201
    waha.wait_status("mia", "SCAN_QR_CODE")  # logged out: a new QR
    assert waha.delete("/api/sessions/mia").status_code == 200
    assert waha.get("/api/sessions/mia").status_code == 404
    assert waha.get("/api/sessions/mia").json()["message"] == "Session not found"


def test_create_validates_and_refuses_duplicates(wa, waha):
    bad_url = waha.post("/api/sessions", json={"name": "x", "config": {"webhooks": [{"url": "nope", "events": ["message"]}]}})
    assert bad_url.status_code == 400 and bad_url.json()["message"] == ["config.webhooks.0.url must be a URL address"]
    bad_event = waha.post("/api/sessions",
                          json={"name": "x", "config": {"webhooks": [{"url": "http://h/x", "events": ["nope"]}]}})
    assert bad_event.status_code == 400
    assert waha.post("/api/sessions", json={"name": "x"}).status_code == 201
    dup = waha.post("/api/sessions", json={"name": "x"})
    assert dup.status_code == 422 and "already exists" in dup.json()["message"]


def test_qr_rotates_then_session_fails(wa, waha, receiver):
    wa.control("PUT", "config", {"WAHA_QR_FIRST_SECONDS": 0.3, "WAHA_QR_NEXT_SECONDS": 0.2, "WAHA_QR_CODES": 3})
    waha.post("/api/sessions", json={"name": "rot", "start": True, "config": {
        "webhooks": [{"url": receiver.url, "events": ["session.status"]}]}})
    waha.wait_status("rot", "SCAN_QR_CODE")
    first = waha.get("/api/rot/auth/qr", params={"format": "raw"}).json()["value"]
    waha.wait_status("rot", "FAILED")
    events = sorted(receiver.wait_events("session.status", 5), key=lambda e: e["json"]["timestamp"])
    statuses = [e["json"]["payload"]["status"] for e in events]
    assert statuses[:5] == ["STARTING", "SCAN_QR_CODE", "SCAN_QR_CODE", "SCAN_QR_CODE", "FAILED"]
    scan = requests.post(wa.url + "/_sandbox/scan", json={"number": MEMBER, "qr": first}, timeout=10)
    assert scan.status_code == 404  # an expired QR links nothing


def test_pairing_code(wa, waha):
    waha.post("/api/sessions", json={"name": "pair", "start": True})
    waha.wait_status("pair", "SCAN_QR_CODE")
    code = waha.post("/api/pair/auth/request-code", json={"phoneNumber": MEMBER[1:]})
    assert code.status_code == 201
    assert len(code.json()["code"]) == 9 and code.json()["code"][4] == "-"
    wa.control("POST", "scan", {"number": MEMBER, "code": code.json()["code"]})
    waha.wait_status("pair", "WORKING")
    late = waha.post("/api/pair/auth/request-code", json={"phoneNumber": MEMBER[1:]})
    assert late.status_code == 422 and "SCAN_QR_CODE" in late.json()["message"]


def test_single_default_session_mode(wa):
    wa.reset(WAHA_SINGLE_SESSION=True)
    from tests.helpers.whatsapp_sandbox import Waha
    waha = Waha(wa)
    listed = waha.get("/api/sessions", params={"all": "true"}).json()
    assert [(s["name"], s["status"]) for s in listed] == [("default", "STOPPED")]
    assert waha.get("/api/server/version").json()["tier"] == "CORE"
    exists = waha.post("/api/sessions", json={"name": "default"})
    assert exists.status_code == 422 and "already exists. Use PUT" in exists.json()["message"]
    other = waha.post("/api/sessions", json={"name": "sales"})
    assert other.status_code == 422 and "only 'default' session" in other.json()["message"]
    assert waha.get("/api/sessions/sales").status_code == 422
    assert waha.put("/api/sessions/default", json={"config": {"metadata": {"a": "b"}}}).status_code == 200
    assert waha.post("/api/sessions/default/start").status_code == 201
    waha.wait_status("default", "SCAN_QR_CODE")
    value = waha.get("/api/default/auth/qr", params={"format": "raw"}).json()["value"]
    wa.control("POST", "scan", {"number": MEMBER, "qr": value})
    waha.wait_status("default", "WORKING")
    image = waha.post("/api/sendImage", json={"session": "default", "chatId": CUSTOMER[1:] + "@c.us",
                                              "file": {"mimetype": "image/png", "data": "aGk="}})
    assert image.status_code == 422 and "Plus" in image.json()["message"]


def _verify(delivery, key):
    expected = hmac.new(key.encode(), delivery["body"], hashlib.sha512).hexdigest()
    return delivery["headers"].get("X-Webhook-Hmac") == expected \
        and delivery["headers"].get("X-Webhook-Hmac-Algorithm") == "sha512"


def test_incoming_and_from_me_webhooks_are_signed_and_enveloped(wa, waha, receiver):
    waha.link(wa, "mia", MEMBER, receiver.url, events=["message", "message.any"], hmac_key="whk-123")
    incoming = wa.send(CUSTOMER, MEMBER, "Hi, is the quote ready?")
    wa.send(MEMBER, CUSTOMER, "Yes, sending it now", reply_to=incoming["id"])
    anys = receiver.wait_events("message.any", 2)
    messages = receiver.wait_events("message", 1)
    assert len(messages) == 1  # `message` is incoming only
    for delivery in anys + messages:
        assert _verify(delivery, "whk-123")
        assert delivery["headers"]["X-Webhook-Timestamp"] == str(delivery["json"]["timestamp"])
        assert delivery["headers"]["Content-Type"] == "application/json"
        assert b": " not in delivery["body"]  # compact JSON
    envelope = messages[0]["json"]
    assert list(envelope) == ["id", "timestamp", "event", "session", "metadata", "me", "payload", "engine", "environment"]
    assert envelope["id"].startswith("evt_") and len(envelope["id"]) == 30
    assert envelope["metadata"] == {"workspace.id": "42"}
    payload = envelope["payload"]
    assert payload["id"] == f"false_{CUSTOMER[1:]}@c.us_{incoming['id']}"
    assert payload["from"] == f"{CUSTOMER[1:]}@c.us" and payload["fromMe"] is False and payload["source"] == "app"
    outgoing = next(d["json"]["payload"] for d in anys if d["json"]["payload"]["fromMe"])
    assert outgoing["from"] == "14155550003@c.us" and outgoing["to"] == f"{CUSTOMER[1:]}@c.us"
    assert outgoing["replyTo"]["id"] == incoming["id"]
    assert outgoing["replyTo"]["participant"] == f"{CUSTOMER[1:]}@c.us"
    tampered = dict(messages[0], body=messages[0]["body"].replace(b"quote", b"QUOTE"))
    assert not _verify(tampered, "whk-123")


def test_webhook_retries_keep_request_id_and_body(wa, waha, receiver):
    waha.link(wa, "mia", MEMBER, receiver.url, events=["message.any"])
    receiver.script = [500, 503]
    wa.send(CUSTOMER, MEMBER, "retry me")
    deliveries = receiver.wait_events("message.any", 3)
    assert len({d["headers"]["X-Webhook-Request-Id"] for d in deliveries}) == 1
    assert len({d["body"] for d in deliveries}) == 1
    log = wait_for(lambda: [e for e in wa.webhooks(event="message.any") if e["outcome"] == "delivered"], timeout=WAIT)
    assert log[0]["attempt"] == 3


def test_history_filters(wa, waha):
    waha.link(wa, "mia", MEMBER)
    sent = [wa.send(CUSTOMER, MEMBER, f"in {i}") for i in range(8)] + \
           [wa.send(MEMBER, CUSTOMER, f"out {i}") for i in range(5)]
    path = f"/api/mia/chats/{CUSTOMER[1:]}@c.us/messages"
    default = waha.get(path).json()
    assert len(default) == 10  # limit defaults to 10
    assert [m["body"] for m in default[:2]] == ["out 4", "out 3"]  # newest first
    oldest = waha.get(path, params={"sortOrder": "asc", "limit": 3, "offset": 1}).json()
    assert [m["body"] for m in oldest] == ["in 1", "in 2", "in 3"]
    mine = waha.get(path, params={"filter.fromMe": "true", "limit": 100}).json()
    assert sorted(m["body"] for m in mine) == [f"out {i}" for i in range(5)]
    ts = sent[0]["timestamp"]
    assert len(waha.get(path, params={"filter.timestamp.gte": ts, "limit": 100}).json()) == 13
    assert waha.get(path, params={"filter.timestamp.gte": ts + 3600}).json() == []
    assert waha.get(path, params={"filter.timestamp.lte": ts - 1}).json() == []
    bad = waha.get(path, params={"filter.ack": "SEEN"})
    assert bad.status_code == 400 and bad.json()["message"] == "Invalid ack: 'SEEN'"
    one = waha.get(f"{path}/{default[0]['id']}")
    assert one.status_code == 200 and one.json()["body"] == "out 4"
    assert waha.get(f"{path}/false_1@c.us_NOPE").status_code == 404
    all_chats = waha.get("/api/mia/chats/all/messages")
    assert all_chats.status_code == 501  # WEBJS: only NOWEB/GOWS serve `all`


def test_a_message_delivered_late_keeps_its_time_and_the_overview_sorts_by_time(wa, waha):
    import time
    waha.link(wa, "mia", MEMBER)
    now = int(time.time())
    wa.send(CUSTOMER, MEMBER, "newer")
    late = wa.send(CUSTOMER, MEMBER, "written ten minutes ago", timestamp=now - 600)
    wa.send(LID_CUSTOMER, MEMBER, "another chat", timestamp=now - 1200)
    assert late["timestamp"] == now - 600
    path = f"/api/mia/chats/{CUSTOMER[1:]}@c.us/messages"
    asc = waha.get(path, params={"sortOrder": "asc"}).json()
    assert [m["body"] for m in asc] == ["written ten minutes ago", "newer"]
    overview = waha.get("/api/mia/chats/overview", params={"limit": 1}).json()
    assert len(overview) == 1 and overview[0]["lastMessage"]["body"] == "newer"   # newest by time, paged
    second = waha.get("/api/mia/chats/overview", params={"limit": 1, "offset": 1}).json()
    assert second[0]["lastMessage"]["timestamp"] == now - 1200
    with pytest.raises(WhatsAppSandboxControlError) as refused:
        wa.send(CUSTOMER, MEMBER, "from the future", timestamp=now + 3600)
    assert refused.value.response.status_code == 400


def test_noweb_without_its_store_has_no_history(wa, waha):
    wa.reset(WAHA_ENGINE="NOWEB")
    waha.link(wa, "mia", MEMBER)   # created without config.noweb.store
    wa.send(CUSTOMER, MEMBER, "hi")
    for path in ("/api/mia/chats/overview", "/api/mia/chats", f"/api/mia/chats/{CUSTOMER[1:]}@c.us/messages"):
        resp = waha.get(path)
        assert resp.status_code == 400 and "Enable NOWEB store" in resp.json()["message"], path
    waha.put("/api/sessions/mia", json={"config": {"noweb": {"store": {"enabled": True}}}})
    waha.wait_status("mia", "WORKING")
    assert waha.get("/api/mia/chats/overview").status_code == 200
    wa.control("PUT", "config", {"WAHA_NOWEB_STORE_OFF": True})   # a store that is off whatever the config says
    assert waha.get("/api/mia/chats/overview").status_code == 400


def test_history_needs_a_working_session(wa, waha):
    waha.post("/api/sessions", json={"name": "idle"})
    resp = waha.get(f"/api/idle/chats/{CUSTOMER[1:]}@c.us/messages")
    assert resp.status_code == 422
    assert resp.json() == {"error": "Session status is not as expected. Try again later or restart the session",
                           "session": "idle", "status": "STOPPED", "expected": ["WORKING"]}


def test_lid_chats_and_lids_api(wa, waha, receiver):
    waha.link(wa, "mia", MEMBER, receiver.url, events=["message.any"])
    wa.send(LID_CUSTOMER, MEMBER, "hello from a hidden number")
    wa.send(HIDDEN_CUSTOMER, MEMBER, "me too")
    payloads = [d["json"]["payload"] for d in receiver.wait_events("message.any", 2)]
    chats = sorted(p["from"] for p in payloads)
    assert all(c.endswith("@lid") for c in chats)
    resolved = waha.get(f"/api/mia/lids/{chats[0].split('@')[0]}").json()
    unresolved = waha.get(f"/api/mia/lids/{chats[1]}").json()
    by_lid = {resolved["lid"]: resolved["pn"], unresolved["lid"]: unresolved["pn"]}
    assert sorted(v for v in by_lid.values() if v) == [LID_CUSTOMER[1:] + "@c.us"]
    assert None in by_lid.values()
    assert waha.get("/api/mia/lids/123@c.us").status_code == 422
    pn = waha.get(f"/api/mia/lids/pn/{LID_CUSTOMER[1:]}").json()
    assert pn["pn"] == LID_CUSTOMER[1:] + "@c.us" and pn["lid"].endswith("@lid")
    assert waha.get("/api/mia/lids/count").json()["count"] >= 1


def test_media_files_need_the_key_and_expire(wa, waha, receiver):
    waha.link(wa, "mia", MEMBER, receiver.url, events=["message.any"])
    data = b"\xff\xd8\xff fake jpeg bytes"
    wa.send(CUSTOMER, MEMBER, "photo", media={"filename": "p.jpg", "mimetype": "image/jpeg",
                                              "data_base64": base64.b64encode(data).decode()})
    payload = receiver.wait_events("message.any")[0]["json"]["payload"]
    assert payload["hasMedia"] is True and payload["body"] == "photo"
    url = payload["media"]["url"]
    assert "/waha/api/files/mia/" in url and url.endswith(".jpeg")
    assert requests.get(url, timeout=10).status_code == 401
    got = requests.get(url, headers=wa.waha_headers, timeout=10)
    assert got.status_code == 200 and got.content == data and got.headers["Content-Type"] == "image/jpeg"
    wa.control("PUT", "config", {"WAHA_FILES_LIFETIME": 0.01})
    gone = wait_for(lambda: [r for r in [requests.get(url, headers=wa.waha_headers, timeout=10)] if r.status_code == 404],
                    timeout=WAIT)
    assert gone[0].json()["error"]["key"] == "FILE_NOT_FOUND"
    history = waha.get(f"/api/mia/chats/{CUSTOMER[1:]}@c.us/messages", params={"downloadMedia": "false"}).json()
    assert history[0]["hasMedia"] is True and history[0]["media"] is None


def test_edit_and_revoke_events(wa, waha, receiver):
    waha.link(wa, "mia", MEMBER, receiver.url)
    msg = wa.send(CUSTOMER, MEMBER, "Price?")
    wa.control("POST", f"messages/{msg['id']}/edit", {"text": "Price for model X?"})
    wa.control("POST", f"messages/{msg['id']}/revoke")
    edited = receiver.wait_events("message.edited")[0]["json"]["payload"]
    assert edited["editedMessageId"] == msg["id"] and edited["body"] == "Price for model X?"
    assert edited["id"] != f"false_{CUSTOMER[1:]}@c.us_{msg['id']}"
    revoked = receiver.wait_events("message.revoked")[0]["json"]["payload"]
    assert revoked["revokedMessageId"] == msg["id"] and revoked["before"] is None
    assert revoked["after"]["id"].startswith(f"false_{CUSTOMER[1:]}@c.us_")


def test_send_text_emits_api_source_and_acks(wa, waha, receiver):
    waha.link(wa, "mia", MEMBER, receiver.url)
    sent = waha.post("/api/sendText", json={"session": "mia", "chatId": CUSTOMER[1:] + "@c.us", "text": "Hello"})
    assert sent.status_code == 201
    serialized = sent.json()["id"]["_serialized"]
    any_event = receiver.wait_events("message.any")[0]["json"]["payload"]
    assert any_event["id"] == serialized and any_event["source"] == "api" and any_event["fromMe"] is True
    acks = receiver.wait_events("message.ack", 2)
    assert sorted(a["json"]["payload"]["ackName"] for a in acks) == ["DEVICE", "READ"]


def test_session_fail_restore_and_phone_logout(wa, waha, receiver):
    waha.link(wa, "mia", MEMBER, receiver.url)
    wa.control("POST", "sessions/mia/fail")
    assert waha.status("mia") == "FAILED"
    wa.send(CUSTOMER, MEMBER, "while failed")
    wa.control("POST", "sessions/mia/restore")
    assert waha.status("mia") == "WORKING"
    assert not [d for d in receiver.events("message.any") if d["json"]["payload"]["body"] == "while failed"]
    history = waha.get(f"/api/mia/chats/{CUSTOMER[1:]}@c.us/messages").json()
    assert history[0]["body"] == "while failed"  # recoverable through history
    wa.control("POST", "sessions/mia/logout")
    assert waha.status("mia") == "FAILED"
    assert waha.get("/api/sessions/mia/me").content == b""
    waha.post("/api/sessions/mia/restart")
    waha.wait_status("mia", "SCAN_QR_CODE")  # authentication is gone: new QR


def test_delivery_faults(wa, waha, receiver):
    # real-time retries every 0.5 s for 30 tries: the receiver can be "down" long enough on a busy machine
    wa.control("PUT", "config", {"WEBHOOK_DELAY_SCALE": 1.0})
    waha.link(wa, "mia", MEMBER, receiver.url, events=["message.any"],
              retries={"attempts": 30, "delaySeconds": 0.5})
    wa.control("PUT", "webhooks/faults", {"drop": 1})
    wa.send(CUSTOMER, MEMBER, "dropped")
    wa.send(CUSTOMER, MEMBER, "kept")
    receiver.wait_events("message.any", 1)
    assert [d["json"]["payload"]["body"] for d in receiver.events("message.any")] == ["kept"]
    assert [e["fault"] for e in wa.webhooks(outcome="dropped")] == ["drop"]

    receiver.clear()
    wa.control("PUT", "webhooks/faults", {"duplicate": 3})
    wa.send(CUSTOMER, MEMBER, "thrice")
    copies = receiver.wait_events("message.any", 3)
    assert len({json.loads(d["body"])["id"] for d in copies}) == 1

    receiver.clear()
    wa.control("PUT", "webhooks/faults", {"duplicate": 1, "reorder": 2})
    wa.send(CUSTOMER, MEMBER, "first")
    wa.send(CUSTOMER, MEMBER, "second")
    bodies = [d["json"]["payload"]["body"] for d in receiver.wait_events("message.any", 2)]
    assert bodies == ["second", "first"]

    receiver.clear()
    wa.control("PUT", "webhooks/faults", {"reorder": 0, "down": True})
    wa.send(CUSTOMER, MEMBER, "while down")
    wait_for(lambda: [e for e in wa.webhooks(outcome="retrying") if e["error"] and "down" in e["error"]], timeout=WAIT)
    assert receiver.events("message.any") == []
    wa.control("DELETE", "webhooks/faults")
    assert [d["json"]["payload"]["body"] for d in receiver.wait_events("message.any")] == ["while down"]

    # The gateway gives up on a delivery the receiver never took: on request, now.
    receiver.clear()
    wa.control("PUT", "webhooks/faults", {"down": True})
    wa.send(CUSTOMER, MEMBER, "never delivered")
    wait_for(lambda: [e for e in wa.webhooks(outcome="retrying") if "never delivered" in json.dumps(e["payload"])],
             timeout=WAIT)
    assert wa.control("POST", "webhooks/give-up")["given_up"] >= 1
    assert wa.control("GET", "webhooks")["pending"] == 0
    assert [e for e in wa.webhooks(outcome="gave_up") if "never delivered" in json.dumps(e["payload"])]
    wa.control("DELETE", "webhooks/faults")
    wa.send(CUSTOMER, MEMBER, "after")
    assert [d["json"]["payload"]["body"] for d in receiver.wait_events("message.any")] == ["after"]  # not the old one


def test_noweb_engine_payloads(wa, waha, receiver):
    wa.control("PUT", "config", {"WAHA_ENGINE": "NOWEB"})
    waha.link(wa, "mia", MEMBER, receiver.url, events=["message.any"], noweb_store=True)
    wa.send(LID_CUSTOMER, MEMBER, "hidden number")
    wa.send(MEMBER, CUSTOMER, "typed on the phone")
    payloads = {d["json"]["payload"]["body"]: d["json"]["payload"] for d in receiver.wait_events("message.any", 2)}
    incoming, outgoing = payloads["hidden number"], payloads["typed on the phone"]
    assert incoming["from"].endswith("@lid") and "to" not in incoming
    assert incoming["_data"]["key"]["remoteJidAlt"] == LID_CUSTOMER[1:] + "@s.whatsapp.net"
    assert outgoing["from"] == CUSTOMER[1:] + "@c.us" and outgoing["fromMe"] is True  # NOWEB: the chat
    assert len(waha.get("/api/mia/chats/all/messages", params={"limit": 50}).json()) == 2
    sent = waha.post("/api/sendText", json={"session": "mia", "chatId": CUSTOMER[1:], "text": "hi"}).json()
    assert sent["key"]["fromMe"] is True and sent["key"]["remoteJid"] == CUSTOMER[1:] + "@s.whatsapp.net"


def test_hmac_matches_the_documented_test_vector(wa):
    from whatsapp_sandbox.waha.facade import WahaFacade
    body = b'{"event":"message","session":"default","engine":"WEBJS"}'
    session = type("S", (), {"name": "default"})()
    delivery = WahaFacade(wa.sandbox)._delivery(session, "message", {"id": "evt_x", "timestamp": 1}, body,
                                                {"url": "http://h/x", "hmac": {"key": "my-secret-key"}})
    assert delivery.headers["X-Webhook-Hmac"] == (
        "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8097c462b2b17a6ce93b6b47a136cf2e78a33a63f"
        "6752c2c1631777076153fa89")
