"""The Evolution API façade over real HTTP: guard order and auth, instance lifecycle, QR and
pairing code, webhook set/find and envelope, upserts (incoming, fromMe, @lid), edits and deletions,
base64 media and findMessages."""
import base64

import pytest
import requests

from tests.helpers.waiting import wait_for
from tests.helpers.whatsapp_sandbox import CUSTOMER, HIDDEN_CUSTOMER, LID_CUSTOMER, MEMBER, WAIT

EVENTS = ["MESSAGES_UPSERT", "MESSAGES_UPDATE", "MESSAGES_DELETE", "MESSAGES_EDITED", "SEND_MESSAGE",
          "CONNECTION_UPDATE", "QRCODE_UPDATED"]


class Evo:
    def __init__(self, server):
        self.base, self.key = server.evolution_url, server.app.config["EVOLUTION_API_KEY"]
        self.http = requests.Session()

    def call(self, method, path, key=None, **kwargs):
        return self.http.request(method, self.base + path, headers={"apikey": key or self.key}, timeout=30, **kwargs)

    def link(self, server, name, number, webhook_url=None, base64_media=False):
        body = {"instanceName": name, "integration": "WHATSAPP-BAILEYS", "qrcode": True}
        if webhook_url:
            body["webhook"] = {"url": webhook_url, "events": EVENTS, "base64": base64_media,
                               "headers": {"X-Hook-Secret": "s3cr3t"}}
        created = self.call("POST", "/instance/create", json=body)
        assert created.status_code == 201, created.text
        server.control("POST", "scan", {"number": number, "qr": created.json()["qrcode"]["code"]})
        wait_for(lambda: self.state(name) == "open", timeout=WAIT)
        return created.json()

    def state(self, name):
        return self.call("GET", f"/instance/connectionState/{name}").json()["instance"]["state"]


@pytest.fixture
def evo(wa):
    client = Evo(wa)
    yield client
    client.http.close()


def test_guard_order_and_keys(wa, evo):
    assert requests.get(evo.base + "/", timeout=10).json()["version"] == "2.3.7"
    missing = requests.get(evo.base + "/instance/connectionState/ghost", timeout=10)
    assert missing.status_code == 404  # existence is checked before the key
    assert missing.json() == {"status": 404, "error": "Not Found",
                              "response": {"message": ['The "ghost" instance does not exist']}}
    created = evo.call("POST", "/instance/create", json={"instanceName": "sales", "integration": "WHATSAPP-BAILEYS"})
    assert created.status_code == 201 and created.json()["instance"]["status"] == "close"
    token = created.json()["hash"]
    no_key = requests.get(evo.base + "/instance/connectionState/sales", timeout=10)
    assert no_key.status_code == 401 and no_key.json()["response"] == {"message": "Unauthorized"}
    assert evo.call("GET", "/instance/connectionState/sales", key=token).status_code == 200
    assert evo.call("POST", "/instance/create", key=token,
                    json={"instanceName": "other", "integration": "WHATSAPP-BAILEYS"}).status_code == 401
    taken = evo.call("POST", "/instance/create", json={"instanceName": "sales", "integration": "WHATSAPP-BAILEYS"})
    assert taken.status_code == 403
    bad = evo.call("POST", "/instance/create", json={"instanceName": "x", "integration": "NOPE"})
    assert bad.status_code == 400 and bad.json()["response"]["message"] == ["Invalid integration"]
    assert [r["name"] for r in evo.call("GET", "/instance/fetchInstances", key=token).json()] == ["sales"]


def test_connect_qr_pairing_scan_logout_delete(wa, evo, receiver):
    evo.call("POST", "/instance/create", json={"instanceName": "s", "integration": "WHATSAPP-BAILEYS",
                                               "webhook": {"url": receiver.url, "events": EVENTS}})
    qr = evo.call("GET", "/instance/connect/s", params={"number": MEMBER[1:]}).json()
    assert qr["code"].startswith("2@") and qr["base64"].startswith("data:image/png;base64,")
    assert qr["count"] == 1 and len(qr["pairingCode"]) == 8
    assert evo.state("s") == "connecting"
    wa.control("POST", "scan", {"number": MEMBER, "code": qr["pairingCode"]})
    assert evo.state("s") == "open"
    updates = [d["json"]["data"] for d in receiver.wait_events("connection.update", 2)]
    opened = next(u for u in updates if u["state"] == "open")
    assert opened["wuid"] == MEMBER[1:] + "@s.whatsapp.net" and opened["statusReason"] == 200
    assert receiver.wait_events("qrcode.updated")[0]["json"]["data"]["qrcode"]["code"] == qr["code"]
    assert evo.call("GET", "/instance/connect/s").json() == {"instance": {"instanceName": "s", "state": "open"}}
    out = evo.call("DELETE", "/instance/logout/s")
    assert out.status_code == 200 and out.json()["response"]["message"] == "Instance logged out"
    assert evo.state("s") == "close"
    closed = wait_for(lambda: [d["json"]["data"] for d in receiver.events("connection.update")
                               if d["json"]["data"]["state"] == "close"], timeout=WAIT)
    assert closed == [{"instance": "s", "state": "close", "statusReason": 401}]
    assert evo.call("DELETE", "/instance/logout/s").status_code == 400  # not connected
    assert evo.call("DELETE", "/instance/delete/s").status_code == 200
    assert evo.call("GET", "/instance/connectionState/s").status_code == 404


def test_qr_limit_refuses(wa, evo, receiver):
    wa.control("PUT", "config", {"EVOLUTION_QR_SECONDS": 0.1, "EVOLUTION_QR_LIMIT": 3})
    try:
        evo.call("POST", "/instance/create", json={"instanceName": "q", "integration": "WHATSAPP-BAILEYS",
                                                   "qrcode": True, "webhook": {"url": receiver.url, "events": []}})
        wait_for(lambda: evo.state("q") == "close", timeout=WAIT)
        states = [d["json"]["data"]["state"] for d in receiver.wait_events("connection.update", 2)]
        assert "refused" in states
    finally:
        wa.control("PUT", "config", {"EVOLUTION_QR_SECONDS": 45.0, "EVOLUTION_QR_LIMIT": 30})


def test_webhook_set_find_and_envelope(wa, evo, receiver):
    evo.call("POST", "/instance/create", json={"instanceName": "w", "integration": "WHATSAPP-BAILEYS"})
    assert evo.call("GET", "/webhook/find/w").json() is None
    flat = evo.call("POST", "/webhook/set/w", json={"url": receiver.url, "events": EVENTS})
    assert flat.status_code == 400  # the v1 flat body
    stored = evo.call("POST", "/webhook/set/w", json={"webhook": {
        "enabled": True, "url": receiver.url, "events": EVENTS, "headers": {"X-Hook-Secret": "s3cr3t"}}})
    assert stored.status_code == 201 and stored.json()["events"] == EVENTS
    assert evo.call("GET", "/webhook/find/w").json()["url"] == receiver.url
    qr = evo.call("GET", "/instance/connect/w").json()
    wa.control("POST", "scan", {"number": MEMBER, "qr": qr["code"]})
    wa.send(CUSTOMER, MEMBER, "Oi! Qual o preço?")
    delivery = receiver.wait_events("messages.upsert")[0]
    assert delivery["headers"]["X-Hook-Secret"] == "s3cr3t"
    envelope = delivery["json"]
    assert list(envelope) == ["event", "instance", "data", "destination", "date_time", "sender", "server_url", "apikey"]
    assert envelope["instance"] == "w" and envelope["sender"] == MEMBER[1:] + "@s.whatsapp.net"
    data = envelope["data"]
    assert data["key"]["remoteJid"] == CUSTOMER[1:] + "@s.whatsapp.net" and data["key"]["fromMe"] is False
    assert data["message"] == {"conversation": "Oi! Qual o preço?"} and data["messageType"] == "conversation"
    assert data["status"] == "DELIVERY_ACK" and isinstance(data["messageTimestamp"], int)


def test_upserts_from_me_lid_reply_edit_delete(wa, evo, receiver):
    evo.link(wa, "m", MEMBER, receiver.url)
    first = wa.send(CUSTOMER, MEMBER, "hello")
    wa.send(MEMBER, CUSTOMER, "typed on the phone", reply_to=first["id"])
    wa.send(LID_CUSTOMER, MEMBER, "lid with phone")
    wa.send(HIDDEN_CUSTOMER, MEMBER, "lid only")
    upserts = {d["json"]["data"]["key"]["id"]: d["json"]["data"] for d in receiver.wait_events("messages.upsert", 8)}
    assert len(upserts) == 4  # each delivered twice (2.3.7)
    mine = next(d for d in upserts.values() if d["key"]["fromMe"])
    assert mine["status"] == "SERVER_ACK" and mine["contextInfo"]["stanzaId"] == first["id"]
    keys = sorted((d["key"]["remoteJid"], d["key"].get("remoteJidAlt")) for d in upserts.values()
                  if d["key"].get("addressingMode") == "lid")
    assert (LID_CUSTOMER[1:] + "@s.whatsapp.net", LID_CUSTOMER[1:] + "@s.whatsapp.net") in keys  # swapped
    assert any(jid.endswith("@lid") and alt is None for jid, alt in keys)  # no phone known

    wa.control("POST", f"messages/{first['id']}/edit", {"text": "hello (edited)"})
    wa.control("POST", f"messages/{first['id']}/revoke")
    edits = {d["json"]["data"]["type"]: d["json"]["data"] for d in receiver.wait_events("messages.edited", 2)}
    assert edits["MESSAGE_EDIT"]["key"]["id"] == first["id"]
    assert edits["MESSAGE_EDIT"]["editedMessage"] == {"conversation": "hello (edited)"}
    assert edits["REVOKE"]["key"]["id"] == first["id"]
    deleted = receiver.wait_events("messages.delete")[0]["json"]["data"]
    assert deleted["id"] == first["id"] and deleted["status"] == "DELETED"


def test_base64_media_and_find_messages(wa, evo, receiver):
    evo.link(wa, "m", MEMBER, receiver.url, base64_media=True)
    data = b"%PDF-1.4 sandbox"
    doc = wa.send(CUSTOMER, MEMBER, "the quote", media={"filename": "quote.pdf", "mimetype": "application/pdf",
                                                         "data_base64": base64.b64encode(data).decode()})
    upsert = receiver.wait_events("messages.upsert")[0]["json"]["data"]
    assert upsert["messageType"] == "documentMessage"
    assert upsert["message"]["documentMessage"]["fileName"] == "quote.pdf"
    assert base64.b64decode(upsert["message"]["base64"]) == data
    assert upsert["message"]["documentMessage"]["fileLength"] == {"low": len(data), "high": 0, "unsigned": True}
    got = evo.call("POST", "/chat/getBase64FromMediaMessage/m", json={"message": {"key": {"id": doc["id"]}}})
    assert got.status_code == 201 and base64.b64decode(got.json()["base64"]) == data
    assert got.json()["mimetype"] == "application/pdf"
    nope = evo.call("POST", "/chat/getBase64FromMediaMessage/m", json={"message": {"key": {"id": "NOPE"}}})
    assert nope.status_code == 400 and nope.json()["response"]["message"] == ["Message not found"]

    for i in range(4):
        wa.send(LID_CUSTOMER, MEMBER, f"lid {i}")
    jid = CUSTOMER[1:] + "@s.whatsapp.net"
    found = evo.call("POST", "/chat/findMessages/m", json={
        "where": {"key": {"remoteJid": jid, "remoteJidAlt": jid}}, "page": 1, "offset": 10}).json()["messages"]
    assert found["total"] == 1 and found["records"][0]["key"]["id"] == doc["id"]
    everything = evo.call("POST", "/chat/findMessages/m", json={"where": {"key": {"remoteJid": jid}},
                                                                "offset": 2, "page": 2}).json()["messages"]
    assert everything["total"] == 5 and everything["pages"] == 3 and everything["currentPage"] == 2
    lid_rows = evo.call("POST", "/chat/findMessages/m", json={"where": {"key": {
        "remoteJid": LID_CUSTOMER[1:] + "@s.whatsapp.net", "remoteJidAlt": LID_CUSTOMER[1:] + "@s.whatsapp.net"}}}).json()
    records = lid_rows["messages"]["records"]
    assert len(records) == 4 and all(r["key"]["remoteJid"].endswith("@lid") for r in records)  # pre-swap key


def test_find_chats_pages_with_take_and_skip_newest_by_time(wa, evo):
    import time
    evo.link(wa, "m", MEMBER)
    now = int(time.time())
    wa.send(CUSTOMER, MEMBER, "newest")
    wa.send(LID_CUSTOMER, MEMBER, "older, delivered late", timestamp=now - 900)
    wa.send(CUSTOMER, MEMBER, "late in the first chat", timestamp=now - 1800)
    first = evo.call("POST", "/chat/findChats/m", json={"where": {}, "take": 1, "skip": 0}).json()
    assert len(first) == 1 and first[0]["lastMessage"]["message"]["conversation"] == "newest"
    second = evo.call("POST", "/chat/findChats/m", json={"where": {}, "take": 1, "skip": 1}).json()
    assert second[0]["lastMessage"]["messageTimestamp"] == now - 900


def test_send_text_emits_send_message_and_updates(wa, evo, receiver):
    evo.link(wa, "m", MEMBER, receiver.url)
    sent = evo.call("POST", "/message/sendText/m", json={"number": CUSTOMER[1:], "text": "Olá"})
    assert sent.status_code == 201 and sent.json()["status"] == "PENDING"
    key_id = sent.json()["key"]["id"]
    assert key_id.startswith("3EB0") and len(key_id) == 22
    assert receiver.wait_events("send.message")[0]["json"]["data"]["key"]["id"] == key_id
    statuses = [d["json"]["data"]["status"] for d in receiver.wait_events("messages.update", 3)]
    assert sorted(statuses) == ["DELIVERY_ACK", "READ", "SERVER_ACK"]
    unknown = evo.call("POST", "/message/sendText/m", json={"number": "999", "text": "x"})
    assert unknown.status_code == 400 and unknown.json()["response"]["message"][0]["exists"] is False


def test_failed_instance_delivers_nothing_until_restored(wa, evo, receiver):
    evo.link(wa, "m", MEMBER, receiver.url)
    wa.control("POST", "instances/m/fail")
    assert evo.state("m") == "connecting"
    wa.send(CUSTOMER, MEMBER, "while down")
    wa.control("POST", "instances/m/restore")
    wa.send(CUSTOMER, MEMBER, "after")
    bodies = [d["json"]["data"]["message"]["conversation"] for d in receiver.wait_events("messages.upsert", 2)]
    assert bodies == ["after", "after"]  # 2.3.7 delivers every upsert twice
    total = evo.call("POST", "/chat/findMessages/m", json={}).json()["messages"]["total"]
    assert total == 2
