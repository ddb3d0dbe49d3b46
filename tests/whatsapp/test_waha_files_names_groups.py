"""What real WAHA engines do to files, names and groups, through real HTTP: the WhatsApp sandbox's WAHA →
Closeline's webhook → a real RQ worker → the Close sandbox. Files expire after WAHA's file lifetime,
WhatsApp can lose them, engines name people in different places, WEBJS puts a location's thumbnail
in its text, and group chats pinned to a lead carry their subject and each sender."""
import base64
import contextlib

import requests

from tests.helpers.gateway_sandbox import CHLOE, JANE, MIA, fresh
from tests.helpers.messages import SANDBOX_KEY, activities, messages, sandbox_ids
from tests.helpers.waiting import wait_for

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"1" * 64).decode()
PDF = base64.b64encode(b"%PDF-1.4 the signed quote").decode()
RAW_ERROR_WORDS = ("{", "stack", "Error", "mmg.whatsapp.net", "code", "details", "HTTP")


def _activity(close_sandbox, external_id, timeout=60):
    return wait_for(lambda: activities(close_sandbox, external_id=external_id), timeout=timeout, interval=0.3,
                    message=f"activity {external_id} in Close")[0]


def _waha_id(sent, number=MIA):
    return sent["ids"]["waha"][number]


@contextlib.contextmanager
def _sandbox_config(wa, **config):
    """Run-time settings of the shared WhatsApp sandbox, put back afterwards."""
    before = wa.control("GET", "config")
    wa.control("PUT", "config", config)
    try:
        yield
    finally:
        wa.control("PUT", "config", {key: before[key] for key in config})


def _downloads_failed(wa):
    return [r for r in wa.control("GET", "requests", facade="waha")["data"]
            if r["path"].startswith("/waha/api/files/") and r["status"] == 404]


def test_files_still_land_after_closeline_was_away_longer_than_the_file_lifetime(
        app, demo, sandbox_connection, close_sandbox, linked_mia, wa, live):
    with _sandbox_config(wa, WEBHOOK_DELAY_SCALE=1.0):  # WAHA's own retry pace: 2, 4, 8… s
        live.stop()
        photo = wa.send(JANE, MIA, "Site photo", media={"filename": "site.png", "mimetype": "image/png",
                                                        "data_base64": PNG})
        wait_for(lambda: wa.control("GET", "webhooks", outcome="retrying")["data"], timeout=30, interval=0.2,
                 message="a delivery Closeline missed")
        wa.control("POST", "waha/files/expire")  # longer than WHATSAPP_FILES_LIFETIME
        live.start()
        activity = _activity(close_sandbox, _waha_id(photo))
    assert _downloads_failed(wa), "the first download met the expired file"
    refetched = [r for r in wa.control("GET", "requests", facade="waha")["data"]
                 if "/messages/" in r["path"] and "downloadMedia=true" in r["query"]]
    assert refetched, "the message was fetched again with downloadMedia=true"
    assert activity["attachments"][0]["filename"] == "site.png"
    assert activity["message_markdown"] == "Site photo"
    assert len(activities(close_sandbox, external_id=_waha_id(photo))) == 1


def test_a_file_whatsapp_no_longer_has_is_named_in_plain_words(app, demo, sandbox_connection, close_sandbox,
                                                               linked_mia, wa, live):
    live.stop()
    doc = wa.send(JANE, MIA, "", media={"filename": "quote.pdf", "mimetype": "application/pdf", "data_base64": PDF})
    wait_for(lambda: wa.control("GET", "webhooks", outcome="retrying")["data"], timeout=30, interval=0.2,
             message="a delivery Closeline missed")
    wa.control("POST", "waha/files/expire")
    wa.control("POST", f"messages/{doc['id']}/media-gone")
    live.start()
    activity = _activity(close_sandbox, _waha_id(doc))
    text = activity["message_markdown"]
    assert text == "[document not available: the file is no longer on the gateway]", text
    assert not any(word in text for word in RAW_ERROR_WORDS), text
    [row] = messages(external_id=_waha_id(doc))
    assert row.state == "synced" and "Error" not in row.text


def test_gows_raw_media_errors_never_reach_close_and_leads_take_the_push_name(
        app, demo, sandbox_connection, close_sandbox, linked_mia, wa):
    with _sandbox_config(wa, WAHA_ENGINE="GOWS"):
        greeting = wa.send("+14155550177", MIA, "Hi, it's Rosa")
        photo = wa.send(JANE, MIA, "photo of the damage", media={"filename": None, "mimetype": "image/jpeg",
                                                                 "data_base64": PNG}, media_gone=True)
        first = _activity(close_sandbox, _waha_id(greeting))
        broken = _activity(close_sandbox, _waha_id(photo))
    lead = requests.get(f"{close_sandbox.api_url}/lead/{first['lead_id']}/", auth=(SANDBOX_KEY, ""), timeout=30).json()
    assert lead["display_name"] == "Customer 0177"  # the sandbox's push name of a new number, not "+1415…"
    assert broken["message_markdown"].startswith("photo of the damage\n[image not available: ")
    assert not any(word in broken["message_markdown"] for word in RAW_ERROR_WORDS), broken["message_markdown"]


def test_webjs_locations_carry_no_thumbnail_text(app, demo, sandbox_connection, close_sandbox, linked_mia, wa):
    sent = wa.send(JANE, MIA, "", location={"latitude": 37.7749, "longitude": -122.4194, "name": "Office"})
    text = _activity(close_sandbox, _waha_id(sent))["message_markdown"]
    assert text == "📍 Location: Office (37.7749, -122.4194)", text


def test_a_pinned_waha_group_lands_with_its_subject_and_each_sender(app, demo, sandbox_connection, close_sandbox,
                                                                    linked_mia, wa, login):
    from webapp.privacy import groups
    first = wa.send(JANE, MIA, "Kick-off at 10?", chat="group", group_name="Project Alpha")
    chat = wait_for(lambda: next((m.chat for m in messages() if m.chat.kind == "group"), None), timeout=40,
                    interval=0.3, message="the group chat stored")
    assert chat.display_name == "Project Alpha"
    [skipped] = [m for m in messages() if m.chat_id == chat.id]
    assert skipped.state == "skipped" and skipped.sender_name == "Jane Cooper" and skipped.sender_phone == JANE
    assert first["id"] in skipped.external_id
    groups.pin(fresh(chat), sandbox_ids().bluth)
    question = wa.send(JANE, MIA, "Who brings the slides?", chat="group", group_name="Project Alpha")
    answer = wa.send(MIA, JANE, "I do", chat="group", group_name="Project Alpha")
    landed = [wait_for(lambda e=e: [a for a in activities(close_sandbox, lead_id=sandbox_ids().bluth)
                                    if e in a["external_whatsapp_message_id"]], timeout=60, interval=0.3,
                       message="the group message in Close")[0] for e in (question["id"], answer["id"])]
    assert landed[0]["message_markdown"] == "**Jane Cooper (+14155550123)** in Project Alpha:\nWho brings the slides?"
    assert landed[0]["remote_phone"] == JANE and landed[0]["direction"] == "incoming"
    assert landed[1]["message_markdown"].startswith("**Mia Member (+14155550003)** in Project Alpha:")
    # The row is marked synced just after Close answers: wait for it, don't race it.
    wait_for(lambda: all(m.state == "synced" for m in messages() if m.chat_id == chat.id and m.id != skipped.id),
             timeout=30, interval=0.3, message="the group's messages marked synced")
    log = login("owner@acme.test").get("/sync/").get_data(as_text=True)
    assert "Project Alpha" in log


def test_an_lid_sender_in_a_group_is_named_with_the_number_the_gateway_resolves(
        app, demo, sandbox_connection, close_sandbox, linked_mia, wa):
    wa.send(CHLOE, MIA, "first", chat="group", group_name="Sydney office")
    chat = wait_for(lambda: next((m.chat for m in messages() if m.chat.kind == "group"), None), timeout=40,
                    interval=0.3, message="the group chat stored")
    [row] = messages()
    assert row.sender_name == "Chloe Nguyen" and row.sender_phone == CHLOE
    assert chat.display_name == "Sydney office"


def test_a_reply_delivered_before_its_original_is_linked_to_it_in_close(app, demo, sandbox_connection, close_sandbox,
                                                                        linked_mia, wa):
    wa.control("PUT", "webhooks/faults", {"reorder": 2, "facade": "waha"})  # the two arrive reversed
    question = wa.send(JANE, MIA, "Is the van free on Friday?")
    answer = wa.send(MIA, JANE, "Yes, booked for you", reply_to=question["id"])
    q = _activity(close_sandbox, _waha_id(question))
    wait_for(lambda: _activity(close_sandbox, _waha_id(answer))["response_to_id"] == q["id"], timeout=60,
             interval=0.3, message="the reply linked to its original")
    assert len(activities(close_sandbox, external_id=_waha_id(answer))) == 1
    assert len(activities(close_sandbox, external_id=_waha_id(question))) == 1
