"""The states of a message in the outbox, their badge colours and the fixed reasons (defined once)."""
STATES = ("received", "queued", "synced", "skipped", "held", "failed", "dead")

# Bootstrap colour of each state's badge (the `state_badge` Jinja filter).
BADGES = {"received": "secondary", "queued": "info", "synced": "success", "skipped": "secondary",
          "held": "warning", "failed": "danger", "dead": "dark"}

HOLD_SUBSCRIPTION = "subscription inactive"
HOLD_DISCONNECTED = "disconnected"
SKIP_GROUP = "Group chat: only direct chats are synced to Close."


def state_badge(state):
    return BADGES.get(state, "secondary")
