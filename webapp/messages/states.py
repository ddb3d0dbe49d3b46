"""The states of a message in the outbox, their badge colours and the fixed reasons (defined once)."""
from webapp.core import vocabulary

STATES = ("received", "queued", "synced", "skipped", "held", "failed", "dead")

# Bootstrap colour of each state's badge (the `state_badge` Jinja filter), from the one vocabulary.
BADGES = {state: b.level for state, b in vocabulary.MESSAGE.items()}

HOLD_SUBSCRIPTION = "subscription inactive"
HOLD_DISCONNECTED = "disconnected"
SKIP_GROUP = "Group chat: only direct chats are synced to Close."


def state_badge(state):
    return BADGES.get(state, "secondary")
