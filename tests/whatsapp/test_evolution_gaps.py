"""Nothing lost with Evolution API 2.3.6 / 2.3.7 / 2.4.0, over real HTTP: the WhatsApp sandbox's
/evolution façade configured as each version → Closeline's webhook → a real RQ worker → the Close
sandbox. Blips and reconnects fetch the gap, a zombie socket is noticed and restarted, pairing
codes, relinks that never delete a working instance, reply links in hidden-number chats, history
without deleted rows, the 2.4.0 licence gate named plainly, media failures in plain words, and the
history sync after a relink."""
import base64
import json

import pytest
import requests

from tests.helpers.gateway_sandbox import CHLOE, JANE, MIA, evo_id, evo_instance, fresh, scan_evo, wait_state
from tests.helpers.messages import activities, messages
from tests.helpers.waiting import wait_for
from tests.helpers.whatsapp import events

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"2" * 64).decode()
JANE_D, CHLOE_D = JANE.lstrip("+"), CHLOE.lstrip("+")
VERSIONS = ("2.3.6", "2.3.7", "2.4.0")
# What must never reach Close: WhatsApp's CDN, Evolution's raw error names.
RAW_FAILURES = ("mmg.whatsapp.net", "AggregateError", "Failed to fetch stream", "Error:")


@pytest.fixture
def evo_config(wa):
    """Set the sandbox's Evolution config for one test; the session-wide sandbox gets its defaults back."""
    from whatsapp_sandbox import DEFAULTS
    changed = set()

    def configure(**values):
        changed.update(values)
        wa.control("PUT", "config", values)
    yield configure
    if changed:
        wa.control("PUT", "config", {key: DEFAULTS[key] for key in changed})


@pytest.fixture(params=VERSIONS)
def evo_version(request, wa, evo_config):
    """The sandbox speaks this Evolution version (2.4.0 with its licence activated)."""
    evo_config(EVOLUTION_VERSION=request.param)
    if request.param == "2.4.0":
        activate_licence(wa)
    return request.param


def activate_licence(wa):
    answer = requests.post(f"{wa.evolution_url}/license/activate", headers=wa.evolution_headers, timeout=10)
    assert answer.status_code == 200


def _activity(close_sandbox, external_id, timeout=40):
    return wait_for(lambda: activities(close_sandbox, external_id=external_id), timeout=timeout, interval=0.3,
                    message=f"activity {external_id} in Close")[0]


def _evolution_requests(wa, word):
    return [r for r in wa.control("GET", "requests", facade="evolution")["data"] if word in r.get("path", "")]


def test_dropped_deliveries_then_a_blip_bring_all_five_to_close(evo_version, app, demo, sandbox_connection,
                                                               close_sandbox, linked_mia_evo, wa):
    copies = 1 if evo_version == "2.3.6" else 2   # 2.3.7+ sends each upsert twice
    wa.control("PUT", "webhooks/faults", {"drop": 5 * copies, "facade": "evolution"})
    sent = [wa.send(JANE, MIA, f"Lost on the way {i}") for i in range(5)]
    wait_for(lambda: len(wa.control("GET", "webhooks", outcome="dropped")["data"]) == 5 * copies, timeout=30,
             interval=0.2, message="five deliveries dropped")
    wa.control("POST", f"evolution/instances/{linked_mia_evo.session_name}/blip", {})
    for message in sent:
        _activity(close_sandbox, evo_id(message, False, JANE_D))
    # The blip was seen as a reconnect (not a logout), and the link is back to linked.
    assert any(e.reason == "session RECONNECTING" for e in events(event="connection.update"))
    wait_state(linked_mia_evo, "linked")
    assert fresh(linked_mia_evo).was_linked and not [m for m in messages() if m.state == "dead"]
    for message in sent:
        assert len(activities(close_sandbox, external_id=evo_id(message, False, JANE_D))) == 1
    assert len(messages()) == 5


def test_double_upserts_of_every_version_make_one_activity_each(evo_version, app, demo, sandbox_connection,
                                                                close_sandbox, linked_mia_evo, wa):
    sent = [wa.send(JANE, MIA, f"Twice delivered {i}") for i in range(3)]
    sent.append(wa.send(CHLOE, MIA, "From a hidden-number chat"))
    for message in sent[:3]:
        _activity(close_sandbox, evo_id(message, False, JANE_D))
    chloe = _activity(close_sandbox, evo_id(sent[3], False, CHLOE_D))
    assert chloe["remote_phone"] == CHLOE
    wait_for(lambda: wa.control("GET", "webhooks")["pending"] == 0, timeout=30, interval=0.2,
             message="every copy delivered")
    upserts = wa.control("GET", "webhooks", event="messages.upsert", outcome="delivered")["data"]
    assert len(upserts) == (4 if evo_version == "2.3.6" else 8)
    assert len(messages()) == 4 and len(activities(close_sandbox)) == 4


def test_a_zombie_socket_is_probed_restarted_and_what_it_missed_lands(app, demo, sandbox_connection, close_sandbox,
                                                                      linked_mia_evo, wa):
    import sqlalchemy as sa

    from webapp.core.extensions import db
    from webapp.models import Notification
    from webapp.whatsapp import health
    app.config["GATEWAY_LIVENESS_SILENCE"] = 0   # every check counts as "no traffic for a while"
    # A live but quiet connection: the probe answers, nothing is restarted.
    assert health.check_liveness(fresh(linked_mia_evo)) == "quiet"
    assert _evolution_requests(wa, "/instance/restart/") == []
    wa.control("POST", f"evolution/instances/{linked_mia_evo.session_name}/zombie", {})
    assert evo_instance(wa, linked_mia_evo.session_name)["state"] == "open"   # connectionState still says open
    sent = [wa.send(JANE, MIA, f"Into the void {i}") for i in range(3)]
    health.check_all()
    assert len(_evolution_requests(wa, "/instance/restart/")) == 1
    for message in sent:
        _activity(close_sandbox, evo_id(message, False, JANE_D))
    wait_state(linked_mia_evo, "linked")
    told = [n.text for n in db.session.scalars(sa.select(Notification))]
    assert any("restarted" in text and MIA in text for text in told)
    assert len(messages()) == 3


def test_a_reconnect_that_does_not_come_back_is_restarted_not_relinked(app, demo, sandbox_connection,
                                                                      linked_mia_evo, wa):
    from webapp.whatsapp import health
    wa.control("POST", f"evolution/instances/{linked_mia_evo.session_name}/fail", {})
    wait_state(linked_mia_evo, "reconnecting")
    app.config["GATEWAY_LIVENESS_SILENCE"] = 0   # it has been reconnecting "for too long"
    health.check_all()
    assert len(_evolution_requests(wa, "/instance/restart/")) == 1
    wait_state(linked_mia_evo, "linked")   # the restart cured it: no new QR code
    assert evo_instance(wa, linked_mia_evo.session_name)["number"] == MIA


def test_the_member_gets_a_pairing_code_and_links_with_it(app, demo, evo_gateway, live, worker, wa, login):
    import re

    from webapp.core.extensions import db
    from webapp.models import NumberLink
    member = login("member@acme.test")
    started = member.post("/whatsapp/links", data={"gateway_id": evo_gateway.id,
                                                   "membership_id": demo.memberships["member@acme.test"].id})
    assert started.status_code == 302
    link = db.session.query(NumberLink).one()
    wait_for(lambda: member.get(f"/whatsapp/links/{link.id}/status").status_code == 200 and fresh(link).state == "qr",
             timeout=30, interval=0.3, message="the QR phase")
    answer = member.post(f"/whatsapp/links/{link.id}/pairing-code", data={"phone": MIA}, htmx=True)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200, page
    code = re.search(r"\b([A-Z0-9]{4}-?[A-Z0-9]{4})\b", page).group(1)
    wa.control("POST", "scan", {"number": MIA, "code": code})
    wait_state(link, "linked")
    assert fresh(link).number.e164 == MIA
    instance = evo_instance(wa, link.session_name)
    assert instance["state"] == "open" and instance["webhook"].endswith(f"/api/webhooks/evolution/{evo_gateway.id}")


def test_relink_after_an_api_outage_never_deletes_a_working_instance(app, demo, sandbox_connection, close_sandbox,
                                                                     linked_mia_evo, wa, login):
    from webapp.whatsapp import health
    member = login("member@acme.test")
    before = evo_instance(wa, linked_mia_evo.session_name)
    wa.control("PUT", "outage", {"facade": "evolution", "down": True, "status": 503})
    health.check_all()
    assert fresh(linked_mia_evo).state == "unreachable"
    page = member.get(f"/whatsapp/links/{linked_mia_evo.id}").get_data(as_text=True)
    assert "Check again" in page and "Relink (new QR code)" not in page
    # Relinking while the gateway can't tell: nothing is deleted.
    assert member.post(f"/whatsapp/links/{linked_mia_evo.id}/relink").status_code == 302
    wa.control("PUT", "outage", {"facade": "evolution", "down": False})
    # Relinking once it answers again: the instance is open, so it is kept and the link is linked.
    assert member.post(f"/whatsapp/links/{linked_mia_evo.id}/relink").status_code == 302
    assert fresh(linked_mia_evo).state == "linked"
    after = evo_instance(wa, linked_mia_evo.session_name)
    assert after["id"] == before["id"] and after["state"] == "open" and after["number"] == MIA
    assert [r for r in wa.control("GET", "requests", facade="evolution")["data"] if r["method"] == "DELETE"] == []
    sent = wa.send(JANE, MIA, "Still flowing after the outage")
    _activity(close_sandbox, evo_id(sent, False, JANE_D))


def test_replies_in_a_hidden_number_chat_link_to_their_original(evo_version, app, demo, sandbox_connection,
                                                                close_sandbox, linked_mia_evo, wa):
    offer = wa.send(MIA, CHLOE, "Our offer: 20% off this week")          # typed on Mia's phone
    offer_activity = _activity(close_sandbox, evo_id(offer, True, CHLOE_D))
    reply = wa.send(CHLOE, MIA, "Yes please!", reply_to=offer["id"])     # quotes Mia, by her LID
    assert _activity(close_sandbox, evo_id(reply, False, CHLOE_D))["response_to_id"] == offer_activity["id"]
    # And the other way round: Mia quotes Chloe (whose LID a 2.3.7 key does not carry).
    question = wa.send(CHLOE, MIA, "Does it ship to Sydney?")
    question_activity = _activity(close_sandbox, evo_id(question, False, CHLOE_D))
    answer = wa.send(MIA, CHLOE, "It does", reply_to=question["id"])
    assert _activity(close_sandbox, evo_id(answer, True, CHLOE_D))["response_to_id"] == question_activity["id"]


def test_history_skips_deleted_rows_and_dates_edited_photos_by_their_original(app, demo, sandbox_connection,
                                                                              linked_mia_evo, wa, live):
    from datetime import timedelta

    from webapp.models import utcnow
    from webapp.whatsapp.history_source import GatewayHistory
    live.stop()   # none of this arrives live: the history is all Closeline gets
    kept = wa.send(JANE, MIA, "Keep me", ago=600)
    gone = wa.send(JANE, MIA, "Delete me for everyone", ago=500)
    photo = wa.send(JANE, MIA, "Site photo", ago=400, media={"filename": None, "mimetype": "image/png",
                                                             "data_base64": PNG})
    wa.control("POST", f"messages/{gone['id']}/revoke", {})
    wa.control("POST", f"messages/{photo['id']}/edit", {"text": "Site photo, north side"})
    source = GatewayHistory(fresh(linked_mia_evo), utcnow() - timedelta(hours=1), utcnow())
    [chat] = [c for c in source.chats() if c.phone == JANE]
    assert chat.id == f"{JANE_D}@c.us"
    items = {item.message.id: item for item in source.messages(chat)}
    assert set(items) == {evo_id(kept, False, JANE_D), evo_id(photo, False, JANE_D)}
    edited = items[evo_id(photo, False, JANE_D)]
    assert edited.message.text == "Site photo, north side"
    assert int(edited.message.sent_at.timestamp()) == photo["timestamp"]   # not the edit's time
    assert int(items[evo_id(kept, False, JANE_D)].message.sent_at.timestamp()) == kept["timestamp"]


def test_the_licence_gate_is_named_and_never_called_relinking(app, demo, sandbox_connection, linked_mia_evo, wa,
                                                              evo_config, login):
    import sqlalchemy as sa

    from tests.helpers.web import text_of
    from webapp.core.extensions import db
    from webapp.models import Notification
    from webapp.whatsapp import gateways_service, health
    evo_config(EVOLUTION_VERSION="2.4.0")   # the gateway was upgraded under a working link
    health.check_all()
    link = fresh(linked_mia_evo)
    assert link.state == "licence"
    page = text_of(login("member@acme.test").get(f"/whatsapp/links/{link.id}"))
    assert "activate the gateway's licence" in page.lower() and "Check again" in page
    for wrong in ("needs relinking", "unreachable", "does not answer", "Relink"):
        assert wrong not in page
    told = " ".join(n.text for n in db.session.scalars(sa.select(Notification)))
    assert "activate the gateway's licence" in told and "relinking" not in told
    ok, message = gateways_service.test_connection(link.gateway)
    assert not ok and "activate the gateway's licence" in message.lower()
    activate_licence(wa)
    assert login("member@acme.test").post(f"/whatsapp/links/{link.id}/check").status_code == 302
    assert fresh(link).state == "linked"
    assert gateways_service.test_connection(fresh(link).gateway) == (True, "Connected: Evolution API 2.4.0, "
                                                                          "instances: 1.")


def test_media_failures_are_retried_then_told_plainly_never_raw(app, demo, sandbox_connection, close_sandbox,
                                                                linked_mia_evo, wa, evo_config):
    from webapp.whatsapp import health
    # A passing CDN failure: both download forms fail at first; the event waits and is tried again.
    evo_config(EVOLUTION_MEDIA_FAILURES=2)
    photo = wa.send(JANE, MIA, "Fresh photo", media={"filename": None, "mimetype": "image/png", "data_base64": PNG})
    wait_for(lambda: any(e.state == "held" for e in events()), timeout=40, interval=0.3,
             message="the photo's event waits for its file")
    health.check_all()
    landed = _activity(close_sandbox, evo_id(photo, False, JANE_D))
    assert landed["attachments"][0]["content_type"] == "image/png"
    # A file that is gone for good (an old message): a plain reason, no error text, no CDN address.
    evo_config(EVOLUTION_MEDIA_LIFETIME=60.0)
    old = wa.send(JANE, MIA, "Old photo", ago=3 * 3600, media={"filename": None, "mimetype": "image/png",
                                                                "data_base64": PNG})
    told = _activity(close_sandbox, evo_id(old, False, JANE_D))
    assert "Old photo" in told["message_markdown"] and "the file is no longer on the gateway" in told["message_markdown"]
    assert not told.get("attachments")
    received = json.dumps(close_sandbox.control("GET", "/_sandbox/activities")["data"]) + \
        json.dumps([m.text for m in messages()] + [m.reason for m in messages()] + [e.reason for e in events()])
    for raw in RAW_FAILURES:
        assert raw not in received


def test_after_a_relink_the_history_sync_brings_what_came_meanwhile_once(app, demo, sandbox_connection,
                                                                         close_sandbox, linked_mia_evo, wa):
    from rq.registry import ScheduledJobRegistry

    from webapp.core.redis_conn import get_queue
    from webapp.whatsapp import linking, reconcile
    wa.control("POST", f"evolution/instances/{linked_mia_evo.session_name}/logout", {})   # device removed
    wait_state(linked_mia_evo, "failed")
    meanwhile = [wa.send(JANE, MIA, "Sent while unlinked"),
                 wa.send(JANE, MIA, "", media={"filename": None, "mimetype": "image/png", "data_base64": PNG})]
    ancient = wa.send(JANE, MIA, "From before Closeline knew this number", ago=3 * 86400)
    scheduled_before = len(ScheduledJobRegistry(queue=get_queue()).get_job_ids())
    linking.relink(fresh(linked_mia_evo))
    scan_evo(wa, linked_mia_evo)
    wait_state(linked_mia_evo, "linked")
    for message in meanwhile:
        _activity(close_sandbox, evo_id(message, False, JANE_D))
    history = wait_for(lambda: [e for e in events(event="messages.set") if e.state in ("done", "ignored")],
                       timeout=30, interval=0.3, message="the history sync handled")
    assert history
    assert not activities(close_sandbox, external_id=evo_id(ancient, False, JANE_D))
    # Reconciliation runs again later (the history can take minutes), and recognises what it holds: no
    # second row, no second download.
    assert len(ScheduledJobRegistry(queue=get_queue()).get_job_ids()) - scheduled_before >= 3
    downloads = len(_evolution_requests(wa, "getBase64FromMediaMessage"))
    result = reconcile.reconcile(linked_mia_evo.id, "reconnect")
    assert "error" not in result and result["stored"] == 0
    assert len(_evolution_requests(wa, "getBase64FromMediaMessage")) == downloads
    assert len([m for m in messages() if m.text == "Sent while unlinked"]) == 1
