"""Locations, contact cards, groups, statuses and channels — the kinds an adapter must turn into
readable text or skip — as each façade reports them."""
import requests

from tests.helpers.whatsapp_sandbox import CUSTOMER, LID_CUSTOMER, MEMBER, OTHER_MEMBER

LOCATION = {"latitude": -23.5614, "longitude": -46.6559, "name": "Loja Centro", "address": "Av. Paulista, 1000"}
CONTACT = {"name": "Carlos Lima", "phone": "+5511955554444"}


def test_waha_location_contact_group_status_channel(wa, waha, receiver):
    waha.link(wa, "mia", MEMBER, receiver.url, events=["message.any"])
    wa.send(CUSTOMER, MEMBER, location=LOCATION)
    wa.send(CUSTOMER, MEMBER, contact=CONTACT)
    wa.send(LID_CUSTOMER, MEMBER, "hello group", chat="group", group_name="Buyers")
    wa.send(CUSTOMER, MEMBER, "my status", chat="status")
    wa.send(CUSTOMER, MEMBER, "news", chat="newsletter")
    payloads = [d["json"]["payload"] for d in receiver.wait_events("message.any", 5)]
    location = next(p for p in payloads if p["location"])
    assert location["location"]["latitude"] == "-23.5614" and location["location"]["name"] == "Loja Centro"
    card = next(p for p in payloads if p["vCards"])
    assert "waid=5511955554444" in card["vCards"][0] and "FN:Carlos Lima" in card["vCards"][0]
    group = next(p for p in payloads if p["from"].endswith("@g.us"))
    assert group["participant"].endswith("@lid") and group["id"].count("_") == 3
    assert group["id"].endswith("_" + group["participant"])
    assert any(p["from"] == "status@broadcast" for p in payloads)
    assert any(p["from"].endswith("@newsletter") for p in payloads)
    history = waha.get(f"/api/mia/chats/{CUSTOMER[1:]}@c.us/messages", params={"limit": 50}).json()
    assert len(history) == 2  # only the direct chat's location and contact card


def test_waha_ignore_config_drops_groups_and_statuses(wa, waha, receiver):
    waha.post("/api/sessions", json={"name": "quiet", "start": True, "config": {
        "ignore": {"status": True, "groups": True, "channels": True},
        "webhooks": [{"url": receiver.url, "events": ["message.any"]}]}})
    waha.wait_status("quiet", "SCAN_QR_CODE")
    wa.control("POST", "sessions/quiet/scan", {"number": MEMBER})
    wa.send(CUSTOMER, MEMBER, "group", chat="group")
    wa.send(CUSTOMER, MEMBER, "status", chat="status")
    wa.send(CUSTOMER, MEMBER, "direct")
    payloads = [d["json"]["payload"]["body"] for d in receiver.wait_events("message.any")]
    assert payloads == ["direct"]


def test_evolution_and_graph_kinds(wa, receiver):
    headers = wa.evolution_headers
    created = requests.post(wa.evolution_url + "/instance/create", headers=headers, timeout=10, json={
        "instanceName": "m", "integration": "WHATSAPP-BAILEYS", "qrcode": True,
        "webhook": {"url": receiver.url, "events": ["MESSAGES_UPSERT"]}})
    wa.control("POST", "scan", {"number": MEMBER, "qr": created.json()["qrcode"]["code"]})
    wa.control("POST", "graph/numbers", {"number": OTHER_MEMBER, "webhook_url": receiver.url})
    wa.send(CUSTOMER, MEMBER, location=LOCATION)
    wa.send(LID_CUSTOMER, MEMBER, "group hi", chat="group")
    wa.send(CUSTOMER, MEMBER, "status", chat="status")  # dropped: readStatus is off
    wa.send(CUSTOMER, OTHER_MEMBER, contact=CONTACT)
    wa.send(CUSTOMER, OTHER_MEMBER, "group", chat="group")  # Cloud API: no groups
    upserts = list({d["json"]["data"]["key"]["id"]: d["json"]["data"]  # 2.3.7 sends each twice
                    for d in receiver.wait_events("messages.upsert", 4)}.values())
    assert sorted(u["messageType"] for u in upserts) == ["conversation", "locationMessage"]
    group = next(u for u in upserts if u["messageType"] == "conversation")
    assert group["key"]["remoteJid"].endswith("@g.us") and group["key"]["participant"].endswith("@lid")
    assert group["key"]["participantAlt"] == LID_CUSTOMER[1:] + "@s.whatsapp.net"
    graph = [d["json"] for d in receiver.wait_events(None, 5) if "entry" in (d["json"] or {})]  # 4 upserts + 1
    message = graph[0]["entry"][0]["changes"][0]["value"]["messages"][0]
    assert message["type"] == "contacts" and message["contacts"][0]["phones"][0]["wa_id"] == "5511955554444"
    assert len(graph) == 1
