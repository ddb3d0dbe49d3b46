"""Real HTTP end to end: the WhatsApp sandbox's WAHA → Closeline's webhook → a real RQ worker →
the Close sandbox. Every assertion is what Close, the gateway or a person would see."""
import base64

import pytest

from tests.helpers.gateway_sandbox import CHLOE, JANE, MIA, WEI, fresh, missed_until_given_up, scan, wait_state
from tests.helpers.messages import activities, messages
from tests.helpers.waiting import wait_for
from tests.helpers.whatsapp import events

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 64).decode()
PDF = base64.b64encode(b"%PDF-1.4 quote").decode()


def _activity(close_sandbox, external_id, timeout=40):
    return wait_for(lambda: activities(close_sandbox, external_id=external_id), timeout=timeout, interval=0.3,
                    message=f"activity {external_id} in Close")[0]


def _waha_id(sent, number=MIA):
    return sent["ids"]["waha"][number]


def test_link_then_a_customer_message_reaches_close(app, demo, sandbox_connection, close_sandbox, linked_mia, wa):
    assert linked_mia.number.e164 == MIA and linked_mia.number.membership.user.email == "member@acme.test"
    sent = wa.send(JANE, MIA, "Hi, is the quote ready?")
    activity = _activity(close_sandbox, _waha_id(sent).replace("@lid", "@c.us"))
    assert activity["direction"] == "incoming" and activity["remote_phone"] == JANE
    assert activity["message_markdown"] == "Hi, is the quote ready?" and activity["local_phone"] == MIA


def test_outgoing_reply_image_document_edit_and_revoke(app, demo, sandbox_connection, close_sandbox, linked_mia, wa):
    question = wa.send(JANE, MIA, "Can you send the quote?")
    answer = wa.send(MIA, JANE, "Here it is", reply_to=question["id"])  # typed on Mia's phone
    photo = wa.send(JANE, MIA, "Site photo", media={"filename": None, "mimetype": "image/png", "data_base64": PNG})
    doc = wa.send(MIA, JANE, "", media={"filename": "quote.pdf", "mimetype": "application/pdf", "data_base64": PDF})
    q = _activity(close_sandbox, _waha_id(question))
    a = _activity(close_sandbox, _waha_id(answer))
    assert a["direction"] == "outgoing" and a["response_to_id"] == q["id"]
    p = _activity(close_sandbox, _waha_id(photo))
    assert p["message_markdown"] == "Site photo" and p["attachments"][0]["content_type"] == "image/png"
    d = _activity(close_sandbox, _waha_id(doc))
    assert d["attachments"][0]["filename"] == "quote.pdf"

    wa.control("POST", f"messages/{question['id']}/edit", {"text": "Can you send the quote today?"})
    wait_for(lambda: _activity(close_sandbox, _waha_id(question))["message_markdown"] ==
             "Can you send the quote today?", timeout=40, interval=0.3, message="edit in Close")
    wa.control("POST", f"messages/{photo['id']}/revoke", {})
    wait_for(lambda: any("deleted on WhatsApp" in m.reason for m in messages()), timeout=40, interval=0.3,
             message="revoke noted")
    assert len(activities(close_sandbox, external_id=_waha_id(photo))) == 1  # mirror deletions is off


def test_fifty_duplicate_deliveries_make_one_activity(app, demo, sandbox_connection, close_sandbox, linked_mia, wa):
    wa.control("PUT", "webhooks/faults", {"duplicate": 50, "facade": "waha"})
    sent = wa.send(JANE, MIA, "Only once please")
    _activity(close_sandbox, _waha_id(sent))
    wait_for(lambda: wa.control("GET", "webhooks")["pending"] == 0, timeout=40, interval=0.3,
             message="all 50 deliveries made")
    assert len(activities(close_sandbox, external_id=_waha_id(sent))) == 1
    assert len([m for m in messages() if m.text == "Only once please"]) == 1


def test_lid_chats_are_resolved_or_held(app, demo, sandbox_connection, close_sandbox, linked_mia, wa):
    resolvable = wa.send(CHLOE, MIA, "G'day from Sydney")
    activity = _activity(close_sandbox, _waha_id(resolvable).split("_")[0] + "_61412345678@c.us_" + resolvable["id"])
    assert activity["remote_phone"] == CHLOE
    wa.send(WEI, MIA, "Hello from Singapore")
    held = wait_for(lambda: [e for e in events() if e.state == "held"], timeout=40, interval=0.3,
                    message="unresolvable LID held")
    assert "LID" in held[0].reason


def test_messages_missed_while_closeline_is_down_are_recovered(app, demo, sandbox_connection, close_sandbox, linked_mia,
                                                               wa, live):
    from webapp.whatsapp import linking
    live.stop()
    sent = [wa.send(JANE, MIA, f"While you were away {i}") for i in range(5)]
    missed_until_given_up(wa, len(sent))
    live.start()
    linking.enqueue_recovery(fresh(linked_mia))
    for message in sent:
        _activity(close_sandbox, _waha_id(message))
    wait_for(lambda: fresh(linked_mia).recovered_count == 5, timeout=30, interval=0.3, message="5 recovered")


def test_failed_session_notifies_and_relinking_recovers_its_messages(app, demo, sandbox_connection, close_sandbox,
                                                                     linked_mia, wa, login):
    import sqlalchemy as sa

    from webapp.core.extensions import db
    from webapp.models import Notification
    from webapp.whatsapp import linking
    wa.control("POST", f"sessions/{linked_mia.session_name}/logout", {})  # device removed on the phone
    wait_state(linked_mia, "failed")
    users = {n.user_id for n in db.session.scalars(sa.select(Notification))}
    assert demo.users["member@acme.test"].id in users and demo.users["owner@acme.test"].id in users
    assert "failed (needs relinking)" in login("member@acme.test").get("/whatsapp/").get_data(as_text=True)
    missed = wa.send(JANE, MIA, "Sent while the link was broken")
    linking.relink(fresh(linked_mia))
    scan(wa, linked_mia)
    wait_state(linked_mia, "linked")
    _activity(close_sandbox, _waha_id(missed))
    wait_for(lambda: fresh(linked_mia).recovered_count >= 1, timeout=30, interval=0.3, message="recovered count")


def test_gateway_unreachable_is_shown_and_nothing_is_lost(app, demo, sandbox_connection, close_sandbox, linked_mia, wa,
                                                          login):
    from webapp.whatsapp import health
    wa.control("PUT", "outage", {"facade": "waha", "down": True, "status": 503})
    health.check_all()
    assert fresh(linked_mia).state == "unreachable"
    assert "gateway unreachable" in login("member@acme.test").get("/whatsapp/").get_data(as_text=True)
    # A photo arrives by webhook while the gateway's API (and so its files) is down: kept, not lost.
    photo = wa.send(JANE, MIA, "Photo during the outage",
                    media={"filename": "site.png", "mimetype": "image/png", "data_base64": PNG})
    wait_for(lambda: [e for e in events() if e.state == "failed"], timeout=40, interval=0.3,
             message="the delivery kept for a retry")
    assert activities(close_sandbox, external_id=_waha_id(photo)) == []
    wa.control("PUT", "outage", {"facade": "waha", "down": False})
    health.check_all()  # the periodic check: health again, and held/failed deliveries retried
    wait_state(linked_mia, "linked")
    activity = _activity(close_sandbox, _waha_id(photo))
    assert activity["attachments"][0]["filename"] == "site.png"


def test_a_core_gateway_serving_only_default_links_one_number(app, demo, live, wa, wa_gateway, worker, sandbox_connection,
                                                               close_sandbox):
    from webapp.whatsapp import gateways_service, linking
    wa.reset(WAHA_SINGLE_SESSION=True)
    try:
        ok, message = gateways_service.test_connection(wa_gateway)
        assert ok and "only the session 'default'" in message
        link = linking.start_link(wa_gateway, demo.memberships["member@acme.test"])
        assert link.session_name == "default"
        scan(wa, link)
        wait_state(link, "linked")
        with pytest.raises(linking.LinkRefused):
            linking.start_link(fresh(wa_gateway), demo.memberships["admin@acme.test"])
        sent = wa.send(JANE, MIA, "Hello via WAHA Core")
        _activity(close_sandbox, _waha_id(sent))
    finally:
        wa.reset(WAHA_SINGLE_SESSION=False)


def test_an_untested_core_gateway_falls_back_to_default(app, demo, live, wa, wa_gateway):
    from webapp.whatsapp import linking
    wa.reset(WAHA_SINGLE_SESSION=True)
    try:
        link = linking.start_link(wa_gateway, demo.memberships["member@acme.test"])
        assert fresh(link).session_name == "default" and fresh(wa_gateway).single_session
        assert fresh(link).state in ("starting", "qr")
    finally:
        wa.reset(WAHA_SINGLE_SESSION=False)


def test_a_removed_member_stops_syncing_at_once_and_their_session_ends(app, demo, sandbox_connection, close_sandbox,
                                                                       linked_mia, wa, login):
    """The owner removes Mia: her number stops (nothing of it is stored or synced), her WAHA session is
    ended at the gateway by a job, and the owner is told."""
    import sqlalchemy as sa

    from webapp.core.extensions import db
    from webapp.models import Notification, NumberLink
    before = wa.send(JANE, MIA, "Before Mia left")
    _activity(close_sandbox, _waha_id(before))
    membership_id = demo.memberships["member@acme.test"].id
    assert login("owner@acme.test").post(f"/team/members/{membership_id}/remove").status_code == 302
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NumberLink)) == 0
    session = linked_mia.session_name
    wait_for(lambda: session not in [s["name"] for s in wa.control("GET", "state")["waha"]["sessions"]],
             timeout=60, interval=0.3, message="the session ended at the gateway")
    notes = [n.text for n in db.session.scalars(sa.select(Notification).where(
        Notification.user_id == demo.users["owner@acme.test"].id))]
    assert any("no longer syncs" in n and MIA in n for n in notes), notes
    close_sandbox.control("DELETE", "/_sandbox/requests")
    # Even a message the gateway still delivers for her number (via the API) keeps no content.
    from tests.helpers.messages import body
    from webapp.models import ApiKey
    _key_row, key = ApiKey.generate(demo.acme, "after", demo.users["owner@acme.test"])
    db.session.add(_key_row)
    db.session.commit()
    response = app.test_client().post("/api/v1/messages", json=body("after-removal", number=MIA, phone=JANE,
                                                                    text="private after leaving"),
                                      headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 202
    [row] = messages(external_id="after-removal")
    assert row.state == "skipped" and row.text == "" and "removed from the workspace" in row.reason
    assert not [r for r in close_sandbox.control("GET", "/_sandbox/requests")["data"] if r["method"] == "POST"]
