"""Real HTTP end to end with Evolution API: the WhatsApp sandbox's /evolution façade → Closeline's
webhook → a real RQ worker → the Close sandbox. The WAHA matrix, repeated for Evolution."""
import base64
import json

import requests

from tests.helpers.gateway_sandbox import (
    CHLOE,
    JANE,
    MIA,
    WEI,
    evo_id,
    evo_instance,
    fresh,
    missed_until_given_up,
    scan_evo,
    wait_state,
)
from tests.helpers.messages import activities, messages
from tests.helpers.waiting import wait_for
from tests.helpers.whatsapp import events

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"1" * 64).decode()
PDF = base64.b64encode(b"%PDF-1.4 evolution quote").decode()
JANE_D, CHLOE_D = JANE.lstrip("+"), CHLOE.lstrip("+")


def _activity(close_sandbox, external_id, timeout=40):
    return wait_for(lambda: activities(close_sandbox, external_id=external_id), timeout=timeout, interval=0.3,
                    message=f"activity {external_id} in Close")[0]


def test_link_records_the_number_and_sets_a_secret_webhook(app, demo, sandbox_connection, close_sandbox, linked_mia_evo, wa):
    assert linked_mia_evo.number.e164 == MIA and linked_mia_evo.gateway.kind == "evolution"
    instance = evo_instance(wa, linked_mia_evo.session_name)
    assert instance["state"] == "open" and instance["webhook"].endswith(
        f"/api/webhooks/evolution/{linked_mia_evo.gateway_id}")
    found = requests.get(f"{wa.evolution_url}/webhook/find/{linked_mia_evo.session_name}",
                         headers=wa.evolution_headers, timeout=10).json()
    assert found["enabled"] is True and found["webhookBase64"] is False
    # jwt_key: Evolution sends a fresh signed token per delivery instead of a static secret.
    assert set(found["headers"]) == {"jwt_key"} and len(found["headers"]["jwt_key"]) > 30
    sent = wa.send(JANE, MIA, "Olá, o orçamento está pronto?")
    activity = _activity(close_sandbox, evo_id(sent, False, JANE_D))
    assert activity["direction"] == "incoming" and activity["remote_phone"] == JANE
    assert activity["message_markdown"] == "Olá, o orçamento está pronto?" and activity["local_phone"] == MIA
    assert {m.source for m in messages()} == {"evolution"}


def test_outgoing_reply_image_document_edit_and_revoke(app, demo, sandbox_connection, close_sandbox, linked_mia_evo, wa):
    question = wa.send(JANE, MIA, "Can you send the quote?")
    answer = wa.send(MIA, JANE, "Here it is", reply_to=question["id"])  # typed on Mia's phone
    photo = wa.send(JANE, MIA, "Site photo", media={"filename": None, "mimetype": "image/png", "data_base64": PNG})
    doc = wa.send(MIA, JANE, "", media={"filename": "quote.pdf", "mimetype": "application/pdf", "data_base64": PDF})
    q = _activity(close_sandbox, evo_id(question, False, JANE_D))
    a = _activity(close_sandbox, evo_id(answer, True, JANE_D))
    assert a["direction"] == "outgoing" and a["response_to_id"] == q["id"]
    p = _activity(close_sandbox, evo_id(photo, False, JANE_D))
    assert p["message_markdown"] == "Site photo" and p["attachments"][0]["content_type"] == "image/png"
    d = _activity(close_sandbox, evo_id(doc, True, JANE_D))
    assert d["attachments"][0]["filename"] == "quote.pdf"
    media_calls = [r for r in wa.control("GET", "requests", facade="evolution")["data"]
                   if "getBase64FromMediaMessage" in r.get("path", "")]
    assert len(media_calls) >= 2

    wa.control("POST", f"messages/{question['id']}/edit", {"text": "Can you send the quote today?"})
    wait_for(lambda: _activity(close_sandbox, evo_id(question, False, JANE_D))["message_markdown"] ==
             "Can you send the quote today?", timeout=40, interval=0.3, message="edit in Close")
    wa.control("POST", f"messages/{photo['id']}/revoke", {})
    wait_for(lambda: any("deleted on WhatsApp" in m.reason for m in messages()), timeout=40, interval=0.3,
             message="revoke noted")
    assert len(activities(close_sandbox, external_id=evo_id(photo, False, JANE_D))) == 1  # mirror deletions is off


def test_fifty_duplicate_deliveries_make_one_activity(app, demo, sandbox_connection, close_sandbox, linked_mia_evo, wa):
    wa.control("PUT", "webhooks/faults", {"duplicate": 50, "facade": "evolution"})
    sent = wa.send(JANE, MIA, "Only once please")
    _activity(close_sandbox, evo_id(sent, False, JANE_D))
    wait_for(lambda: wa.control("GET", "webhooks")["pending"] == 0, timeout=60, interval=0.3,
             message="all 50 deliveries made")
    assert len(activities(close_sandbox, external_id=evo_id(sent, False, JANE_D))) == 1
    assert len([m for m in messages() if m.text == "Only once please"]) == 1


def test_lid_chats_are_resolved_or_held(app, demo, sandbox_connection, close_sandbox, linked_mia_evo, wa):
    resolvable = wa.send(CHLOE, MIA, "G'day from Sydney")
    activity = _activity(close_sandbox, evo_id(resolvable, False, CHLOE_D))
    assert activity["remote_phone"] == CHLOE
    wa.send(WEI, MIA, "Hello from Singapore")
    held = wait_for(lambda: [e for e in events() if e.state == "held"], timeout=40, interval=0.3,
                    message="unresolvable LID held")
    assert "LID" in held[0].reason


def test_wrong_or_missing_secret_is_refused_and_nothing_is_stored(app, demo, linked_mia_evo, wa, live):
    url = f"{live.url}/api/webhooks/evolution/{linked_mia_evo.gateway_id}"
    body = json.dumps({"event": "messages.upsert", "instance": linked_mia_evo.session_name,
                       "data": {"key": {"remoteJid": f"{JANE_D}@s.whatsapp.net", "fromMe": False, "id": "FORGED1"},
                                "message": {"conversation": "forged"}, "messageTimestamp": 1764944932}})
    before = len(events())
    for headers in ({}, {"X-Closeline-Webhook-Secret": "guess"}, {"apikey": wa.app.config["EVOLUTION_API_KEY"]}):
        response = requests.post(url, data=body, headers={"Content-Type": "application/json", **headers}, timeout=10)
        assert response.status_code == 401
    assert len(events()) == before and not [m for m in messages() if m.text == "forged"]
    wrong_kind = requests.post(f"{live.url}/api/webhooks/waha/{linked_mia_evo.gateway_id}", data=body, timeout=10)
    assert wrong_kind.status_code == 404


def test_messages_missed_while_closeline_is_down_are_recovered(app, demo, sandbox_connection, close_sandbox, linked_mia_evo,
                                                               wa, live):
    from webapp.whatsapp import linking
    live.stop()
    sent = [wa.send(JANE, MIA, f"While you were away {i}") for i in range(5)]
    sent.append(wa.send(CHLOE, MIA, "And from Sydney"))
    wa.control("POST", "webhooks/flush")
    missed_until_given_up(wa, len(sent))
    live.start()
    linking.enqueue_recovery(fresh(linked_mia_evo))
    for message in sent[:5]:
        _activity(close_sandbox, evo_id(message, False, JANE_D))
    _activity(close_sandbox, evo_id(sent[5], False, CHLOE_D))
    wait_for(lambda: fresh(linked_mia_evo).recovered_count == 6, timeout=30, interval=0.3, message="6 recovered")


def test_failed_instance_notifies_and_relinking_recovers_its_messages(app, demo, sandbox_connection, close_sandbox,
                                                                      linked_mia_evo, wa, login):
    import sqlalchemy as sa

    from webapp.core.extensions import db
    from webapp.models import Notification
    from webapp.whatsapp import linking
    wa.control("POST", f"evolution/instances/{linked_mia_evo.session_name}/logout", {})  # device removed
    wait_state(linked_mia_evo, "failed")
    users = {n.user_id for n in db.session.scalars(sa.select(Notification))}
    assert demo.users["member@acme.test"].id in users and demo.users["owner@acme.test"].id in users
    assert "failed (needs relinking)" in login("member@acme.test").get("/whatsapp/").get_data(as_text=True)
    missed = wa.send(JANE, MIA, "Sent while the link was broken")
    linking.relink(fresh(linked_mia_evo))
    scan_evo(wa, linked_mia_evo)
    wait_state(linked_mia_evo, "linked")
    _activity(close_sandbox, evo_id(missed, False, JANE_D))
    # It came with the history sync after linking (messages.set), through the same inbox.
    wait_for(lambda: [e for e in events(event="messages.set") if e.state == "done"], timeout=30, interval=0.3,
             message="the history sync handled")


def test_reconnect_loop_shows_reconnecting_then_linked_again(app, demo, sandbox_connection, linked_mia_evo, wa):
    wa.control("POST", f"evolution/instances/{linked_mia_evo.session_name}/fail", {})
    wait_state(linked_mia_evo, "reconnecting")   # Baileys reconnecting by itself: not a logout
    wa.control("POST", f"evolution/instances/{linked_mia_evo.session_name}/restore", {})
    wait_state(linked_mia_evo, "linked")


def test_gateway_unreachable_is_shown_and_nothing_is_lost(app, demo, sandbox_connection, close_sandbox, linked_mia_evo, wa,
                                                          login):
    from webapp.whatsapp import health
    wa.control("PUT", "outage", {"facade": "evolution", "down": True, "status": 503})
    photo = wa.send(JANE, MIA, "Photo while the API is down",
                    media={"filename": None, "mimetype": "image/png", "data_base64": PNG})
    wait_for(lambda: [e for e in events() if e.state == "failed"], timeout=40, interval=0.3,
             message="media event failed while the gateway is down")
    health.check_all()
    assert fresh(linked_mia_evo).state == "unreachable"
    assert "gateway unreachable" in login("member@acme.test").get("/whatsapp/").get_data(as_text=True)
    wa.control("PUT", "outage", {"facade": "evolution", "down": False})
    health.check_all()
    wait_state(linked_mia_evo, "linked")
    p = _activity(close_sandbox, evo_id(photo, False, JANE_D))
    assert p["attachments"][0]["content_type"] == "image/png"
