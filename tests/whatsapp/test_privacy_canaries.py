"""Privacy's promise, checked everywhere at once. Canaries — a one-time code, a card number, the text
of an excluded chat, an edit that adds a code — go in through every source and path: the ingestion
API and its batch, WAHA webhooks (a message, an edit, an excluded chat, a chat whose number WhatsApp
hides), reconciliation after missed webhooks, the Cloud API webhook, a history import, and a test
sync. Then every table and column of the database, every Redis key and value, everything the
processes logged, and every WhatsApp activity Close holds are searched for the original text: none
may hold it, while every message the rules allow still reaches Close, redacted (storing nothing
would be no fix)."""
import hashlib
import hmac
import json
import zlib

import redis
import sqlalchemy as sa

from tests.helpers.gateway_sandbox import JANE, MIA, WEI, fresh, missed_until_given_up
from tests.helpers.history import ListSource
from tests.helpers.messages import body, messages
from tests.helpers.waiting import wait_for

CODE, EDIT_CODE, MISSED_CODE = "739204", "615283", "284617"
EXCLUDED_PHONE, EXCLUDED_TEXT = "+14155550944", "canary: my diagnosis is private"
APP_SECRET, PNID = "canary-app-secret", "1088000000001"


def _card():
    """A Luhn-valid card number nobody else uses, written with spaces."""
    from webapp.messages.redaction import luhn_ok
    stem = "452961873021774"
    digits = next(stem + d for d in "0123456789" if luhn_ok(stem + d))
    return " ".join(digits[i:i + 4] for i in range(0, 16, 4)), digits


CARD, CARD_DIGITS = _card()
ORIGINALS = [CODE, EDIT_CODE, MISSED_CODE, CARD, CARD_DIGITS, EXCLUDED_TEXT]


def _found_in(text):
    return [canary for canary in ORIGINALS if canary in text]


def _database_hits():
    from webapp.core.extensions import db
    hits = []
    db.session.rollback()
    for table in sa.inspect(db.engine).get_table_names():
        for row in db.session.execute(sa.text(f'SELECT * FROM "{table}"')):
            for canary in _found_in(repr(tuple(row))):
                hits.append((table, canary))
    return hits


def _redis_hits(url):
    conn, hits = redis.Redis.from_url(url), []
    for key in conn.scan_iter(count=1000):
        for blob in [key, *_redis_values(conn, key)]:
            hits += [(key, canary) for canary in _found_in(_readable(blob))]
    return hits


def _redis_values(conn, key):
    kind = conn.type(key)
    if kind == b"string":
        return [conn.get(key)]
    if kind == b"hash":
        return [part for pair in conn.hgetall(key).items() for part in pair]
    if kind == b"list":
        return conn.lrange(key, 0, -1)
    if kind == b"set":
        return list(conn.smembers(key))
    if kind == b"zset":
        return conn.zrange(key, 0, -1)
    return []


def _readable(blob):
    """Text of a Redis value, RQ's compressed job data included."""
    if not isinstance(blob, bytes):
        return str(blob)
    try:
        blob = zlib.decompress(blob)
    except zlib.error:
        pass
    return blob.decode("utf-8", "backslashreplace")


def _cloud_api_message(app, message_id, text):
    raw = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"display_phone_number": "14155550001", "phone_number_id": PNID},
            "contacts": [{"profile": {"name": "Gob"}, "wa_id": "14155550101"}],
            "messages": [{"from": "14155550101", "id": message_id, "timestamp": "1764800000", "type": "text",
                          "text": {"body": text}}]}}]}]}).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return app.test_client().post("/api/webhooks/whatsapp", data=raw, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": signature})


def _history_import(demo, number):
    from tests.helpers.history import history_chat
    from webapp.history_import import service as history
    from webapp.messages.schema import IncomingMessage
    chat, items = history_chat("chat-+14155550155", 1, "+14155550155", number=number.e164, prefix="hist-canary")
    items = [IncomingMessage.model_validate(dict(items[0].model_dump(mode="json"),
                                                 message=dict(items[0].model_dump(mode="json")["message"],
                                                              text=f"history: the code is {CODE}")))]
    history.set_source_factory(lambda *args, **kwargs: ListSource([(chat, items)]))
    try:
        row = history.request_plan(number, items[0].message.sent_at.replace(day=1), history.utcnow(), "all",
                                   demo.users["owner@acme.test"].id)
        from jobs import history as jobs
        assert jobs.plan_import(row.id) == "planned"
        history.start(fresh(row))
        assert jobs.run_import(row.id) == "stored"
        while history.feed(row.id):
            pass
    finally:
        history.set_source_factory(None)


def test_no_original_text_rests_anywhere_and_allowed_messages_reach_close_redacted(
        app, demo, api, redis_url, sandbox_connection, close_sandbox, linked_mia, wa, live, capfd, caplog):
    from webapp.close_connection import test_runs
    from webapp.core.extensions import db
    from webapp.messages import gate
    from webapp.models import CloudApiNumber, WhatsAppNumber
    from webapp.whatsapp import reconcile
    caplog.set_level("DEBUG")
    gate.add_entry(demo.acme.id, "phone", EXCLUDED_PHONE)
    app.config["WHATSAPP_APP_SECRET"] = APP_SECRET
    owner_number = db.session.scalar(sa.select(WhatsAppNumber).where(WhatsAppNumber.e164 == "+14155550001"))
    db.session.add(CloudApiNumber(workspace_id=demo.acme.id, phone_number_id=PNID, whatsapp_number_id=owner_number.id))
    db.session.commit()

    # The ingestion API, one by one and in a batch (an excluded phone among them).
    assert api.post(body("api-code", text=f"Your login code is {CODE}")).status_code == 202
    assert api.post({"messages": [body("api-card", text=f"pay with {CARD} please"),
                                  body("api-excluded", phone=EXCLUDED_PHONE, text=EXCLUDED_TEXT)]},
                    path="/api/v1/messages/batch").status_code == 202
    # WAHA webhooks: a code, a card, an excluded chat, then an edit that adds a code.
    wa.send(JANE, MIA, f"OTP{CODE} is your code")
    wa.send(JANE, MIA, f"card number {CARD}")
    wa.send(EXCLUDED_PHONE, MIA, EXCLUDED_TEXT)
    edited = wa.send(JANE, MIA, "Meet at noon")
    wait_for(lambda: [m for m in messages(text="Meet at noon") if m.state == "synced"], timeout=60, interval=0.3,
             message="the message to edit, in Close")
    wa.control("POST", f"messages/{edited['id']}/edit", {"text": f"Meet at noon, code {EDIT_CODE}"})
    wait_for(lambda: any("[one-time code redacted]" in (m.text or "") and "noon" in (m.text or "")
                         for m in messages()), timeout=60, interval=0.3, message="the edit, redacted")
    # A customer whose number WhatsApp hides: shown waiting in the log with no content at all, and
    # synced, redacted, once the gateway learns the number.
    wa.send(WEI, MIA, f"hidden number, my code {CODE}")
    wait_for(lambda: [m for m in messages() if m.state == "held" and m.chat.remote_phone is None], timeout=60,
             interval=0.3, message="the hidden-number message, waiting")
    assert _database_hits() == [], "a waiting hidden-number message holds original text"
    wa.control("PUT", f"phones/{WEI}", {"lid_resolvable": True})
    from webapp.whatsapp import inbox
    inbox.retry_waiting(fresh(linked_mia).gateway_id)
    # Reconciliation: a delivery Closeline missed, fetched back from the gateway's history.
    live.stop()
    wa.send(JANE, MIA, f"while you were down: code {MISSED_CODE}")
    missed_until_given_up(wa, 1)
    live.start()
    assert reconcile.reconcile(linked_mia.id, "schedule")["stored"] == 1, "reconciliation found the missed message"
    # The Cloud API webhook, a history import and a test sync.
    assert _cloud_api_message(app, "wamid.canary-cloud", f"cloud code: {CODE}").status_code == 200
    _history_import(demo, owner_number)
    run = test_runs.start(demo.acme, demo.users["owner@acme.test"], "test_sync")
    test_runs.execute(run.id)

    # api-code, api-card, two WAHA messages, the edited one, the hidden-number one, the missed one,
    # Cloud API, history.
    def all_synced():
        rows = messages()
        allowed = [m for m in rows if m.chat.remote_phone != EXCLUDED_PHONE]
        return len(allowed) == 9 and all(m.state == "synced" for m in allowed)
    try:
        wait_for(all_synced, timeout=180, interval=0.5, message="every allowed canary message to sync")
    except AssertionError:
        raise AssertionError([(m.external_id, m.state, m.reason) for m in messages()]) from None

    activities = close_sandbox.control("GET", "/_sandbox/activities")["data"]
    close_text = json.dumps(activities)
    assert _found_in(close_text) == [], "Close received original text"
    assert close_text.count("[one-time code redacted]") >= 6 and close_text.count("[card number redacted]") >= 2
    assert "Meet at noon" in close_text      # the allowed messages did reach Close

    assert _database_hits() == []
    assert _redis_hits(redis_url) == []
    out, err = capfd.readouterr()
    assert _found_in(out + err + caplog.text) == [], "a log line holds original text"
    excluded = [m for m in messages() if m.chat.remote_phone == EXCLUDED_PHONE]
    assert len(excluded) == 2 and all(m.state == "skipped" and m.text == "" for m in excluded)


def test_the_history_sync_after_a_relink_keeps_no_original_text(app, demo, redis_url, sandbox_connection,
                                                                 close_sandbox, linked_mia_evo, wa, capfd, caplog):
    """Evolution's messages.set (what the phone received while unlinked) crosses the same gate."""
    from tests.helpers.gateway_sandbox import scan_evo, wait_state
    from webapp.messages import gate
    from webapp.whatsapp import linking
    caplog.set_level("DEBUG")
    gate.add_entry(demo.acme.id, "phone", EXCLUDED_PHONE)
    wa.control("POST", f"evolution/instances/{linked_mia_evo.session_name}/logout", {})
    wait_state(linked_mia_evo, "failed")
    wa.send(JANE, MIA, f"while unlinked: code {MISSED_CODE}, card {CARD}")
    wa.send(EXCLUDED_PHONE, MIA, EXCLUDED_TEXT)
    linking.relink(fresh(linked_mia_evo))
    scan_evo(wa, linked_mia_evo)
    wait_state(linked_mia_evo, "linked")
    synced = wait_for(lambda: [m for m in messages() if m.state == "synced"], timeout=60, interval=0.3,
                      message="the history sync's message in Close")
    assert "[one-time code redacted]" in synced[0].text and "[card number redacted]" in synced[0].text
    excluded = wait_for(lambda: [m for m in messages() if m.chat.remote_phone == EXCLUDED_PHONE], timeout=30,
                        interval=0.3, message="the excluded chat's message recorded")
    assert excluded[0].state == "skipped" and excluded[0].text == ""
    close_text = json.dumps(close_sandbox.control("GET", "/_sandbox/activities")["data"])
    assert _found_in(close_text) == [] and "[one-time code redacted]" in close_text
    assert _database_hits() == []
    assert _redis_hits(redis_url) == []
    out, err = capfd.readouterr()
    assert _found_in(out + err + caplog.text) == []
