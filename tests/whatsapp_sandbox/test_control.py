"""The control API: world state, message validation, the request log, the same message on every
façade a number is linked through."""
import requests

from .conftest import CUSTOMER, MEMBER, OTHER_MEMBER


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
