"""One state vocabulary: the words and colours of every state badge, defined once.

The dashboard, the Close card, the WhatsApp page and the Team page all name a state through this
module (the `badge` template global), so a state is called the same on every screen. A number's
health on the dashboard is the worst of what its gateway link, the Close connection and its
messages say: a logged-out number never shows "syncing", nor does any number while Close is
disconnected.
"""
from typing import NamedTuple


class Badge(NamedTuple):
    label: str
    level: str  # a Bootstrap colour: success, info, secondary, warning, danger, dark

    @property
    def css(self):
        """Bootstrap classes of the badge (dark text on the yellow one, as Bootstrap advises)."""
        return f"text-bg-{self.level}"


# How bad each colour is: the worst badge wins when several states meet in one cell.
SEVERITY = {"success": 0, "secondary": 1, "info": 1, "warning": 2, "danger": 3, "dark": 3}

# The Close connection (card, dashboard panel). "attention": live, but Close is unreachable or a
# permission is missing (the card's title and detail say which).
CLOSE = {
    "connected": Badge("connected", "success"),
    "attention": Badge("needs attention", "warning"),
    "paused": Badge("paused (subscription inactive)", "warning"),
    "auto_disconnected": Badge("disconnected automatically", "danger"),
    "not_connected": Badge("not connected", "secondary"),
}

# A WhatsApp number's link at its gateway (NumberLink.state).
NUMBER = {
    "starting": Badge("starting", "secondary"),
    "qr": Badge("waiting for QR scan", "info"),
    "linked": Badge("linked", "success"),
    "reconnecting": Badge("reconnecting", "info"),
    "failed": Badge("failed (needs relinking)", "danger"),
    "failed_restart": Badge("failed (restart it)", "danger"),  # failed, and a restart brings it back
    "stopped": Badge("stopped", "warning"),
    "unreachable": Badge("gateway unreachable", "danger"),
    "licence": Badge("gateway licence not activated", "warning"),
    "refused": Badge("refused", "dark"),
}

# A message in the outbox (Message.state).
MESSAGE = {
    "received": Badge("received", "secondary"),
    "queued": Badge("queued", "info"),
    "synced": Badge("synced", "success"),
    "skipped": Badge("skipped", "secondary"),
    "held": Badge("held", "warning"),
    "failed": Badge("failed", "danger"),
    "dead": Badge("dead", "dark"),
}

KINDS = {"close": CLOSE, "number": NUMBER, "message": MESSAGE}
UNKNOWN = Badge("unknown", "secondary")


def badge(kind, state):
    """The Badge of `state` in one of KINDS ("close", "number", "message")."""
    return KINDS[kind].get(state) or Badge(str(state or UNKNOWN.label), UNKNOWN.level)


def close_condition(state, connection):
    """The Close badge key for a card state (card_state()) and its connection: a live connection
    that Close doesn't answer, or that lacks a permission, needs attention."""
    live = state in ("connected", "paused") and connection is not None
    if live and (connection.unreachable_since or connection.permission_warning):
        return "attention"
    return state


def worst(*badges):
    """The most severe of the given badges (the first of equals); None are ignored."""
    present = [b for b in badges if b is not None]
    return max(present, key=lambda b: SEVERITY.get(b.level, 1)) if present else None


def number_health(counts, last_synced_at, link_state=None, close_key="connected"):
    """The Health badge of a dashboard number row: the worst of its gateway link, the Close
    connection and its messages. `counts`: {message state: n} of its waiting/failing messages."""
    failing = counts.get("failed", 0) + counts.get("dead", 0)
    if failing:
        messages = Badge(f"{failing} failing", "danger")
    elif counts.get("held"):
        messages = Badge(f"{counts['held']} held", "warning")
    elif counts.get("queued"):
        messages = Badge(f"{counts['queued']} queued", "info")
    elif last_synced_at:
        messages = Badge("syncing", "success")
    else:
        messages = Badge("nothing synced yet", "secondary")
    link = NUMBER.get(link_state) if link_state not in (None, "linked") else None
    close = CLOSE.get(close_key) if close_key != "connected" else None
    return worst(close, link, messages)  # of equals, the cause (Close, the link) before the effect
