"""A drain delivers different chats in parallel and each chat in order (webapp/messages/pool.py):
replies land after their originals and point at them, a new chat gets one lead, and a worker
SIGKILLed in the middle of a concurrent drain loses and doubles nothing."""
import collections

import pytest

from tests.helpers.messages import FAST, activities, body, exactly_once, messages, settle
from tests.helpers.waiting import wait_for

NEW_PHONES = ["+14155550160", "+14155550161", "+14155550162", "+14155550163", "+14155550164"]
PER_CHAT = 20


@pytest.fixture
def app_overrides():
    return dict(FAST, SYNC_POOL_SIZE=5, SYNC_BATCH_SIZE=50)


def _post_conversations(api, prefix):
    """5 new chats × 20 messages, chat after chat; every message but the first replies to the one
    before it. Returns {phone: [external ids in order]}."""
    chats = {}
    for c, phone in enumerate(NEW_PHONES):
        ids = [f"{prefix}-{c}-{i}" for i in range(PER_CHAT)]
        items = [body(mid, phone=phone, name=f"New customer {c}", text=f"message {i} of chat {c}",
                      reply_to=ids[i - 1] if i else None, direction="incoming" if i % 2 else "outgoing")
                 for i, mid in enumerate(ids)]
        assert api.post({"messages": items}, path="/api/v1/messages/batch").status_code == 202
        chats[phone] = ids
    return chats


def _assert_in_chat_order(sandbox, chats):
    created = {a["external_whatsapp_message_id"]: a for a in activities(sandbox)}
    for phone, ids in chats.items():
        in_close = sorted((created[mid] for mid in ids), key=lambda a: a["date_created"])
        assert [a["external_whatsapp_message_id"] for a in in_close] == ids, f"chat {phone} out of order"
        for original, reply in zip(ids, ids[1:]):
            assert created[reply]["response_to_id"] == created[original]["id"], reply
        assert len({a["lead_id"] for a in in_close}) == 1, f"chat {phone} spread over several leads"
    return created


def test_chats_in_parallel_each_chat_in_order(app, api, sandbox_connection, close_sandbox, drain_now, demo):
    close_sandbox.control("PUT", "/_sandbox/faults", {"latency_ms": 30})
    chats = _post_conversations(api, "order")
    drain_now(demo.acme.id)
    assert collections.Counter(m.state for m in messages()) == {"synced": 5 * PER_CHAT}
    created = _assert_in_chat_order(close_sandbox, chats)
    leads = exactly_once(close_sandbox, [mid for ids in chats.values() for mid in ids])
    assert len(leads) == 5  # one lead per new chat
    # The chats were posted one after another; a one-at-a-time drain would finish the first
    # chat before starting the second. Here they overlap in Close.
    first, second = chats[NEW_PHONES[0]], chats[NEW_PHONES[1]]
    assert created[second[0]]["date_created"] < created[first[-1]]["date_created"]


@pytest.mark.timeout(120)
def test_sigkill_during_a_concurrent_drain_loses_and_doubles_nothing(app, api, sandbox_connection, close_sandbox,
                                                                     workers):
    close_sandbox.control("PUT", "/_sandbox/faults", {"latency_ms": 60})
    first = workers.start()
    chats = _post_conversations(api, "kill")
    ids = [mid for chat in chats.values() for mid in chat]
    wait_for(lambda: sum(m.state == "synced" for m in messages()) >= 15, timeout=60, message="sync under way")
    workers.kill(first)
    assert sum(m.state == "synced" for m in messages()) < len(ids), "finished before the kill; make it slower"
    close_sandbox.control("PUT", "/_sandbox/faults", {"latency_ms": 0})
    workers.start()
    rows = settle(ids, timeout=90)
    leads = exactly_once(close_sandbox, ids)
    assert len(leads) == 5  # one lead per new chat, across the crash
    assert len({m.close_activity_id for m in rows}) == len(ids)
    by_chat = collections.defaultdict(set)
    for activity in activities(close_sandbox):
        by_chat[activity["remote_phone"]].add(activity["lead_id"])
    assert all(len(leads) == 1 for leads in by_chat.values()), by_chat
