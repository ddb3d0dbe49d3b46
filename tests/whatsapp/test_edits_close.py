"""Incoming, outgoing, reply, edit and revoke as Close sees them (the Close sandbox over HTTP)."""
import pytest

from tests.helpers.messages import messages
from tests.helpers.whatsapp import CUSTOMER, envelope, text_message

CHAT = f"{CUSTOMER}@c.us"


def _sync(hook, process, drain_now, demo, *bodies):
    for body in bodies:
        assert hook(body).status_code == 200
    process()
    drain_now(demo.acme.id)


def test_incoming_outgoing_and_reply_reach_close(app, link, hook, process, sandbox_connection, close_sandbox, drain_now,
                                                  demo):
    from tests.helpers.messages import activities
    _sync(hook, process, drain_now, demo,
          envelope("message.any", text_message(short_id="IN1", body="Hi, is the quote ready?")),
          envelope("message.any", text_message(short_id="OUT1", from_me=True, body="Yes, sending it now",
                                               replyTo={"id": "IN1", "participant": CHAT})))
    rows = {m.external_id: m for m in messages()}
    assert {m.state for m in rows.values()} == {"synced"}
    found = {a["external_whatsapp_message_id"]: a for a in activities(close_sandbox)}
    incoming, outgoing = found[f"false_{CHAT}_IN1"], found[f"true_{CHAT}_OUT1"]
    assert incoming["direction"] == "incoming" and outgoing["direction"] == "outgoing"
    assert incoming["local_phone"] == "+14155550003" and incoming["remote_phone"] == "+" + CUSTOMER
    assert outgoing["response_to_id"] == incoming["id"]


def test_edit_updates_the_close_activity(app, link, hook, process, sandbox_connection, close_sandbox, drain_now, demo):
    from tests.helpers.messages import activities
    _sync(hook, process, drain_now, demo, envelope("message.any", text_message(short_id="E1", body="Price is 100")))
    _sync(hook, process, drain_now, demo, envelope("message.edited", {
        "id": f"false_{CHAT}_EDACT1", "timestamp": 1753860300, "from": CHAT, "fromMe": False,
        "body": "Price is 120", "hasMedia": False, "editedMessageId": "E1"}))
    [activity] = activities(close_sandbox, external_id=f"false_{CHAT}_E1")
    assert activity["message_markdown"] == "Price is 120"


@pytest.mark.parametrize("mirror", [False, True])
def test_revoke_deletes_the_activity_only_when_mirroring(app, link, hook, process, sandbox_connection, close_sandbox,
                                                         drain_now, demo, mirror):
    from tests.helpers.messages import activities
    from webapp.core.extensions import db
    from webapp.models import WhatsAppSettings
    db.session.add(WhatsAppSettings(workspace_id=demo.acme.id, mirror_deletions=mirror))
    db.session.commit()
    _sync(hook, process, drain_now, demo, envelope("message.any", text_message(short_id="D1", body="Oops")))
    assert len(activities(close_sandbox, external_id=f"false_{CHAT}_D1")) == 1
    _sync(hook, process, drain_now, demo, envelope("message.revoked", {
        "after": {"id": f"false_{CHAT}_RV1", "timestamp": 1753860400, "from": CHAT, "fromMe": False, "body": ""},
        "before": None, "revokedMessageId": "D1"}))
    remaining = activities(close_sandbox, external_id=f"false_{CHAT}_D1")
    [row] = messages()
    assert "deleted on WhatsApp" in row.reason
    assert len(remaining) == (0 if mirror else 1)
