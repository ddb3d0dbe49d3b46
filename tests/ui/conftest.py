"""Helpers of the screen tests: messages with outcomes at chosen times, a live Close connection row."""
from datetime import timedelta

import pytest

from webapp.extensions import db
from webapp.models import Chat, CloseConnection, Message, utcnow


def add_outcomes(demo, outcomes, email="owner@acme.test", remote="+14155550101", reason="a reason"):
    """outcomes: [(state, hours_ago)] → Message rows of one chat whose outcome happened that long ago."""
    number = demo.memberships[email].numbers[0]
    chat = Chat(workspace_id=number.workspace_id, whatsapp_number_id=number.id,
                external_id=f"ui-chat-{remote}-{len(outcomes)}", kind="direct", remote_phone=remote,
                display_name="Gob Bluth")
    db.session.add(chat)
    db.session.flush()
    rows = []
    for i, (state, hours_ago) in enumerate(outcomes):
        moment = utcnow() - timedelta(hours=hours_ago)
        rows.append(Message(
            workspace_id=number.workspace_id, chat_id=chat.id, whatsapp_number_id=number.id,
            external_id=f"ui-{chat.external_id}-{i}", direction="incoming", sent_at=moment - timedelta(minutes=1),
            text=f"message {i}", state=state, reason="" if state == "synced" else reason,
            synced_at=moment if state == "synced" else None, updated_at=moment,
            close_lead_id="lead_ui" if state == "synced" else None))
    db.session.add_all(rows)
    db.session.commit()
    return rows


@pytest.fixture
def connected(demo):
    row = CloseConnection(workspace_id=demo.acme.id, close_org_id="orga_ui", close_org_name="Acme Sales",
                          close_user_id="user_ui", close_user_email="dana@acme.test",
                          connected_by_id=demo.users["owner@acme.test"].id)
    db.session.add(row)
    db.session.commit()
    return row
