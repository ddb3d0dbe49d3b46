"""What the Subscription page tells the owner: what is paused, what waits, and who to contact.

Subscriptions are set by the operator of the deployment (`flask subscription set`, README), so
customers are shown who to contact (SUPPORT_CONTACT), never a command.
"""
from dataclasses import dataclass

from flask import current_app

from webapp.clients.close.tokens import live_connection
from webapp.messages.actions import count_held


@dataclass
class Contact:
    text: str
    href: str | None = None  # mailto: or https: when the setting is an address or a URL


def support_contact():
    """The operator's SUPPORT_CONTACT as something to show (None when not set)."""
    value = (current_app.config.get("SUPPORT_CONTACT") or "").strip()
    if not value:
        return None
    if value.startswith(("https://", "http://")):
        return Contact(value, value)
    if "@" in value and " " not in value:
        return Contact(value, f"mailto:{value}")
    return Contact(value)


def overview(workspace):
    connection = live_connection(workspace.id)
    return {"active": workspace.subscription_active, "reason": workspace.inactive_reason,
            "held": count_held(workspace.id, "subscription"), "connection": connection,
            "catch_up": bool(connection and connection.catch_up_held), "contact": support_contact()}
