"""The states of a message in the outbox, their badge colours and the fixed reasons (defined once)."""
from webapp.core import vocabulary

STATES = ("received", "queued", "synced", "skipped", "held", "failed", "dead")

# Bootstrap colour of each state's badge (the `state_badge` Jinja filter), from the one vocabulary.
BADGES = {state: b.level for state, b in vocabulary.MESSAGE.items()}

HOLD_SUBSCRIPTION = "subscription inactive"
HOLD_DISCONNECTED = "disconnected"
SKIP_GROUP = "Group chat: only direct chats are synced to Close."
# A chat WhatsApp shows only by its LID (a privacy id): no phone, so no Close lead to find yet.
HOLD_HIDDEN_NUMBER = ("Waiting for the customer's number — WhatsApp hides it in this chat. Closeline asks the "
                      "gateway again every minute and syncs the message as soon as the number is known.")
SKIP_HIDDEN_NUMBER = ("Skipped: WhatsApp kept this customer's number hidden, so Closeline could not find their "
                      "Close lead. The message is not in Close.")


def state_badge(state):
    return BADGES.get(state, "secondary")
