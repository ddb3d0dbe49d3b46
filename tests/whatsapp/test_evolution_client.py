"""The Evolution API client: payload variants across 2.3.x / 2.4.0 (LIDs, Long values, wrappers,
edit and delete shapes), the webhook secret, dedupe keys, and the REST calls against the sandbox's
/evolution façade (named errors, QR, pairing code)."""
import json
import time

import pytest
import requests

from tests.helpers.gateway_sandbox import MIA
from tests.helpers.workers import run_queued
from webapp.clients.gateways import base
from webapp.clients.gateways.evolution import SECRET_HEADER, Client, normalize, number_value

PHONE = "5511987654321@s.whatsapp.net"
LID = "123456789012345@lid"


def upsert(key, message=None, **extra):
    return {"key": {"fromMe": False, "id": "3A1FE00DBC50780B05E2", **key}, "pushName": "Maria Souza",
            "message": message or {"conversation": "Oi!"}, "messageType": "conversation",
            "messageTimestamp": 1764944932, **extra}


@pytest.mark.parametrize("key, chat, hint", [
    ({"remoteJid": PHONE, "remoteJidAlt": PHONE, "addressingMode": "lid"}, "5511987654321@c.us", None),   # 2.3.7
    ({"remoteJid": LID, "remoteJidAlt": PHONE, "addressingMode": "lid"}, LID, "5511987654321@c.us"),      # 2.3.6
    ({"remoteJid": PHONE, "remoteJidAlt": LID, "addressingMode": "lid"}, "5511987654321@c.us", None),     # 2.4.0
    ({"remoteJid": LID, "senderPn": PHONE}, LID, "5511987654321@c.us"),                                 # 2.3.0
    ({"remoteJid": LID}, LID, None),                                                                    # no phone
])
def test_the_chat_and_its_phone_across_versions(key, chat, hint):
    message = normalize(upsert(key), "sales")
    assert (message.chat_jid, message.phone_hint, message.chat_kind) == (chat, hint, "direct")
    assert message.text == "Oi!" and message.sender_name == "Maria Souza" and not message.from_me
    assert message.sent_at.timestamp() == 1764944932


def test_groups_broadcasts_reactions_and_protocol_messages():
    assert normalize(upsert({"remoteJid": "120363025246125486@g.us", "participant": LID}), "s").chat_kind == "group"
    assert normalize(upsert({"remoteJid": "status@broadcast"}), "s").chat_kind == "ignore"
    assert normalize(upsert({"remoteJid": PHONE}, {"reactionMessage": {"text": "👍"}}), "s") is None
    assert normalize(upsert({"remoteJid": PHONE}, {"protocolMessage": {"type": 0}}), "s") is None
    assert normalize({"key": {"remoteJid": PHONE}}, "s") is None  # no id


def test_long_values_wrappers_captions_locations_and_contacts():
    assert number_value({"low": -285458533, "high": 410, "unsigned": False}) == 1764946100123
    assert number_value("84213") == 84213 and number_value(7) == 7 and number_value(None) is None
    wrapped = {"ephemeralMessage": {"message": {"viewOnceMessageV2": {"message": {
        "imageMessage": {"mimetype": "image/jpeg", "caption": "Este aqui",
                         "fileLength": {"low": 84213, "high": 0, "unsigned": True}}}}}}}
    image = normalize(upsert({"remoteJid": PHONE}, wrapped, messageType="ephemeralMessage"), "sales")
    assert image.text == "Este aqui" and image.media[0].mimetype == "image/jpeg"
    assert image.media[0].ref["instance"] == "sales" and image.media[0].ref["key"]["id"] == "3A1FE00DBC50780B05E2"
    doc = normalize(upsert({"remoteJid": PHONE}, {"documentWithCaptionMessage": {"message": {"documentMessage": {
        "mimetype": "application/pdf", "fileName": "quote.pdf", "caption": "the quote"}}}}), "s")
    assert doc.media[0].filename == "quote.pdf" and doc.text == "the quote"
    assert normalize(upsert({"remoteJid": PHONE}, {"extendedTextMessage": {"text": "v1 text"}}), "s").text == "v1 text"
    place = normalize(upsert({"remoteJid": PHONE}, {"locationMessage": {
        "degreesLatitude": -23.5614, "degreesLongitude": -46.6559, "name": "Loja Centro"}}), "s")
    assert "Loja Centro" in place.text and "-23.5614" in place.text
    card = normalize(upsert({"remoteJid": PHONE}, {"contactMessage": {"displayName": "Carlos", "vcard":
                     "BEGIN:VCARD\nVERSION:3.0\nFN:Carlos\nTEL;type=CELL;waid=5511955554444:+55 11 95555-4444\nEND:VCARD"}}), "s")
    assert "Carlos" in card.text and "+55 11 95555-4444" in card.text
    poll = normalize(upsert({"remoteJid": PHONE}, {"pollCreationMessage": {"name": "?"}},
                            messageType="pollCreationMessage"), "s")
    assert poll.text == "[pollCreationMessage]"


def test_replies_know_whether_the_quoted_message_was_mine():
    data = upsert({"remoteJid": PHONE}, contextInfo={"stanzaId": "3EB0A7F3C1D2E4B5A6C7D8",
                                                     "participant": "5511900000000@s.whatsapp.net"})
    mine = normalize(data, "s", {"id": "5511900000000@c.us"})
    assert mine.reply_to_short_id == "3EB0A7F3C1D2E4B5A6C7D8" and mine.reply_to_from_me
    theirs = normalize(data, "s", {"id": "5511911111111@c.us"})
    assert not theirs.reply_to_from_me


def envelope(event, data, instance="sales"):
    return {"event": event, "instance": instance, "data": data, "destination": "http://x",
            "date_time": "2025-12-05T11:28:52.512Z", "sender": "5511900000000@s.whatsapp.net",
            "server_url": "http://evo", "apikey": "TOKEN"}


def test_edits_and_deletions_in_every_shape_are_found_by_message_id():
    client = Client("http://evo.test", None)
    for kind in ("MESSAGE_EDIT", 14):
        edit = envelope("messages.edited", {"key": {"remoteJid": "5511900000000@s.whatsapp.net", "fromMe": True,
                                                    "id": "ORIG1"}, "type": kind,
                                            "editedMessage": {"conversation": "new text"}, "timestampMs": "1"})
        [event] = client.parse_webhook(edit)
        assert isinstance(event, base.EditEvent) and (event.chat_jid, event.short_id, event.text) == \
            (None, "ORIG1", "new text")
    update = envelope("messages.update", {"keyId": "ORIG1", "remoteJid": LID, "fromMe": False, "status": "SERVER_ACK",
                                          "message": {"editedMessage": {"message": {"conversation": "new text"}}}})
    [event] = client.parse_webhook(update)
    assert isinstance(event, base.EditEvent) and event.text == "new text"
    assert client.dedupe_key(edit) == client.dedupe_key(update)   # 2.3.7 reports an edit twice: one row
    revoke = envelope("messages.edited", {"key": {"remoteJid": LID, "fromMe": False, "id": "ORIG2"}, "type": "REVOKE"})
    bare = envelope("messages.delete", {"remoteJid": LID, "remoteJidAlt": PHONE, "fromMe": False, "id": "ORIG2",
                                        "status": "DELETED"})
    row = envelope("messages.delete", {"id": "cmi9x2k0b00a1p84q8w1h2j3k", "key": {"remoteJid": PHONE, "fromMe": True,
                                                                                 "id": "ORIG2"}, "status": "DELETED"})
    parsed = [client.parse_webhook(e)[0] for e in (revoke, bare, row)]
    assert all(isinstance(p, base.RevokeEvent) and p.short_id == "ORIG2" for p in parsed)
    assert len({client.dedupe_key(e) for e in (revoke, bare, row)}) == 1
    [other] = client.parse_webhook(envelope("messages.edited", {"key": {"id": "X"}, "type": 5}))
    assert isinstance(other, base.IgnoredEvent)
    assert client.dedupe_key(envelope("messages.upsert", upsert({"remoteJid": PHONE}))) == \
        client.dedupe_key(envelope("send.message", upsert({"remoteJid": PHONE})))


@pytest.mark.parametrize("data, status", [
    ({"instance": "sales", "wuid": "5511900000000@s.whatsapp.net", "state": "open", "statusReason": 200},
     base.WORKING),
    ({"instance": "sales", "state": "close", "statusReason": 401}, base.FAILED),
    ({"instance": "sales", "state": "refused", "statusReason": 428}, base.FAILED),
    # Baileys reconnects by itself after a drop (428…): no close first, just connecting → open.
    ({"instance": "sales", "state": "connecting", "statusReason": 428}, base.RECONNECTING),
    ({"instance": "sales", "state": "connecting", "statusReason": 200}, base.RECONNECTING),
])
def test_connection_updates_map_to_number_health(data, status):
    [event] = Client("http://evo.test", None).parse_webhook(envelope("connection.update", data))
    assert isinstance(event, base.StatusEvent) and event.status == status
    if status == base.WORKING:
        assert event.me == {"id": "5511900000000@c.us", "pushName": None}


def _token(secret, issued_ago=0):
    """An Evolution webhook token (HS256, iat, exp = iat + 600), as Evolution signs it with jwt_key."""
    from joserfc import jwt
    from joserfc.jwk import OctKey
    now = int(time.time()) - issued_ago
    claims = {"iat": now, "exp": now + 600, "app": "evolution", "action": "webhook"}
    return "Bearer " + jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret))


def test_the_webhook_token_must_be_signed_with_the_instance_secret_and_fresh():
    secret = "s" * 43
    assert Client.signature_ok(b"{}", {"Authorization": _token(secret)}, secret)
    assert not Client.signature_ok(b"{}", {"Authorization": _token("t" * 43)}, secret)          # another key
    assert not Client.signature_ok(b"{}", {"Authorization": _token(secret, issued_ago=700)}, secret)  # expired
    assert not Client.signature_ok(b"{}", {"Authorization": "Bearer not.a.token"}, secret)


def test_the_webhook_secret_is_compared_exactly():
    raw = b"{}"
    assert Client.signature_ok(raw, {SECRET_HEADER: "s3cret-value"}, "s3cret-value")
    assert not Client.signature_ok(raw, {SECRET_HEADER: "s3cret-valuE"}, "s3cret-value")
    assert not Client.signature_ok(raw, {}, "s3cret-value")
    assert not Client.signature_ok(raw, {SECRET_HEADER: ""}, "")
    assert Client.session_of({"instance": "sales", "session": "other"}) == "sales"


# -- REST against the sandbox's Evolution façade -------------------------------------------------------

def test_server_info_and_named_errors(wa):
    key = wa.app.config["EVOLUTION_API_KEY"]
    info = Client(wa.evolution_url, key).server_info()
    assert info.version == "2.3.7" and info.single_session is False
    with pytest.raises(base.GatewayError) as wrong:
        Client(wa.evolution_url, "not-the-key").server_info()
    assert wrong.value.kind == "unauthorized"
    with pytest.raises(base.GatewayError) as waha:
        Client(wa.waha_url, key).server_info()
    assert waha.value.kind == "not_gateway"
    with pytest.raises(base.GatewayError) as down:
        Client("http://127.0.0.1:9", key).server_info()
    assert down.value.kind == "refused"   # loopback not in GATEWAY_ALLOWED_HOSTS: never called


def test_instance_qr_pairing_code_and_me(wa):
    client = Client(wa.evolution_url, wa.app.config["EVOLUTION_API_KEY"])
    state = client.start_session("cl-test", webhook_url="http://127.0.0.1:9/hook", hmac_key="k" * 40, metadata={})
    assert state.status == base.QR and client.session_state("cl-test").status == base.QR
    assert client.qr_png("cl-test").startswith(b"\x89PNG")
    code = client.pairing_code("cl-test", MIA.lstrip("+"))
    assert len(code.replace("-", "")) == 8
    wa.control("POST", "scan", {"number": MIA, "code": code})
    assert client.session_state("cl-test").status == base.WORKING
    assert client.me("cl-test")["id"] == MIA.lstrip("+") + "@c.us"
    client.logout_and_delete("cl-test")
    client.logout_and_delete("cl-test")  # already gone: no error
    with pytest.raises(base.GatewayError) as gone:
        client.session_state("cl-test")
    assert gone.value.kind == "not_found"


def test_a_stale_owner_after_logout_is_not_taken_for_a_linked_number(wa):
    client = Client(wa.evolution_url, wa.app.config["EVOLUTION_API_KEY"])
    client.start_session("cl-stale", webhook_url="http://127.0.0.1:9/hook", hmac_key="k" * 40, metadata={})
    wa.control("POST", "scan", {"number": MIA, "qr": client.qr_value("cl-stale")})
    assert client.session_state("cl-stale").status == base.WORKING
    wa.control("POST", "evolution/instances/cl-stale/logout", {})
    rows = requests.get(f"{wa.evolution_url}/instance/fetchInstances", headers=wa.evolution_headers, timeout=10).json()
    assert rows[0]["ownerJid"] == MIA.lstrip("+") + "@s.whatsapp.net"   # the row still names the old owner
    assert client.me("cl-stale") is None
    client._qr("cl-stale")   # connect again: a new QR, not a "reconnecting" linked number
    assert client.session_state("cl-stale").status == base.QR


def test_the_webhook_refuses_a_wrong_secret_and_stores_a_right_one_once(app, demo):
    from webapp.core import crypto
    from webapp.core.extensions import db
    from webapp.models import GatewayEvent, NumberLink
    from webapp.whatsapp import gateways_service
    gateway = gateways_service.add_gateway(demo.acme.id, name="Evo", base_url="http://evo.test:8080", api_key="k",
                                           kind="evolution")
    db.session.add(NumberLink(workspace_id=demo.acme.id, gateway_id=gateway.id, session_name="sales",
                              state="linked", hmac_key_enc=crypto.encrypt("the-secret")))
    db.session.commit()
    body = json.dumps(envelope("messages.upsert", upsert({"remoteJid": PHONE})))
    client = app.test_client()
    url = f"/api/webhooks/evolution/{gateway.id}"
    for headers in ({}, {SECRET_HEADER: "wrong"}, {"apikey": "TOKEN"}):
        assert client.post(url, data=body, headers=headers, content_type="application/json").status_code == 401
    assert db.session.query(GatewayEvent).count() == 0
    ok = client.post(url, data=body, headers={SECRET_HEADER: "the-secret"}, content_type="application/json")
    again = client.post(url, data=body, headers={SECRET_HEADER: "the-secret"}, content_type="application/json")
    assert ok.get_json() == {"status": "stored"} and again.get_json() == {"status": "duplicate"}
    [row] = db.session.query(GatewayEvent).all()
    assert row.session_name == "sales" and row.dedupe_key == "sales:msg:3A1FE00DBC50780B05E2"
    assert client.post(f"/api/webhooks/waha/{gateway.id}", data=body, headers={SECRET_HEADER: "the-secret"},
                       content_type="application/json").status_code == 404


def test_admin_adds_an_evolution_gateway_tests_and_removes_it(app, demo, login, wa):
    import sqlalchemy as sa

    from webapp.core.extensions import db
    from webapp.models import Gateway, NumberLink
    from webapp.whatsapp import linking
    key = wa.app.config["EVOLUTION_API_KEY"]
    browser = login("admin@acme.test")
    response = browser.post("/whatsapp/gateways", data={"kind": "evolution", "name": "Evo", "base_url": wa.evolution_url,
                                                         "api_key": key})
    assert response.status_code == 302
    assert run_queued("jobs.whatsapp.test_gateway") == ["finished"]
    gateway = db.session.scalar(sa.select(Gateway))
    assert gateway.kind == "evolution" and gateway.version == "2.3.7" and key not in gateway.api_key_enc
    page = browser.get("/whatsapp/").get_data(as_text=True)
    assert "Connected: Evolution API 2.3.7, instances: none." in page
    assert f"/api/webhooks/evolution/{gateway.id}" in page
    link = linking.start_link(gateway, demo.memberships["member@acme.test"])
    assert [i["name"] for i in wa.control("GET", "state")["evolution"]["instances"]] == [link.session_name]
    from webapp.core import crypto
    gateway.api_key_enc = crypto.encrypt("wrong")
    db.session.commit()
    browser.post(f"/whatsapp/gateways/{gateway.id}/test", htmx=True)
    assert run_queued("jobs.whatsapp.test_gateway") == ["failed"]
    fragment = browser.get(f"/whatsapp/gateways/{gateway.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Use the global key (AUTHENTICATION_API_KEY)" in fragment
    bad = browser.post("/whatsapp/gateways", data={"kind": "matrix", "name": "X", "base_url": wa.evolution_url})
    assert bad.status_code == 400 and db.session.query(Gateway).count() == 1
    gateway.api_key_enc = crypto.encrypt(key)
    db.session.commit()
    assert browser.post(f"/whatsapp/gateways/{gateway.id}/remove").status_code == 302
    assert db.session.query(Gateway).count() == 0 and db.session.query(NumberLink).count() == 0
    assert wa.control("GET", "state")["evolution"]["instances"] == []  # its instance was deleted
