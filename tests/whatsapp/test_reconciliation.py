"""Per-chat reconciliation end to end, on both gateway kinds: the WhatsApp sandbox (WAHA and
Evolution API façades) drops webhook deliveries, Closeline over real HTTP and a real RQ worker
fetch what was lost from the gateway's history, the Close sandbox shows each message once."""
import time

import pytest

from tests.helpers.gateway_sandbox import JANE, MIA, fresh, wait_state
from tests.helpers.messages import activities, messages
from tests.helpers.waiting import wait_for

CUSTOMERS = ["+447400123456", "+5511987654321", "+4915123456789"]
NEWCOMER = "+33612345678"


@pytest.fixture(params=["waha", "evolution"])
def linked(request):
    """Mia's number linked through one gateway kind, its link-time reconciliation finished."""
    link = request.getfixturevalue("linked_mia" if request.param == "waha" else "linked_mia_evo")
    wait_for(lambda: fresh(link).last_recovery_at is not None, timeout=60, interval=0.3,
             message="the reconciliation after linking")
    return fresh(link)


def _id(sent, sender):
    """Closeline's (and Close's) id of a sandbox message in Mia's direct chat."""
    from_me = sender == MIA
    peer = sent["to"] if from_me else sent["from"]
    return f"{'true' if from_me else 'false'}_{peer.lstrip('+')}@c.us_{sent['id']}"


def _in_close(close_sandbox, ids, timeout=60):
    wait_for(lambda: all(activities(close_sandbox, external_id=i) for i in ids), timeout=timeout, interval=0.3,
             message=f"{len(ids)} activities in Close")


def _lose_older_messages(wa, link):
    """Deliveries of messages written ten minutes ago in several chats (one per customer, and one
    from Mia) are dropped; then a newer message of another customer, and one in a chat that lost
    one, arrive as usual."""
    facade = link.gateway.kind
    ten_minutes_ago = int(time.time()) - 600
    wa.control("PUT", "webhooks/faults", {"drop": len(CUSTOMERS) + 1, "facade": facade})
    lost = [(wa.send(c, MIA, f"Older message {n}", timestamp=ten_minutes_ago + n), c) for n, c in enumerate(CUSTOMERS)]
    lost.append((wa.send(MIA, JANE, "My older answer", timestamp=ten_minutes_ago + 9), MIA))
    wait_for(lambda: wa.control("GET", "webhooks/faults")["drop"] == 0, timeout=30, interval=0.2,
             message="the dropped deliveries")
    arrived = [(wa.send(NEWCOMER, MIA, "A newer message"), NEWCOMER),
               (wa.send(CUSTOMERS[0], MIA, "Newer, in a chat that lost one"), CUSTOMERS[0])]
    return [_id(s, who) for s, who in lost], [_id(s, who) for s, who in arrived]


def _one_activity_each(close_sandbox, ids):
    assert all(len(activities(close_sandbox, external_id=i)) == 1 for i in ids)
    assert sorted(m.external_id for m in messages()) == sorted(ids)


def _fully_accounted(link):
    from webapp.whatsapp import reconcile
    figures = wait_for(lambda: (lambda f: f if f["percent"] == 100 else None)(reconcile.accounted(fresh(link))),
                       timeout=60, interval=0.3, message="100 % accounted for")
    return figures


def test_older_gaps_are_recovered_by_the_next_scheduled_run_without_a_reconnect(
        app, demo, sandbox_connection, close_sandbox, linked, wa, login):
    from webapp.core.extensions import db
    from webapp.whatsapp import reconcile
    app.config["WHATSAPP_RECONCILE_INTERVAL"] = 5
    lost, arrived = _lose_older_messages(wa, linked)
    _in_close(close_sandbox, arrived)
    assert all(activities(close_sandbox, external_id=i) == [] for i in lost), "the drops took place"
    # One interval later (the clock moved on), the cron tick queues the scheduled run.
    link = fresh(linked)
    link.last_recovery_at = link.last_recovery_at.replace(year=link.last_recovery_at.year - 1)
    db.session.commit()
    assert reconcile.enqueue_due() == {linked.id: "schedule"}
    _in_close(close_sandbox, lost)
    _one_activity_each(close_sandbox, lost + arrived)
    assert fresh(linked).unstored == {}
    figures = _fully_accounted(linked)
    assert figures["on_whatsapp"] == figures["accounted"] == len(lost + arrived)
    # What people see: the gap in the history, the figures on the WhatsApp page and the dashboard.
    wait_for(lambda: fresh(linked).recovered_count == len(lost), timeout=30, interval=0.3, message="counted")
    owner = login("owner@acme.test")
    history = owner.get("/integrations/close/").get_data(as_text=True)
    assert f"{len(lost)} message(s) the webhooks had missed were fetched" in history
    page = owner.get("/whatsapp/").get_data(as_text=True)
    assert f"last 24 h: {len(lost + arrived)} on WhatsApp, {len(lost + arrived)} accounted for" in page
    assert "Last reconciled" in page
    dashboard = owner.get("/dashboard").get_data(as_text=True)
    assert f"{len(lost + arrived)} on WhatsApp, {len(lost + arrived)} accounted for" in dashboard


def test_a_reconnect_reconciles_at_once(app, demo, sandbox_connection, close_sandbox, linked, wa):
    lost, arrived = _lose_older_messages(wa, linked)
    _in_close(close_sandbox, arrived)
    kind = linked.gateway.kind
    account = "sessions" if kind == "waha" else "instances"
    wa.control("POST", f"{account}/{linked.session_name}/fail", {})
    wait_for(lambda: fresh(linked).state != "linked", timeout=30, interval=0.2, message="the blip seen")
    wa.control("POST", f"{account}/{linked.session_name}/restore", {})
    wait_state(linked, "linked")
    _in_close(close_sandbox, lost)
    _one_activity_each(close_sandbox, lost + arrived)
    _fully_accounted(linked)


def test_webhook_silence_on_a_number_that_should_be_talking_reconciles_it(
        app, demo, sandbox_connection, close_sandbox, linked, wa):
    from datetime import timedelta

    from webapp.core.extensions import db
    from webapp.models import utcnow
    from webapp.whatsapp import reconcile
    app.config.update(WHATSAPP_RECONCILE_INTERVAL=3600, WHATSAPP_SILENCE_AFTER=15 * 60)
    heard = wa.send(JANE, MIA, "Talking as usual")
    _in_close(close_sandbox, [_id(heard, JANE)])
    wa.control("PUT", "webhooks/faults", {"drop": 1, "facade": linked.gateway.kind})
    lost = wa.send(CUSTOMERS[1], MIA, "Nobody heard this one")
    wait_for(lambda: wa.control("GET", "webhooks/faults")["drop"] == 0, timeout=30, interval=0.2,
             message="the dropped delivery")
    assert reconcile.enqueue_due() == {}, "not due yet and not silent"
    # Twenty minutes pass without a webhook (the last run was before the silence began).
    link = fresh(linked)
    link.last_webhook_at = utcnow() - timedelta(minutes=20)
    link.last_recovery_at = utcnow() - timedelta(minutes=30)
    db.session.commit()
    assert reconcile.enqueue_due() == {linked.id: "silence"}
    _in_close(close_sandbox, [_id(lost, CUSTOMERS[1])])
    _one_activity_each(close_sandbox, [_id(heard, JANE), _id(lost, CUSTOMERS[1])])
    _fully_accounted(linked)


def test_a_gateway_without_history_says_so_on_the_whatsapp_page(app, demo, sandbox_connection, close_sandbox, live,
                                                                wa, wa_gateway, worker, login):
    from tests.helpers.gateway_sandbox import scan
    from webapp.whatsapp import linking
    wa.reset(WAHA_ENGINE="NOWEB", WAHA_NOWEB_STORE_OFF=True)   # NOWEB whose store is off
    try:
        link = linking.start_link(wa_gateway, demo.memberships["member@acme.test"])
        scan(wa, link, MIA)
        wait_state(link, "linked")
        error = wait_for(lambda: fresh(link).last_recovery_error, timeout=60, interval=0.3,
                         message="the reconciliation after linking")
        assert "keeps no message history" in error
        page = login("member@acme.test").get("/whatsapp/").get_data(as_text=True)
        assert "keeps no message history" in page and "config.noweb.store.enabled" in page
    finally:
        wa.reset(WAHA_ENGINE="WEBJS", WAHA_NOWEB_STORE_OFF=False)


def test_a_core_gateway_serving_only_default_is_reconciled_the_same_way(app, demo, sandbox_connection, close_sandbox,
                                                                       live, wa, wa_gateway, worker):
    from tests.helpers.gateway_sandbox import scan
    from webapp.core.extensions import db
    from webapp.whatsapp import linking, reconcile
    wa.reset(WAHA_SINGLE_SESSION=True)   # WAHA Core before 2026.6.1: the session `default` only
    try:
        link = linking.start_link(wa_gateway, demo.memberships["member@acme.test"])
        scan(wa, link, MIA)
        wait_state(link, "linked")
        wait_for(lambda: fresh(link).last_recovery_at is not None, timeout=60, interval=0.3,
                 message="the reconciliation after linking")
        link = fresh(link)
        assert link.session_name == "default"
        lost, arrived = _lose_older_messages(wa, link)
        _in_close(close_sandbox, arrived)
        link = fresh(link)
        link.last_recovery_at = link.last_recovery_at.replace(year=link.last_recovery_at.year - 1)
        db.session.commit()
        assert reconcile.enqueue_due() == {link.id: "schedule"}
        _in_close(close_sandbox, lost)
        _one_activity_each(close_sandbox, lost + arrived)
        _fully_accounted(link)
    finally:
        wa.reset(WAHA_SINGLE_SESSION=False)
