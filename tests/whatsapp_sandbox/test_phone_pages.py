"""The phone simulator pages over real HTTP: scan a QR by pasting its value or by picking a
pending session, then chat as the member or as a customer — what a gateway then reports."""
import re

import requests

from tests.helpers.whatsapp_sandbox import CUSTOMER, MEMBER

PAGE = "/phones/" + MEMBER[1:]
CHAT = f"{PAGE}/chats/{CUSTOMER[1:]}"


def _ids(html):
    return re.findall(r'data-wa-id="([0-9A-F]+)"', html)


def test_index_lists_members_and_pending_sessions(wa, waha):
    waha.post("/api/sessions", json={"name": "mia", "start": True, "config": {"metadata": {"member": "mia"}}})
    waha.wait_status("mia", "SCAN_QR_CODE")
    page = requests.get(wa.url + "/phones/", timeout=10).text
    assert "Mia Member" in page and "Olivia Owner" in page and MEMBER in page
    assert "WAHA session “mia”" in page and "member=mia" in page


def test_scan_by_pasting_the_qr_value_links_the_waha_session(wa, waha):
    waha.post("/api/sessions", json={"name": "mia", "start": True})
    waha.wait_status("mia", "SCAN_QR_CODE")
    value = waha.get("/api/mia/auth/qr", params={"format": "raw"}).json()["value"]
    browser = requests.Session()
    wrong = browser.post(wa.url + PAGE + "/scan", data={"qr": "2@not-the-code"}, timeout=10)
    assert "No session shows that code" in wrong.text
    done = browser.post(wa.url + PAGE + "/scan", data={"qr": value}, timeout=10)
    assert done.status_code == 200 and "Linked: mia." in done.text
    assert waha.status("mia") == "WORKING"
    assert waha.get("/api/sessions/mia/me").json()["id"] == MEMBER[1:] + "@c.us"


def test_scan_by_picking_a_pending_evolution_instance(wa):
    evo = requests.post(wa.evolution_url + "/instance/create", headers=wa.evolution_headers, timeout=10,
                        json={"instanceName": "sales", "integration": "WHATSAPP-BAILEYS", "qrcode": True})
    assert evo.status_code == 201
    page = requests.post(wa.url + PAGE + "/scan", data={"pending": "evolution:sales"}, timeout=10)
    assert "Linked: sales." in page.text
    state = requests.get(wa.evolution_url + "/instance/connectionState/sales", headers=wa.evolution_headers, timeout=10)
    assert state.json()["instance"]["state"] == "open"


def test_chat_as_customer_and_member_reaches_the_gateway(wa, waha, receiver):
    waha.link(wa, "mia", MEMBER, receiver.url)
    browser = requests.Session()
    browser.post(wa.url + CHAT + "/send", data={"as": "them", "text": "Is the quote ready?"}, timeout=10)
    first = _ids(browser.get(wa.url + CHAT, timeout=10).text)[0]
    page = browser.post(wa.url + CHAT + "/send", timeout=10,
                        data={"as": "me", "text": "Here it is", "reply_to": first, "kind": "document"},
                        files={"file": ("quote.pdf", b"%PDF-1.4 quote", "application/pdf")})
    assert "Here it is" in page.text
    browser.post(wa.url + CHAT + "/send", data={"as": "them", "kind": "voice"}, timeout=10,
                 files={"file": ("note.ogg", b"OggS voice", "audio/ogg")})
    payloads = [d["json"]["payload"] for d in receiver.wait_events("message.any", 3)]
    by_body = {p["body"]: p for p in payloads}
    assert by_body["Is the quote ready?"]["fromMe"] is False
    reply = by_body["Here it is"]
    assert reply["fromMe"] is True and reply["replyTo"]["id"] == first
    assert reply["media"]["filename"] == "quote.pdf" and reply["_data"]["type"] == "document"
    voice = by_body[""]
    assert voice["_data"]["type"] == "ptt" and voice["media"]["mimetype"].startswith("audio/ogg")

    second = _ids(browser.get(wa.url + CHAT, timeout=10).text)[1]
    browser.post(wa.url + f"{CHAT}/messages/{second}/edit", data={"text": "Here it is (v2)"}, timeout=10)
    after = browser.post(wa.url + f"{CHAT}/messages/{first}/delete", timeout=10)
    assert "This message was deleted" in after.text
    assert receiver.wait_events("message.edited")[0]["json"]["payload"]["body"] == "Here it is (v2)"
    assert receiver.wait_events("message.revoked")[0]["json"]["payload"]["revokedMessageId"] == first


def test_empty_message_is_refused_with_a_clear_error(wa):
    page = requests.post(wa.url + CHAT + "/send", data={"as": "me", "text": "  "}, timeout=10)
    assert "Send text, media or both." in page.text
    assert requests.get(wa.url + "/phones/5511987654321", timeout=10).status_code == 404  # customers have no page
