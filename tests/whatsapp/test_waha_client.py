"""The WAHA client against recorded-shape answers (requests-mock): named errors, Core's `default`
session, QR, LIDs, history paging, media host rewrite, the HMAC test vector of the docs."""
import pytest
import requests

from webapp.clients.gateways.base import GatewayError
from webapp.clients.gateways.waha import Client, normalize

BASE = "http://waha.test:3000"


@pytest.fixture
def client(app):
    """Inside the app: its GATEWAY_ALLOWED_HOSTS lets the made-up waha.test:3000 through."""
    return Client(BASE, "secret-key")


def test_server_info_reads_version_and_sessions(client, requests_mock):
    requests_mock.get(f"{BASE}/api/server/version", json={"version": "2026.7.1", "engine": "NOWEB", "tier": "PLUS"})
    requests_mock.get(f"{BASE}/api/sessions?all=true", json=[{"name": "default", "status": "STOPPED"}])
    info = client.server_info()
    assert info.version == "2026.7.1" and info.sessions == ["default"] and not info.single_session
    assert requests_mock.request_history[0].headers["X-Api-Key"] == "secret-key"


def test_old_core_serves_only_default(client, requests_mock):
    requests_mock.get(f"{BASE}/api/server/version", json={"version": "2025.10.3", "tier": "CORE"})
    requests_mock.get(f"{BASE}/api/sessions?all=true", json=[])
    assert client.server_info().single_session


@pytest.mark.parametrize("setup,kind", [
    (dict(exc=requests.ConnectionError), "unreachable"),
    (dict(status_code=401, json={"message": "Unauthorized", "statusCode": 401}), "unauthorized"),
    (dict(status_code=404, text="<html>nginx</html>"), "not_gateway"),
    (dict(status_code=200, text="<html>hello</html>"), "not_gateway"),
    (dict(status_code=200, json={"hello": "world"}), "not_gateway"),
])
def test_server_info_errors_are_named(client, requests_mock, setup, kind):
    requests_mock.get(f"{BASE}/api/server/version", **setup)
    with pytest.raises(GatewayError) as caught:
        client.server_info()
    assert caught.value.kind == kind


def test_start_session_sends_webhook_hmac_and_metadata(client, requests_mock):
    create = requests_mock.post(f"{BASE}/api/sessions", status_code=201, json={"name": "s1", "status": "STARTING"})
    state = client.start_session("s1", webhook_url="http://app/api/webhooks/waha/1", hmac_key="k",
                                 metadata={"closeline.workspace": 1})
    sent = create.last_request.json()
    assert state.status == "STARTING" and sent["start"] is True and sent["name"] == "s1"
    [hook] = sent["config"]["webhooks"]
    assert hook["url"] == "http://app/api/webhooks/waha/1" and hook["hmac"] == {"key": "k"}
    assert set(hook["events"]) == {"message.any", "message.edited", "message.revoked", "session.status"}
    assert sent["config"]["metadata"] == {"closeline.workspace": "1"}


def test_existing_default_session_is_updated_then_started(client, requests_mock):
    requests_mock.post(f"{BASE}/api/sessions", status_code=422, json={
        "message": "Session 'default' already exists. Use PUT to update it.", "statusCode": 422})
    update = requests_mock.put(f"{BASE}/api/sessions/default", json={"name": "default", "status": "STOPPED"})
    start = requests_mock.post(f"{BASE}/api/sessions/default/start", status_code=201,
                               json={"name": "default", "status": "STARTING"})
    assert client.start_session("default", webhook_url="http://x/h", hmac_key="k", metadata={}).status == "STARTING"
    assert update.called and start.called


def test_qr_png_and_raw(client, requests_mock):
    requests_mock.get(f"{BASE}/api/s1/auth/qr?format=image", content=b"\x89PNG...", headers={"Content-Type": "image/png"})
    requests_mock.get(f"{BASE}/api/s1/auth/qr?format=raw", json={"value": "2@abc,def"})
    assert client.qr_png("s1").startswith(b"\x89PNG") and client.qr_value("s1") == "2@abc,def"


def test_session_state_not_scanning_is_named(client, requests_mock):
    requests_mock.get(f"{BASE}/api/s1/auth/qr?format=raw", status_code=422, json={
        "error": "Session status is not as expected.", "session": "s1", "status": "WORKING",
        "expected": ["SCAN_QR_CODE"]})
    with pytest.raises(GatewayError) as caught:
        client.qr_value("s1")
    assert caught.value.kind == "session_state"


def test_lid_lookup(client, requests_mock):
    requests_mock.get(f"{BASE}/api/s1/lids/42%40lid", json={"lid": "42@lid", "pn": "4915112345678@c.us"})
    requests_mock.get(f"{BASE}/api/s1/lids/43%40lid", json={"lid": "43@lid", "pn": None})
    assert client.lid_to_phone("s1", "42@lid") == "4915112345678@c.us"
    assert client.lid_to_phone("s1", "43@lid") is None


def test_history_pages_until_short_page(client, requests_mock):
    page = [{"id": f"false_1@c.us_M{i}", "timestamp": 1753860000 + i, "body": f"m{i}"} for i in range(100)]
    requests_mock.get(f"{BASE}/api/s1/chats/1%40c.us/messages", [{"json": page}, {"json": page[:5]}])
    found = client.messages_since("s1", "1@c.us", 1753860000, {"id": "2@c.us"})
    assert len(found) == 105
    first = requests_mock.request_history[0].qs
    assert first["filter.timestamp.gte"] == ["1753860000"] and first["sortorder"] == ["asc"]


def test_media_url_host_is_rewritten_to_the_gateway(client, requests_mock):
    from webapp.clients.gateways.base import Media
    requests_mock.get(f"{BASE}/api/files/s1/x.jpeg", content=b"img", headers={"Content-Type": "image/jpeg"})
    data, ctype = client.download_media(Media(url="http://localhost:3000/api/files/s1/x.jpeg", mimetype="image/jpeg"))
    assert data == b"img" and ctype == "image/jpeg"
    with pytest.raises(GatewayError):
        client.download_media(Media(url="http://evil.test/steal", mimetype="image/jpeg"))


def test_hmac_matches_the_documented_test_vector():
    body = b'{"event":"message","session":"default","engine":"WEBJS"}'
    digest = ("208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8097c462b2b17a6ce93b6b47a136cf2e78a"
              "33a63f6752c2c1631777076153fa89")
    assert Client.signature_ok(body, {"X-Webhook-Hmac": digest, "X-Webhook-Hmac-Algorithm": "sha512"}, "my-secret-key")
    assert not Client.signature_ok(body + b" ", {"X-Webhook-Hmac": digest}, "my-secret-key")
    assert not Client.signature_ok(body, {"X-Webhook-Hmac": digest, "X-Webhook-Hmac-Version": "2"}, "my-secret-key")


def test_normalize_reads_the_chat_from_the_id_on_every_engine():
    webjs_outgoing = {"id": "true_5511999990000@c.us_3EB0", "from": "15551230000@c.us", "to": "5511999990000@c.us",
                      "fromMe": True, "timestamp": 1753860100, "body": "Yes"}
    message = normalize(webjs_outgoing)
    assert message.chat_jid == "5511999990000@c.us" and message.from_me and message.chat_kind == "direct"
    assert normalize({"id": "garbage"}) is None
