"""The Cloud API façade over real HTTP: signed webhooks, media id → URL → bytes with the bearer
token, outages, statuses for API sends and `errors` entries."""
import base64
import hashlib
import hmac

import requests

from tests.helpers.whatsapp_sandbox import CUSTOMER, MEMBER, OTHER_MEMBER


def _register(wa, receiver, number=MEMBER):
    return wa.control("POST", "graph/numbers", {"number": number, "webhook_url": receiver.url})


def _signed(delivery, secret):
    expected = "sha256=" + hmac.new(secret.encode(), delivery["body"], hashlib.sha256).hexdigest()
    return delivery["headers"].get("X-Hub-Signature-256") == expected


def test_image_webhook_media_lookup_and_download(wa, receiver):
    number = _register(wa, receiver)
    image = b"\x89PNG\r\n\x1a\n sandbox image"
    first = wa.send(CUSTOMER, MEMBER, "hi")
    wa.send(CUSTOMER, MEMBER, "look", reply_to=first["id"],
            media={"filename": "x.png", "mimetype": "image/png", "data_base64": base64.b64encode(image).decode()})
    deliveries = [d for d in receiver.wait_events(None, 2)]
    assert all(_signed(d, wa.app.config["GRAPH_APP_SECRET"]) for d in deliveries)
    assert not _signed(deliveries[0], "wrong-secret")
    values = [d["json"]["entry"][0]["changes"][0]["value"] for d in deliveries]
    value = next(v for v in values if v["messages"][0]["type"] == "image")
    text = next(v for v in values if v["messages"][0]["type"] == "text")
    assert value["metadata"]["phone_number_id"] == number["phone_number_id"]
    assert value["contacts"][0]["wa_id"] == CUSTOMER[1:]
    message = value["messages"][0]
    assert message["type"] == "image" and message["image"]["caption"] == "look"
    assert message["context"]["id"] == text["messages"][0]["id"]
    media_id = message["image"]["id"]

    assert requests.get(f"{wa.graph_url}/v21.0/{media_id}", timeout=10).status_code == 401
    meta = requests.get(f"{wa.graph_url}/v21.0/{media_id}", headers=wa.graph_headers, timeout=10).json()
    assert meta["mime_type"] == "image/png" and meta["file_size"] == len(image)
    assert meta["sha256"] == hashlib.sha256(image).hexdigest()
    assert requests.get(meta["url"], timeout=10).status_code == 401
    got = requests.get(meta["url"], headers=wa.graph_headers, timeout=10)
    assert got.status_code == 200 and got.content == image
    missing = requests.get(f"{wa.graph_url}/v21.0/123", headers=wa.graph_headers, timeout=10)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 100


def test_outage_and_phone_number_object(wa, receiver):
    number = _register(wa, receiver, OTHER_MEMBER)
    url = f"{wa.graph_url}/v21.0/{number['phone_number_id']}"
    assert requests.get(url, headers=wa.graph_headers, timeout=10).json()["display_phone_number"] == OTHER_MEMBER
    wa.control("PUT", "outage", {"facade": "graph", "down": True, "status": 503})
    assert requests.get(url, headers=wa.graph_headers, timeout=10).status_code == 503
    wa.control("PUT", "outage", {"facade": "graph", "down": False})
    assert requests.get(url, headers=wa.graph_headers, timeout=10).status_code == 200


def test_api_send_statuses_and_errors(wa, receiver):
    number = _register(wa, receiver)
    sent = requests.post(f"{wa.graph_url}/v21.0/{number['phone_number_id']}/messages", headers=wa.graph_headers,
                         json={"messaging_product": "whatsapp", "to": CUSTOMER[1:], "type": "text",
                               "text": {"body": "Hello"}}, timeout=10)
    assert sent.status_code == 200
    wamid = sent.json()["messages"][0]["id"]
    statuses = [d["json"]["entry"][0]["changes"][0]["value"]["statuses"][0] for d in receiver.wait_events(None, 3)]
    assert sorted(s["status"] for s in statuses) == ["delivered", "read", "sent"]
    assert {s["id"] for s in statuses} == {wamid}
    receiver.clear()
    wa.control("POST", f"graph/numbers/{number['phone_number_id']}/errors", {"code": 131051})
    error = receiver.wait_events(None)[0]["json"]["entry"][0]["changes"][0]["value"]["errors"][0]
    assert error["code"] == 131051
