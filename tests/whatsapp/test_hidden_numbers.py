"""Customers whose number WhatsApp hides (a chat known only by its @lid, the LID API answering
pn: null), through real HTTP: the WhatsApp sandbox's WAHA → Closeline's webhook → a real RQ
worker → the Close sandbox. The member sees them waiting within seconds; they sync once the
gateway learns the number; and after the configured wait they stay in the log as skipped."""
import html

import sqlalchemy as sa

from tests.helpers.gateway_sandbox import MIA, WEI, fresh
from tests.helpers.messages import activities, messages
from tests.helpers.waiting import wait_for
from tests.helpers.whatsapp import events

WAITING = "Waiting for the customer's number — WhatsApp hides it in this chat"


def _waiting_rows():
    return [m for m in messages() if m.state == "held" and m.reason.startswith(WAITING)]


def test_a_hidden_number_is_visible_to_the_member_and_syncs_once_the_gateway_knows_it(
        app, demo, sandbox_connection, close_sandbox, linked_mia, wa, login):
    first = wa.send(WEI, MIA, "Hello from Singapore")
    [row] = wait_for(_waiting_rows, timeout=30, interval=0.2, message="the waiting message in the sync log")
    assert row.text == "" and row.attachments == [] and row.chat.remote_phone is None
    assert row.chat.display_name == "Wei Ling Tan"
    for email in ("member@acme.test", "admin@acme.test"):
        page = html.unescape(login(email).get("/sync/").get_data(as_text=True))
        assert WAITING in page and "Wei Ling Tan" in page, email
    assert activities(close_sandbox) == [] or all(WEI != a["remote_phone"] for a in activities(close_sandbox))

    # The gateway learns the number (the customer saved in the address book, a group shared…); the
    # next message of the chat resolves, and the waiting one goes with it, without waiting for a sweep.
    wa.control("PUT", f"phones/{WEI}", {"lid_resolvable": True})
    second = wa.send(WEI, MIA, "Are you there?")
    for sent in (first, second):
        external = f"false_{WEI.lstrip('+')}@c.us_{sent['id']}"
        activity = wait_for(lambda e=external: activities(close_sandbox, external_id=e), timeout=60, interval=0.3,
                            message="the message in Close")[0]
        assert activity["remote_phone"] == WEI
    assert _waiting_rows() == []
    synced = [m for m in messages() if m.chat.remote_phone == WEI]
    assert sorted(m.text for m in synced) == ["Are you there?", "Hello from Singapore"]
    assert all(m.state == "synced" for m in synced) and len(messages()) == 2  # the stand-in is gone, no duplicate


def test_a_number_that_stays_hidden_is_skipped_visibly_after_the_configured_wait(
        app, demo, sandbox_connection, close_sandbox, linked_mia, wa, login):
    from webapp.whatsapp import inbox
    wa.send(WEI, MIA, "Still hidden")
    wait_for(_waiting_rows, timeout=30, interval=0.2, message="the waiting message")
    for _ in range(3):  # asked again and again: never dead after a number of attempts
        inbox.retry_waiting(fresh(linked_mia).gateway_id)
    [event] = [e for e in events() if e.event == "message.any"]
    assert event.state == "held" and event.attempts >= 4
    app.config["WHATSAPP_HIDDEN_NUMBER_WAIT"] = 0
    inbox.retry_waiting(fresh(linked_mia).gateway_id)
    [row] = messages()
    assert row.state == "skipped" and "kept this customer's number hidden" in row.reason
    [event] = [e for e in events() if e.event == "message.any"]
    assert event.state == "ignored" and event.payload == {}
    assert "kept this customer's number hidden" in html.unescape(login("member@acme.test").get("/sync/").get_data(
        as_text=True))


def test_retry_explains_why_a_waiting_message_cannot_be_sent(app, demo, sandbox_connection, linked_mia, wa, login):
    from webapp.core.extensions import db
    from webapp.models import Message
    wa.send(WEI, MIA, "Retry me")
    [row] = wait_for(_waiting_rows, timeout=30, interval=0.2, message="the waiting message")
    page = html.unescape(login("admin@acme.test").post(f"/sync/messages/{row.id}/retry", htmx=True).get_data(
        as_text=True))
    assert "waits for the customer" in page
    db.session.expire_all()
    assert db.session.scalar(sa.select(Message.state).where(Message.id == row.id)) == "held"
