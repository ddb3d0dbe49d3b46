"""What the connection history says, in words a workspace admin uses (no OAuth or Close ids)."""
import re

# The runs a manager starts from the card (JobRun.kind), named once for the card and the history.
JOB_LABELS = {"test_sync": "Test sync", "catch_up": "Sync of held messages", "check": "Connection check"}
EVENT_LABELS = {
    "connected": "Connected",
    "connect_refused": "Connect refused",
    "connect_denied": "Connect cancelled (Deny on Close)",
    "disconnected": "Disconnected",
    "auto_disconnected": "Disconnected automatically",
    "settings_changed": "Settings",
    "refresh_failed": "Access renewal failing",
    "customer_forgotten": "Customer forgotten (privacy)",
    "whatsapp_gap_filled": "WhatsApp gap found and filled",
    "close_user_chosen": "Member's Close user",
    "shared_org": "Organization shared with another workspace",
    "connect_cancelled": "Connect cancelled",
    "permission_lost": "Permission missing in Close",
    "permission_restored": "Permission granted again",
    **JOB_LABELS,
}

# Protocol words and ids that older entries (or Close's own messages) may carry.
JARGON = (
    (re.compile(r"\binvalid_grant\b"), "Close no longer accepts the access"),
    (re.compile(r"\binvalid_client\b"), "Close did not recognise Closeline's app credentials"),
    (re.compile(r"\baccess_denied\b"), "Deny was clicked"),
    (re.compile(r"\s*\(?\b(orga|user|lead|acti|cont)_[A-Za-z0-9]+\b\)?"), ""),
    (re.compile(r"\btoken endpoint\b"), "Close"),
)


def event_label(kind):
    return EVENT_LABELS.get(kind, (kind or "").replace("_", " ").capitalize())


def plain_detail(text):
    """History detail without protocol words or ids."""
    text = text or ""
    for pattern, words in JARGON:
        text = pattern.sub(words, text)
    return re.sub(r"\s{2,}", " ", text).strip()
