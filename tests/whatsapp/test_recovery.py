"""Gap recovery rules (gateway answers from requests-mock; the end-to-end runs are in test_sandbox_flow)."""
import re
import time

from tests.helpers.messages import messages
from tests.helpers.whatsapp import CUSTOMER, envelope, text_message

BASE = "http://waha.test:3000/api/mia"


def test_recovery_stores_only_what_is_missing_and_counts_it(app, link, hook, process, sandbox_connection, requests_mock):
    from tests.helpers.gateway_sandbox import fresh
    from webapp.whatsapp import recovery
    now = int(time.time())
    hook(envelope("message.any", text_message(short_id="HAVE1", ts=now - 30)))
    process()
    requests_mock.get(f"{BASE}/chats/overview", json=[
        {"id": f"{CUSTOMER}@c.us", "lastMessage": {"timestamp": now}},
        {"id": "120363@g.us", "lastMessage": {"timestamp": now}},          # groups: not fetched
        {"id": "4915123456789@c.us", "lastMessage": {"timestamp": now - 86400 * 30}},  # inactive chat
    ])
    history = requests_mock.get(re.compile(f"{BASE}/chats/{CUSTOMER}%40c.us/messages"), json=[
        text_message(short_id="HAVE1", ts=now - 30),
        text_message(short_id="MISS1", ts=now - 20, body="missed one"),
        text_message(short_id="MISS2", ts=now - 10, from_me=True, body="missed two"),
    ])
    result = recovery.recover(link.id)
    assert result["stored"] == 2 and result["duplicates"] == 1 and result["chats"] == 1
    assert sorted(m.external_id[-5:] for m in messages()) == ["HAVE1", "MISS1", "MISS2"]
    assert fresh(link).recovered_count == 2
    asked_from = int(history.last_request.qs["filter.timestamp.gte"][0])
    assert now - 30 - 130 <= asked_from <= now - 30  # from the chat's newest stored message, small overlap
    assert recovery.recover(link.id)["stored"] == 0  # idempotent


def test_recovery_never_reaches_back_before_the_link(app, link, sandbox_connection, requests_mock):
    from datetime import timedelta

    from webapp.core.extensions import db
    from webapp.models import Chat, Message, utcnow
    from webapp.whatsapp import recovery
    link.linked_at = utcnow() - timedelta(minutes=5)
    old = Chat(workspace_id=link.workspace_id, whatsapp_number_id=link.whatsapp_number_id,
               external_id="other-chat", remote_phone="+4915123456789")
    db.session.add(old)
    db.session.add(Message(workspace_id=link.workspace_id, chat=old, whatsapp_number_id=link.whatsapp_number_id,
                           external_id="api-old", direction="incoming", sent_at=utcnow() - timedelta(days=10),
                           text="from the ingestion API, long ago", state="synced"))
    db.session.commit()
    now = int(time.time())
    requests_mock.get(f"{BASE}/chats/overview", json=[{"id": f"{CUSTOMER}@c.us", "lastMessage": {"timestamp": now}}])
    history = requests_mock.get(re.compile(f"{BASE}/chats/{CUSTOMER}%40c.us/messages"), json=[])
    recovery.recover(link.id)
    asked_from = int(history.last_request.qs["filter.timestamp.gte"][0])
    assert asked_from >= now - 5 * 60 - 3600 - 120 - 5  # linked_at - 1 h - overlap, not ten days back


def test_recovery_stops_cleanly_when_the_gateway_is_down(app, link, sandbox_connection, requests_mock):
    import requests

    from tests.helpers.gateway_sandbox import fresh
    from webapp.whatsapp import recovery
    requests_mock.get(f"{BASE}/chats/overview", exc=requests.ConnectionError)
    result = recovery.recover(link.id)
    assert "error" in result and "does not answer" in fresh(link).last_recovery_error
