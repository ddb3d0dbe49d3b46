"""Message rows with outcomes at chosen times, as the screens, the dashboard and the sync log show them."""
from datetime import timedelta

LINES = ["Hi! Do you have a minute to talk about the renewal?", "Of course, what would you like to change?",
         "We'd like 5 more seats starting next month.", "Great, I'll send the updated quote today.",
         "Thanks!", "Could we move the call to Thursday?", "Sure, 3 pm works."]


def add_outcomes(demo, outcomes, email="owner@acme.test", remote="+14155550101", reason="a reason",
                 name="Gob Bluth", texts=None):
    """outcomes: [(state, hours_ago)] → Message rows of one chat whose outcome happened that long ago
    (inserted oldest first, as they would arrive); the number's last successful sync follows."""
    from webapp.core.extensions import db
    from webapp.models import Chat, Message, utcnow
    number = demo.memberships[email].numbers[0]
    chat = Chat(workspace_id=number.workspace_id, whatsapp_number_id=number.id,
                external_id=f"ui-chat-{remote}-{len(outcomes)}", kind="direct", remote_phone=remote,
                display_name=name)
    db.session.add(chat)
    db.session.flush()
    rows = []
    for i, (state, hours_ago) in enumerate(sorted(outcomes, key=lambda o: -o[1])):
        moment = utcnow() - timedelta(hours=hours_ago)
        rows.append(Message(
            workspace_id=number.workspace_id, chat_id=chat.id, whatsapp_number_id=number.id,
            external_id=f"ui-{chat.external_id}-{i}", direction="incoming" if i % 2 else "outgoing",
            sent_at=moment - timedelta(minutes=1), text=texts[i % len(texts)] if texts else f"message {i}",
            state=state, reason="" if state == "synced" else reason, attempts=1 if state in ("failed", "dead") else 0,
            synced_at=moment if state == "synced" else None, updated_at=moment,
            close_lead_id="lead_ui" if state == "synced" else None))
        if state == "synced" and (number.last_synced_at is None or number.last_synced_at < moment):
            number.last_synced_at = moment
    db.session.add_all(rows)
    db.session.commit()
    return rows
