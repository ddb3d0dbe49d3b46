"""The WhatsApp Cloud API webhook routes by Meta's phone_number_id, which only an owner/admin
registers and which belongs to one workspace; the signature is checked before more than a small
body is read; signed but malformed payloads are acknowledged per message, never a 500."""
import hashlib
import hmac
import json
import socket

import pytest
import sqlalchemy as sa

from tests.helpers.messages import messages
from tests.helpers.servers import served
from webapp.core.extensions import db
from webapp.models import CloudApiNumber, WhatsAppNumber

SECRET = "app-secret"
ACME_PNID = "106540352242922"


def _sign(raw):
    return "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()


def _payload(items, pnid=ACME_PNID, display="14155550001"):
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": display, "phone_number_id": pnid},
        "contacts": [{"profile": {"name": "Gob"}, "wa_id": "14155550101"}], "messages": items}}]}]}


def _text(mid, body="hello"):
    return {"from": "14155550101", "id": mid, "timestamp": "1748768400", "type": "text", "text": {"body": body}}


def _post(client, payload=None, raw=None):
    raw = raw if raw is not None else json.dumps(payload).encode()
    return client.post("/api/webhooks/whatsapp", data=raw,
                       headers={"Content-Type": "application/json", "X-Hub-Signature-256": _sign(raw)})


ACME_TOKEN = "EAAG-acme-system-user"
NEW_PNID = "106540352242999"


@pytest.fixture(autouse=True)
def meta(monkeypatch):
    """Meta's side of the proof: Acme's token sees Acme's phone number id, nothing else does."""
    from webapp.clients import graph
    owned = {ACME_TOKEN: {ACME_PNID: "+1 415-555-0001"}}

    def phone_number(client, phone_number_id):
        if client.token not in owned:
            raise graph.GraphAuthError("the Graph API refused the access token", 401)
        if phone_number_id not in owned[client.token]:
            raise graph.GraphMediaGone("the Graph API did not show this phone number", 400)
        return {"display_phone_number": owned[client.token][phone_number_id], "id": phone_number_id}
    monkeypatch.setattr(graph.GraphClient, "phone_number", phone_number)
    return owned


def _register_on_page(owner, pnid, number, token=ACME_TOKEN):
    return owner.post("/settings/whatsapp-cloud", data={"phone_number_id": pnid, "number": number,
                                                        "access_token": token})


def test_cross_workspace_webhook_is_impossible(app, demo, login):
    app.config["WHATSAPP_APP_SECRET"] = SECRET
    acme_owner, globex_owner = login("owner@acme.test"), login("owner@globex.test")
    assert _register_on_page(acme_owner, ACME_PNID, "+1 415 555 0001").status_code == 302
    # Globex copies Acme's business number as a member number and tries to claim Acme's id too.
    assert globex_owner.post("/team/numbers", data={"number": "+14155550001", "label": "x"}).status_code == 302
    refused = _register_on_page(globex_owner, ACME_PNID, "+14155550001", token="EAAG-globex")
    assert refused.status_code == 400 and b"Meta did not confirm this phone number ID" in refused.data
    assert b"already registered" not in refused.data          # no hint that another workspace has it
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CloudApiNumber)) == 1

    response = _post(app.test_client(), _payload([_text("wamid.acme-1")]))
    assert response.status_code == 200 and response.get_json()["stored"] == 1
    rows = messages()
    assert [(m.external_id, m.workspace_id) for m in rows] == [("wamid.acme-1", demo.acme.id)]
    # Traffic naming the display number but another id reaches nobody.
    other = _post(app.test_client(), _payload([_text("wamid.spoof")], pnid="999999999"))
    assert other.get_json()["ignored"] == 1 and len(messages()) == 1


def test_only_owner_and_admin_register_and_the_form_explains_mistakes(app, demo, login, meta):
    member = login("member@acme.test")
    assert member.get("/settings/whatsapp-cloud").status_code == 403
    assert _register_on_page(member, ACME_PNID, "+14155550001").status_code == 403
    admin = login("admin@acme.test")
    bad = _register_on_page(admin, "abc", "not a phone")
    assert bad.status_code == 400 and b"digits only" in bad.data and b"not a phone number" in bad.data
    wrong_number = _register_on_page(admin, ACME_PNID, "+14155550077")
    assert wrong_number.status_code == 400 and b"belongs to +1 415-555-0001, not +14155550077" in wrong_number.data
    meta[ACME_TOKEN][NEW_PNID] = "+1 415 555 0077"        # a business number the workspace doesn't have yet
    assert _register_on_page(admin, NEW_PNID, "+14155550077").status_code == 302
    row = db.session.scalar(sa.select(CloudApiNumber))
    assert row.number.e164 == "+14155550077" and row.number.workspace_id == demo.acme.id
    page = admin.get("/settings/whatsapp-cloud")
    assert NEW_PNID.encode() in page.data
    assert admin.post(f"/settings/whatsapp-cloud/{row.id}/remove").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CloudApiNumber)) == 0


def test_the_first_workspace_to_name_an_id_cannot_squat_it(app, demo, login, meta):
    """Globex names Acme's id first, without a token of Acme's: refused, nothing stored; Acme, who
    proves it, registers it. Another workspace with a token that sees the same id hears it is taken."""
    assert _register_on_page(login("owner@globex.test"), ACME_PNID, "+14155550001", token="").status_code == 400
    assert _register_on_page(login("owner@globex.test"), ACME_PNID, "+14155550001",
                             token="EAAG-guess").status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CloudApiNumber)) == 0
    assert _register_on_page(login("owner@acme.test"), ACME_PNID, "+14155550001").status_code == 302
    meta["EAAG-globex-same-business"] = {ACME_PNID: "+1 415-555-0001"}
    taken = _register_on_page(login("owner@globex.test"), ACME_PNID, "+14155550001", token="EAAG-globex-same-business")
    assert taken.status_code == 409 and b"already registered in another Closeline workspace" in taken.data


def _register(demo):
    number = db.session.scalar(sa.select(WhatsAppNumber).where(WhatsAppNumber.e164 == "+14155550001"))
    db.session.add(CloudApiNumber(workspace_id=demo.acme.id, phone_number_id=ACME_PNID, whatsapp_number_id=number.id))
    db.session.commit()


def test_body_over_the_limit_is_refused_before_the_signature_over_real_http(app, demo):
    """A 40 MB unsigned body: answered 413 after the headers, the server never reads it."""
    from urllib.parse import urlsplit
    app.config["WHATSAPP_APP_SECRET"] = SECRET
    with served(app) as base:
        for content_type in (b"application/json", b"application/x-www-form-urlencoded"):
            with socket.create_connection(("127.0.0.1", urlsplit(base).port), timeout=30) as sock:
                sock.sendall(b"POST /api/webhooks/whatsapp HTTP/1.1\r\nHost: x\r\nContent-Type: " + content_type +
                             b"\r\nX-Hub-Signature-256: sha256=00\r\nContent-Length: 40000000\r\n\r\n" + b"a" * 1000)
                answer = sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    small_but_unsigned = app.test_client().post("/api/webhooks/whatsapp", data=b"{}",
                                                headers={"X-Hub-Signature-256": "sha256=00"})
    assert small_but_unsigned.status_code == 401


MALFORMED_ITEMS = [
    {"from": "14155550101", "id": "wamid.str-text", "timestamp": "1748768400", "type": "text", "text": "a string"},
    {"from": "14155550101", "id": "wamid.list-text", "timestamp": "1748768400", "type": "text", "text": ["x"]},
    {"from": "14155550101", "id": 12345, "timestamp": "1748768400", "type": "text", "text": {"body": "int id"}},
    {"from": {"x": 1}, "id": "wamid.dict-from", "timestamp": "1748768400", "type": "text", "text": {"body": "x"}},
    {"from": "14155550101", "id": "wamid.ts", "timestamp": "9" * 5000, "type": "text", "text": {"body": "x"}},
    {"from": "14155550101", "id": "wamid.sur", "timestamp": "1748768400", "type": "text", "text": {"body": "\ud800"}},
    {"from": "14155550101", "id": "wamid.nul", "timestamp": "1748768400", "type": "text", "text": {"body": "a\x00b"}},
    {"from": "14155550101", "id": "wamid.\udfff", "timestamp": "1748768400", "type": "text", "text": {"body": "x"}},
    {"from": "14155550101", "id": "wamid.img", "timestamp": "1748768400", "type": "image", "image": "not-an-object"},
    {"from": "14155550101", "id": "wamid.type", "timestamp": "1748768400", "type": ["text"], "text": {"body": "x"}},
    {"from": "14155550101", "id": "wamid.ctx", "timestamp": "1748768400", "type": "text", "text": {"body": "x"},
     "context": "nope"},
    "not an object", None, 7,
]


def test_signed_malformed_payloads_are_acknowledged_never_500(app, demo, sandbox_connection):
    app.config["WHATSAPP_APP_SECRET"] = SECRET
    _register(demo)
    client = app.test_client()
    good = _text("wamid.good")
    response = _post(client, _payload(MALFORMED_ITEMS + [good]))
    assert response.status_code == 200, response.data[:300]
    answer = response.get_json()
    stored = {m.external_id for m in messages()}
    assert "wamid.good" in stored and "wamid.str-text" in stored   # a plain-string text is still a text
    for rejected in ("wamid.list-text", "wamid.sur", "wamid.nul", "wamid.dict-from", "wamid.ts"):
        assert rejected not in stored
    assert answer["stored"] == len(stored) and answer["ignored"] >= 5
    assert {r["id"] for r in answer["rejected"]} >= {"wamid.list-text", "wamid.sur", "wamid.nul"}
    for raw in (b"[]", b"null", b"\"x\"", b"[" * 100000, b"{\"entry\": " * 5000 + b"1" + b"}" * 5000,
                json.dumps({"entry": "x"}).encode(), json.dumps({"entry": [{"changes": "x"}]}).encode(),
                json.dumps({"entry": [{"changes": [{"value": {"messages": "x"}}]}]}).encode(),
                json.dumps({"entry": [{"changes": [{"value": {"metadata": [], "messages": [{}]}}]}]}).encode(),
                b"\xff\xfe not utf-8"):
        response = _post(client, raw=raw)
        assert response.status_code == 200, (raw[:40], response.status_code)
    assert {m.external_id for m in messages()} == stored
