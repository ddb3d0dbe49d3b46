"""The control API: world state, message validation, the request log, the same message on every
façade a number is linked through."""
import pytest
import requests

from tests.helpers.whatsapp_sandbox import CUSTOMER, MEMBER, OTHER_MEMBER


def test_state_lists_members_customers_and_facades(wa):
    state = wa.state()
    members = {m["number"]: m for m in state["members"]}
    assert {"+14155550001", "+14155550002", "+14155550003"} <= set(members)
    assert members[MEMBER]["email"] == "member@acme.test"
    customers = state["customers"]
    assert len({c["number"][:3] for c in customers}) >= 5  # several countries
    assert any(c["lid_only"] and c["lid_resolvable"] for c in customers)
    assert any(c["lid_only"] and not c["lid_resolvable"] for c in customers)
    assert state["waha"]["base_url"] == wa.url + "/waha" and state["waha"]["api_key"]
    assert state["evolution"]["base_url"] == wa.url + "/evolution"


def test_message_validation(wa):
    def post(body):
        return requests.post(wa.url + "/_sandbox/messages", json=body, timeout=10)
    assert post({"from": "14155550003", "to": CUSTOMER, "text": "x"}).status_code == 400
    assert post({"from": MEMBER, "to": CUSTOMER}).json() == {"error": "Send text, media or both."}
    assert post({"from": MEMBER, "to": CUSTOMER, "text": "x", "reply_to": "NOPE"}).status_code == 404
    bad_media = post({"from": MEMBER, "to": CUSTOMER, "media": {"mimetype": "image/png", "data_base64": "!!"}})
    assert bad_media.status_code == 400 and "base64" in bad_media.json()["error"]
    fresh = post({"from": "+15550001234", "to": MEMBER, "text": "new person"})
    assert fresh.status_code == 201
    assert any(c["number"] == "+15550001234" for c in wa.state()["customers"])
    not_sender = requests.post(wa.url + f"/_sandbox/messages/{fresh.json()['id']}/edit", timeout=10,
                               json={"text": "x", "by": MEMBER})
    assert not_sender.status_code == 403


def test_one_message_on_every_facade(wa, waha, receiver):
    waha.link(wa, "mia", MEMBER, receiver.url, events=["message.any"])
    wa.control("POST", "graph/numbers", {"number": OTHER_MEMBER, "webhook_url": receiver.url})
    wa.send(MEMBER, OTHER_MEMBER, "member to member")
    deliveries = receiver.wait_events(None, 2)
    kinds = sorted("waha" if "event" in d["json"] else "graph" for d in deliveries)
    assert kinds == ["graph", "waha"]


def test_request_log_hides_the_api_key(wa):
    requests.get(wa.waha_url + "/api/sessions", params={"x-api-key": "waha-sandbox-key", "all": "true"}, timeout=10)
    log = wa.control("GET", "requests", facade="waha")["data"]
    assert log[-1]["path"] == "/waha/api/sessions" and log[-1]["status"] == 200
    assert "waha-sandbox-key" not in log[-1]["query"] and "all=true" in log[-1]["query"]


def test_batch_and_fresh_member_numbers(wa, waha):
    waha.link(wa, "fresh", "+15557770001")
    batch = wa.control("POST", "messages/batch", {"messages": [
        {"from": CUSTOMER, "to": "+15557770001", "text": f"m{i}"} for i in range(25)]})
    assert len(batch["data"]) == 25
    page = waha.get(f"/api/fresh/chats/{CUSTOMER[1:]}@c.us/messages", params={"limit": 100}).json()
    assert len(page) == 25
    assert any(m["number"] == "+15557770001" for m in wa.state()["members"])


def test_offline_gateway_refuses_connections_and_keeps_its_state():
    from tests.helpers.whatsapp_sandbox import FAST, Waha
    from whatsapp_sandbox.testing import WhatsAppSandboxServer
    with WhatsAppSandboxServer(dict(FAST)) as server:
        waha = Waha(server)
        waha.link(server, "mia", MEMBER)
        server.go_offline()
        with pytest.raises(requests.ConnectionError):
            requests.get(server.waha_url + "/ping", timeout=5)
        server.go_online()
        assert waha.status("mia") == "WORKING"
        waha.http.close()


def test_runtime_config_keeps_types(wa):
    assert wa.control("PUT", "config", {"GRAPH_WEBHOOK_URL": "http://127.0.0.1:1/x"})["GRAPH_WEBHOOK_URL"]
    assert wa.control("PUT", "config", {"GRAPH_WEBHOOK_URL": None})["GRAPH_WEBHOOK_URL"] is None
    assert wa.control("PUT", "config", {"WAHA_QR_CODES": 4})["WAHA_QR_CODES"] == 4
    bad = requests.put(wa.url + "/_sandbox/config", json={"WAHA_SINGLE_SESSION": "yes"}, timeout=10)
    assert bad.status_code == 400
    assert requests.put(wa.url + "/_sandbox/config", json={"SECRET_KEY": "x"}, timeout=10).status_code == 400
