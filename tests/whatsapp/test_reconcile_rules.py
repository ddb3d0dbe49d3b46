"""Reconciliation rules, one gateway answer at a time (requests-mock); the end-to-end runs against
the WhatsApp sandbox are in test_reconciliation.py."""
import re
import time

import pytest

from tests.helpers.gateway_sandbox import fresh
from tests.helpers.messages import messages
from tests.helpers.whatsapp import CUSTOMER, envelope, text_message

BASE = "http://waha.test:3000/api/mia"
OTHER = "4915123456789"


def _overview(requests_mock, chats):
    return requests_mock.get(f"{BASE}/chats/overview", json=[
        {"id": f"{jid}@c.us", "lastMessage": {"timestamp": last}} for jid, last in chats])


def _history(requests_mock, jid, rows):
    return requests_mock.get(re.compile(f"{BASE}/chats/{jid}%40c.us/messages"), json=rows)


def test_it_stores_only_what_is_missing_and_a_quiet_chat_is_not_read_again(app, link, hook, process,
                                                                           sandbox_connection, requests_mock):
    from webapp.whatsapp import reconcile
    now = int(time.time())
    hook(envelope("message.any", text_message(short_id="HAVE1", ts=now - 30)))
    process()
    requests_mock.get(f"{BASE}/chats/overview", json=[
        {"id": f"{CUSTOMER}@c.us", "lastMessage": {"timestamp": now - 10}},
        {"id": "120363@g.us", "lastMessage": {"timestamp": now}},                        # groups: not read
        {"id": f"{OTHER}@c.us", "lastMessage": {"timestamp": now - 86400 * 30}},        # inactive chat
    ])
    history = _history(requests_mock, CUSTOMER, [
        text_message(short_id="HAVE1", ts=now - 30),
        text_message(short_id="MISS1", ts=now - 20, body="missed one"),
        text_message(short_id="MISS2", ts=now - 10, from_me=True, body="missed two"),
    ])
    result = reconcile.reconcile(link.id, "schedule")
    assert (result["stored"], result["duplicates"], result["chats"]) == (2, 1, 1)
    assert sorted(m.external_id[-5:] for m in messages()) == ["HAVE1", "MISS1", "MISS2"]
    assert fresh(link).recovered_count == 2 and fresh(link).last_recovery_error is None
    assert history.call_count == 1
    # Nothing newer in the chat since: the next run lists the chats and reads none of them.
    again = reconcile.reconcile(link.id, "schedule")
    assert (again["stored"], again["chats"], again["skipped_chats"]) == (0, 0, 1)
    assert history.call_count == 1


def test_an_older_gap_behind_a_newer_message_is_still_fetched(app, link, hook, process, sandbox_connection,
                                                             requests_mock):
    """The watermark is what reconciliation checked, never the newest stored message: a webhook that
    brings a newer message (in this chat or another) does not hide the older ones that were lost."""
    from webapp.whatsapp import reconcile
    now = int(time.time())
    _overview(requests_mock, [(CUSTOMER, now - 3000)])
    _history(requests_mock, CUSTOMER, [text_message(short_id="FIRST", ts=now - 3000)])
    reconcile.reconcile(link.id, "schedule")
    # Ten minutes ago: two messages whose deliveries were lost; now: a newer one that arrives.
    hook(envelope("message.any", text_message(short_id="NEWER", ts=now, chat=f"{OTHER}@c.us")))
    hook(envelope("message.any", text_message(short_id="NEWEST", ts=now)))
    process()
    _overview(requests_mock, [(CUSTOMER, now), (OTHER, now)])
    asked = _history(requests_mock, CUSTOMER, [text_message(short_id="FIRST", ts=now - 3000),
                                               text_message(short_id="LOST1", ts=now - 600),
                                               text_message(short_id="LOST2", ts=now - 590),
                                               text_message(short_id="NEWEST", ts=now)])
    _history(requests_mock, OTHER, [text_message(short_id="NEWER", ts=now, chat=f"{OTHER}@c.us")])
    result = reconcile.reconcile(link.id, "schedule")
    assert result["stored"] == 2
    assert {"LOST1", "LOST2"} <= {m.external_id[-5:] for m in messages()}
    asked_from = int(asked.last_request.qs["filter.timestamp.gte"][0])
    assert asked_from <= now - 3000  # from the chat's own watermark (minus the overlap), not from NEWEST


def test_it_never_reaches_back_before_the_link(app, link, sandbox_connection, requests_mock):
    from datetime import timedelta

    from webapp.core.extensions import db
    from webapp.models import utcnow
    from webapp.whatsapp import reconcile
    link.linked_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    now = int(time.time())
    overview = _overview(requests_mock, [(CUSTOMER, now)])
    history = _history(requests_mock, CUSTOMER, [])
    reconcile.reconcile(link.id, "schedule")
    overlap = app.config["WHATSAPP_RECONCILE_OVERLAP"]
    assert int(history.last_request.qs["filter.timestamp.gte"][0]) >= now - 5 * 60 - 3600 - overlap - 5
    assert overview.called


def test_a_gateway_that_fails_leaves_the_watermarks_where_they_were(app, link, sandbox_connection, requests_mock):
    import requests

    from webapp.whatsapp import reconcile
    requests_mock.get(f"{BASE}/chats/overview", exc=requests.ConnectionError)
    result = reconcile.reconcile(link.id, "schedule")
    assert "does not answer" in result["error"] and "does not answer" in fresh(link).last_recovery_error
    assert fresh(link).reconciled_until is None and fresh(link).reconcile_started_at is None


def test_noweb_without_its_store_says_there_is_no_history(app, link, sandbox_connection, requests_mock):
    from webapp.whatsapp import reconcile
    requests_mock.get(f"{BASE}/chats/overview", status_code=400, json={
        "message": "Enable NOWEB store 'config.noweb.store.enabled=True' and 'config.noweb.store.full_sync=True' "
                   "when starting a new session.", "error": "Bad Request", "statusCode": 400})
    reconcile.reconcile(link.id, "schedule")
    assert "keeps no message history" in fresh(link).last_recovery_error


def test_a_run_stops_at_its_limit_and_the_next_one_reads_on(app, link, sandbox_connection, requests_mock):
    from webapp.core.redis_conn import get_queue
    from webapp.whatsapp import reconcile
    app.config["WHATSAPP_RECONCILE_MAX_MESSAGES"] = 2
    now = int(time.time())
    chats = [(f"491512345678{i}", now - 100 + i) for i in range(3)]
    _overview(requests_mock, chats)
    for i, (jid, ts) in enumerate(chats):
        _history(requests_mock, jid, [text_message(short_id=f"GAP{i}{n}", chat=f"{jid}@c.us", ts=ts - n)
                                      for n in (1, 0)])
    assert reconcile.request_reconciliation(link, "schedule") is True
    assert reconcile.request_reconciliation(link, "reconnect") is False   # one at a time: noted for later
    queued = [j for j in get_queue().jobs if j.func_name == "jobs.whatsapp.reconcile"]
    assert len(queued) == 1
    get_queue().remove(queued[0])
    first = reconcile.run(link.id, "schedule")
    assert first["more"] is True and first["stored"] == 2
    assert fresh(link).reconcile_progress["chats_total"] == 3
    follow = [j for j in get_queue().jobs if j.func_name == "jobs.whatsapp.reconcile"]
    assert [j.args for j in follow] == [(link.id, "continue")]
    get_queue().remove(follow[0])
    runs = [reconcile.run(link.id, "continue") for _ in range(2)]
    assert [r["more"] for r in runs] == [True, False] and [r["stored"] for r in runs] == [2, 2]
    assert len(messages()) == 6 and fresh(link).reconciled_until is not None


@pytest.mark.parametrize("silent_for, expected", [(20, "silence"), (5, None)])
def test_a_number_that_should_be_talking_and_falls_silent_is_reconciled(app, link, sandbox_connection,
                                                                        silent_for, expected):
    from datetime import timedelta

    from webapp.core.extensions import db
    from webapp.models import utcnow
    from webapp.whatsapp import reconcile
    app.config.update(WHATSAPP_RECONCILE_INTERVAL=3600, WHATSAPP_SILENCE_AFTER=15 * 60)
    link.last_webhook_at = utcnow() - timedelta(minutes=silent_for)
    link.last_recovery_at = utcnow() - timedelta(minutes=30)
    db.session.commit()
    assert reconcile.enqueue_due().get(link.id) == expected


def test_a_delivery_refused_as_too_old_asks_for_a_reconciliation_once(app, link, hook):
    from webapp.core.redis_conn import get_queue
    from webapp.whatsapp import reconcile
    stale = int((time.time() - 3600) * 1000)
    for n in range(3):   # a gateway retrying a delivery Closeline refuses
        answer = hook(envelope("message.any", text_message(short_id=f"LATE{n}"), timestamp_ms=stale))
        assert answer.status_code == 401 and answer.get_json()["error"] == "stale_event"
    queued = [j for j in get_queue().jobs if j.func_name == reconcile.RUN_JOB]
    assert [j.args for j in queued] == [(link.id, "refused")]


def test_reconcile_now_on_the_whatsapp_page_queues_one_run_and_shows_its_progress(app, link, login):
    from webapp.core.extensions import db
    from webapp.core.redis_conn import get_queue
    from webapp.models import utcnow
    from webapp.whatsapp import reconcile
    member = login("member@acme.test")
    first = member.post(f"/whatsapp/links/{link.id}/reconcile", follow_redirects=True).get_data(as_text=True)
    again = member.post(f"/whatsapp/links/{link.id}/reconcile", follow_redirects=True).get_data(as_text=True)
    assert "Reconciling +14155550003" in first and "already under way" in again
    assert [j.args for j in get_queue().jobs if j.func_name == reconcile.RUN_JOB] == [(link.id, "manual")]
    assert member.post(f"/whatsapp/links/{link.id}/reconcile", csrf=False).status_code == 400
    # While a run works, its cell says how far it got (and polls for more).
    link.reconcile_started_at, link.reconcile_reason = utcnow(), "manual"
    link.reconcile_progress = {"chats_done": 3, "chats_total": 8, "stored": 2}
    db.session.commit()
    cell = member.get(f"/whatsapp/links/{link.id}/reconciliation").get_data(as_text=True)
    assert "3 of 8 chats read, 2 missed messages fetched" in cell and 'hx-trigger="every 2s"' in cell
    assert login("admin@acme.test").get(f"/whatsapp/links/{link.id}/reconciliation").status_code == 200
