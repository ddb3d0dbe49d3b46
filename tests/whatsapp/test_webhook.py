"""The WAHA webhook: HMAC on the raw body, store-then-200, idempotent, mapped into the outbox."""
import json

import pytest

from tests.helpers.messages import messages
from tests.helpers.whatsapp import CUSTOMER, envelope, events, post_hook, text_message


def test_bad_or_missing_hmac_is_401_and_nothing_is_stored(app, link, hook, gateway):
    body = envelope("message.any", text_message())
    assert hook(body, key="wrong-secret").status_code == 401
    raw = json.dumps(body).encode()
    client = app.test_client()
    missing = client.post(f"/api/webhooks/waha/{gateway.id}", data=raw, headers={"Content-Type": "application/json"})
    assert missing.status_code == 401
    assert events() == [] and messages() == []


def test_unknown_gateway_is_404(app, link, gateway):
    response = post_hook(app.test_client(), gateway.id + 99, envelope("message.any", text_message()))
    assert response.status_code == 404
    wrong_kind = app.test_client().post(f"/api/webhooks/evolution/{gateway.id}", data=b"{}",
                                        headers={"Content-Type": "application/json"})
    assert wrong_kind.status_code == 404


def test_body_over_the_limit_is_refused_before_verification(app, link, hook):
    app.config["WHATSAPP_WEBHOOK_MAX_BYTES"] = 1000
    response = hook(envelope("message.any", text_message(body="x" * 2000)))
    assert response.status_code == 413
    assert events() == []


def test_incoming_text_is_stored_and_becomes_an_outbox_message(app, link, hook, process, sandbox_connection):
    payload = text_message(short_id="AAA111", body="Is the quote ready?")
    response = hook(envelope("message.any", payload))
    assert response.status_code == 200 and response.get_json() == {"status": "stored"}
    assert process() == 1
    [row] = messages()
    assert row.external_id == f"false_{CUSTOMER}@c.us_AAA111"
    assert row.direction == "incoming" and row.text == "Is the quote ready?"
    assert row.chat.remote_phone == "+" + CUSTOMER and row.number.e164 == "+14155550003"
    assert row.state == "queued" and row.source == "waha"


def test_outgoing_typed_on_the_phone_is_outgoing(app, link, hook, process, sandbox_connection):
    hook(envelope("message.any", text_message(short_id="BBB", from_me=True, body="Sending it now")))
    process()
    [row] = messages()
    assert row.direction == "outgoing" and row.external_id == f"true_{CUSTOMER}@c.us_BBB"


def test_fifty_duplicate_deliveries_store_one_message(app, link, hook, process, sandbox_connection):
    body = envelope("message.any", text_message(short_id="DUP1"))
    answers = [hook(body).get_json()["status"] for _ in range(50)]
    assert answers.count("stored") == 1 and answers.count("duplicate") == 49
    # `message` and `message.any` for the same WhatsApp message are one message too.
    hook(envelope("message", body["payload"]))
    process()
    assert len(messages()) == 1


def test_reply_points_at_the_replied_message(app, link, hook, process, sandbox_connection):
    hook(envelope("message.any", text_message(short_id="Q1", from_me=True, body="Quote attached")))
    hook(envelope("message.any", text_message(short_id="R1", body="Thanks!",
                                              replyTo={"id": "Q1", "participant": "14155550003@c.us"})))
    process()
    reply = [m for m in messages() if m.external_id.endswith("_R1")][0]
    assert reply.reply_to_external_id == f"true_{CUSTOMER}@c.us_Q1"


def test_groups_are_recorded_as_skipped_and_broadcasts_ignored(app, link, hook, process, sandbox_connection):
    group = "120363012345678901@g.us"
    hook(envelope("message.any", text_message(short_id="G1", chat=group,
                                              id=f"false_{group}_G1_{CUSTOMER}@c.us")))
    hook(envelope("message.any", text_message(short_id="S1", chat="status@broadcast")))
    hook(envelope("message.any", text_message(short_id="N1", chat="1203630@newsletter")))
    process()
    [row] = messages()
    assert row.state == "skipped" and row.chat.kind == "group"
    assert {e.state for e in events()} == {"done", "ignored"}


def test_location_and_contact_cards_become_readable_text(app, link, hook, process, sandbox_connection):
    hook(envelope("message.any", text_message(short_id="L1", body="", location={
        "latitude": "52.52", "longitude": "13.40", "name": "Office", "address": "Main St 1"})))
    hook(envelope("message.any", text_message(short_id="V1", body="", vCards=[
        "BEGIN:VCARD\nVERSION:3.0\nFN:Jane Roe\nTEL;type=CELL:+44 20 7946 0000\nEND:VCARD"])))
    process()
    texts = {m.external_id[-2:]: m.text for m in messages()}
    assert "Office, Main St 1" in texts["L1"] and "52.52, 13.40" in texts["L1"]
    assert "Jane Roe" in texts["V1"] and "+44 20 7946 0000" in texts["V1"]


def test_unknown_events_are_acknowledged_and_ignored(app, link, hook, process):
    assert hook(envelope("presence.update", {"id": "x"})).status_code == 200
    process()
    [event] = events()
    assert event.state == "ignored"


def test_events_of_an_unknown_session_are_refused(app, link, hook, process):
    """No linked number has this session, so no key can sign for it: nothing is stored."""
    assert hook(envelope("message.any", text_message(), session="someone-else")).status_code == 401
    assert events() == [] and messages() == []


def test_media_is_downloaded_from_the_gateway_with_its_api_key(app, link, hook, process, sandbox_connection, requests_mock):
    url = "http://localhost:3000/api/files/mia/false_x_IMG1.jpeg"
    requests_mock.get("http://waha.test:3000/api/files/mia/false_x_IMG1.jpeg", content=b"\xff\xd8jpeg-bytes",
                      headers={"Content-Type": "image/jpeg"})
    hook(envelope("message.any", text_message(short_id="IMG1", body="Photo of the site", hasMedia=True,
                                              media={"url": url, "mimetype": "image/jpeg", "filename": None})))
    process()
    [row] = messages()
    assert row.text == "Photo of the site"
    [attachment] = row.attachments
    assert attachment["content_type"] == "image/jpeg" and attachment["filename"].startswith("image-IMG1")
    assert requests_mock.last_request.headers["X-Api-Key"] == "waha-key"


def test_expired_media_is_noted_not_lost(app, link, hook, process, sandbox_connection, requests_mock):
    import re
    requests_mock.get("http://waha.test:3000/api/files/mia/doc.pdf", status_code=404, json={"error": {}})
    again = requests_mock.get(re.compile(r"http://waha\.test:3000/api/mia/chats/.+/messages/.+DOC1"), status_code=404,
                              json={"message": "Message not found", "error": "Not Found", "statusCode": 404})
    hook(envelope("message.any", text_message(short_id="DOC1", body="", hasMedia=True, media={
        "url": "http://waha.test:3000/api/files/mia/doc.pdf", "mimetype": "application/pdf",
        "filename": "quote.pdf"})))
    process()
    [row] = messages()
    assert row.text == "[document not available: the file is no longer on the gateway]" and row.attachments == []
    assert again.called and again.last_request.qs["downloadmedia"] == ["true"]


def test_an_expired_file_is_downloaded_again_through_its_message(app, link, hook, process, sandbox_connection,
                                                                 requests_mock):
    import re
    requests_mock.get("http://waha.test:3000/api/files/mia/old.jpeg", status_code=404,
                      json={"error": {"code": 404, "key": "FILE_NOT_FOUND"}})
    fresh = text_message(short_id="IMG9", body="", hasMedia=True, media={
        "url": "http://localhost:3000/api/files/mia/new.jpeg", "mimetype": "image/jpeg", "filename": None})
    requests_mock.get(re.compile(r"http://waha\.test:3000/api/mia/chats/.+/messages/.+IMG9"), json=fresh)
    requests_mock.get("http://waha.test:3000/api/files/mia/new.jpeg", content=b"JPEG", headers={
        "Content-Type": "image/jpeg"})
    hook(envelope("message.any", text_message(short_id="IMG9", body="", hasMedia=True, media={
        "url": "http://waha.test:3000/api/files/mia/old.jpeg", "mimetype": "image/jpeg"})))
    process()
    [row] = messages()
    assert row.text == "" and row.attachments[0]["content_type"] == "image/jpeg"


def test_a_raw_media_error_becomes_one_plain_sentence(app, link, hook, process, sandbox_connection, requests_mock):
    import re
    requests_mock.get(re.compile(r"http://waha\.test:3000/api/mia/chats/.+/messages/.+GOWS1"), json=text_message(
        short_id="GOWS1", hasMedia=True, media={"url": None, "mimetype": "image/jpeg", "error": {
            "code": 13, "details": "download failed with status code 403 https://mmg.whatsapp.net/x"}}))
    hook(envelope("message.any", text_message(short_id="GOWS1", body="", hasMedia=True, media={
        "url": None, "mimetype": "image/jpeg", "error": {"code": 13, "details": "download failed 403 at mmg"}})))
    process()
    [row] = messages()
    assert row.text == "[image not available: the gateway could not get it from WhatsApp (it may have expired there)]"


def test_gateway_unreachable_for_media_keeps_the_event_for_a_retry(app, link, hook, process, sandbox_connection,
                                                                    requests_mock):
    import requests
    requests_mock.get("http://waha.test:3000/api/files/mia/a.jpeg", exc=requests.ConnectionError)
    hook(envelope("message.any", text_message(short_id="IMG2", hasMedia=True, media={
        "url": "http://waha.test:3000/api/files/mia/a.jpeg", "mimetype": "image/jpeg"})))
    process()
    assert messages() == [] and events()[0].state == "failed"
    requests_mock.get("http://waha.test:3000/api/files/mia/a.jpeg", content=b"jpeg")
    from webapp.whatsapp import inbox
    inbox.retry_waiting(link.gateway_id)
    assert len(messages()) == 1 and events()[0].state == "done"


def test_lid_chat_is_resolved_through_the_lid_api_and_cached(app, link, hook, process, sandbox_connection, requests_mock):
    lid = "123456789012345@lid"
    lookup = requests_mock.get("http://waha.test:3000/api/mia/lids/123456789012345%40lid",
                               json={"lid": lid, "pn": "447911123456@c.us"})
    hook(envelope("message.any", text_message(short_id="LID1", chat=lid)))
    hook(envelope("message.any", text_message(short_id="LID2", chat=lid)))
    process()
    rows = messages()
    assert [m.chat.remote_phone for m in rows] == ["+447911123456", "+447911123456"]
    assert rows[0].external_id == "false_447911123456@c.us_LID1"
    assert lookup.call_count == 1


def test_unresolved_lid_is_held_with_the_reason_and_retried(app, link, hook, process, sandbox_connection, requests_mock):
    lid = "999@lid"
    requests_mock.get("http://waha.test:3000/api/mia/lids/999%40lid", json={"lid": lid, "pn": None})
    hook(envelope("message.any", text_message(short_id="LID3", chat=lid)))
    process()
    [event] = events()
    [waiting] = messages()  # shown in the sync log at once, without any content
    assert event.state == "held" and "LID" in event.reason
    assert waiting.state == "held" and waiting.text == "" and "WhatsApp hides it" in waiting.reason
    requests_mock.get("http://waha.test:3000/api/mia/lids/999%40lid", json={"lid": lid, "pn": "34612345678@c.us"})
    from webapp.whatsapp import inbox
    inbox.retry_waiting(link.gateway_id)
    [row] = messages()
    assert row.chat.remote_phone == "+34612345678"


@pytest.mark.parametrize("mirror", [False, True])
def test_revoke_before_sync_follows_the_mirror_setting(app, link, hook, process, sandbox_connection, mirror):
    from webapp.core.extensions import db
    from webapp.models import WhatsAppSettings
    db.session.add(WhatsAppSettings(workspace_id=link.workspace_id, mirror_deletions=mirror))
    db.session.commit()
    hook(envelope("message.any", text_message(short_id="DEL1")))
    hook(envelope("message.revoked", {"after": {"id": f"false_{CUSTOMER}@c.us_REV9", "fromMe": False, "body": ""},
                                      "before": None, "revokedMessageId": "DEL1"}))
    process()
    [row] = messages()
    assert "deleted on WhatsApp" in row.reason
    assert row.state == ("skipped" if mirror else "queued")


def test_edit_before_the_original_is_held_then_applied(app, link, hook, process, sandbox_connection):
    hook(envelope("message.edited", {"id": f"false_{CUSTOMER}@c.us_EDIT1", "fromMe": False, "body": "New text",
                                     "editedMessageId": "ORIG1"}))
    process()
    assert events()[0].state == "held"
    hook(envelope("message.any", text_message(short_id="ORIG1", body="Old text")))
    process()
    from webapp.whatsapp import inbox
    inbox.retry_waiting(link.gateway_id)
    [row] = messages()
    assert row.text == "New text"


def test_status_webhooks_arriving_out_of_order_end_in_the_newest_state(app, link, hook, process):
    from tests.helpers.gateway_sandbox import fresh
    from webapp.core.extensions import db
    link.state, link.was_linked = "qr", False
    db.session.commit()
    statuses = [{"status": "STARTING", "timestamp": 1000}, {"status": "SCAN_QR_CODE", "timestamp": 2000},
                {"status": "WORKING", "timestamp": 3000}]
    for status in ("WORKING", "STARTING", "SCAN_QR_CODE"):  # the order WAHA's concurrent deliveries arrived in
        upto = [s for s in statuses if s["timestamp"] <= next(x["timestamp"] for x in statuses if x["status"] == status)]
        hook(envelope("session.status", {"name": "mia", "status": status, "statuses": upto}))
    process()
    assert fresh(link).state == "linked"


def test_a_key_signs_only_events_of_its_own_session(app, demo, gateway, link, hook):
    """A teammate's key cannot speak for Mia's session (each session has its own key)."""
    from tests.helpers.whatsapp import make_link
    make_link(demo, gateway, session="olivia", email="owner@acme.test", hmac_key="olivia-secret")
    assert hook(envelope("message.any", text_message(short_id="SPOOF1")), key="olivia-secret").status_code == 401
    assert hook(envelope("message.any", text_message(short_id="SPOOF1"), session="olivia"),
                key="olivia-secret").status_code == 200
    assert [e.session_name for e in events()] == ["olivia"]


def test_a_signed_event_outside_the_replay_window_is_refused(app, link, hook):
    import time
    old = int((time.time() - 3600) * 1000)
    response = hook(envelope("message.edited", text_message(short_id="OLD1"), timestamp_ms=old))
    assert response.status_code == 401 and response.get_json()["error"] == "stale_event"
    future = int((time.time() + 3600) * 1000)
    assert hook(envelope("message.any", text_message(short_id="NEW1"), timestamp_ms=future)).status_code == 401
    assert events() == []


def test_the_inbox_keeps_no_raw_text_and_no_secret(app, demo, link, hook, process, sandbox_connection):
    """Stored before processing: only the screened form (codes and cards redacted, no raw body);
    after processing: nothing but the dedupe key."""
    from webapp.messages import gate
    gate.add_entry(demo.acme.id, "phone", "+14155550999")
    hook(envelope("message.any", text_message(short_id="OTP1", body="Your code is 482918, card 4111 1111 1111 1111")))
    hook(envelope("message.any", text_message(short_id="EXC1", chat="14155550999@c.us", body="excluded secret")))
    stored = json.dumps([e.payload for e in events()])
    assert "482918" not in stored and "4111 1111" not in stored and "excluded secret" not in stored
    assert "[one-time code redacted]" in stored
    assert process() == 2
    assert [e.payload for e in events()] == [{}, {}]
    rows = {m.external_id[-4:]: m for m in messages()}
    assert rows["OTP1"].redactions == {"one-time code": 1, "card number": 1}
    assert rows["EXC1"].state == "skipped" and rows["EXC1"].text == ""
