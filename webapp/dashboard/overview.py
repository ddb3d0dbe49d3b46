"""The dashboard's Close panel: the connection's state in one line and the next thing to do.

Read-only: the state comes from the Close card's own helper, so both screens always agree.
"""
from flask import url_for

from webapp.account import subscription
from webapp.close_connection.service import card_state
from webapp.core import vocabulary
from webapp.messages.actions import count_held


def _fmt(moment):
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "never"


def close_status(workspace, membership):
    """{"state", "level", "headline", "detail", "action", "action_url"} for this person."""
    state, connection = card_state(workspace)
    manager = membership.is_manager
    page = url_for("close.page")
    if state == "connected":
        return _connected(connection, manager, page)
    if state == "paused":
        held = count_held(workspace.id, "subscription")
        return _status(state, "warning", f"Paused: {_inactive_reason(workspace)}",
                       f"{held} message{'s' if held != 1 else ''} held; they sync after renewal.",
                       *_renewal_action(membership))
    held = count_held(workspace.id, "disconnected")
    waiting = f"{held} message{'s' if held != 1 else ''} held until Close is connected." if held else \
        "New messages are held until Close is connected."
    if state == "auto_disconnected":
        return _status(state, "danger", f"Disconnected automatically: {connection.disconnect_reason_text}",
                       waiting, *(("Reconnect Close", page) if manager else
                                  ("Ask an owner or admin to reconnect Close", None)))
    return _status(state, "secondary", "Not connected to Close", waiting,
                   *(("Connect Close", page) if manager else ("Ask an owner or admin to connect Close", None)))


def _connected(connection, manager, page):
    headline = f"Connected to {connection.close_org_name or 'Close'}"
    if connection.close_user_email:
        headline += f" as {connection.close_user_email}"
    if connection.unreachable_since:
        return _status("unreachable", "warning", headline,
                       f"Close unreachable since {_fmt(connection.unreachable_since)}, retrying. "
                       f"Last successful validation: {_fmt(connection.last_validated_at)}.",
                       "Open the Close card", page)
    if connection.permission_warning:
        return _status("attention", "warning", headline, connection.permission_warning,
                       "Open the Close card" if manager else "Ask an owner or admin to check", page if manager else None)
    return _status("connected", "success", headline,
                   f"Since {_fmt(connection.connected_at)}; last validated {_fmt(connection.last_validated_at)}.",
                   "Run a test sync" if manager else "See sync status",
                   page if manager else url_for("sync.status"))


def _inactive_reason(workspace):
    return workspace.inactive_reason


def _renewal_action(membership):
    if membership.role == "owner":
        return "Renew the subscription", url_for("account.subscription")
    return "Ask the workspace owner to renew the subscription", None


def _status(state, level, headline, detail, action, action_url):
    # Unreachable and a missing permission are both "needs attention" on the card: same badge here.
    key = "attention" if state in ("unreachable", "attention") else state
    return {"state": state, "level": level, "headline": headline, "detail": detail,
            "action": action, "action_url": action_url, "badge_key": key,
            "badge": vocabulary.badge("close", key)}


def subscription_pause(workspace):
    """Why sync is paused and how many messages wait, for the paused banners (dashboard, Close card)."""
    held = count_held(workspace.id, "subscription")
    owner = workspace.owner
    return {"reason": _inactive_reason(workspace), "held": held,
            "owner_name": owner.name if owner else "the workspace owner", "contact": subscription.support_contact()}
