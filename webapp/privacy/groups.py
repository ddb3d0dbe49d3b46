"""Opt-in group chats: a group syncs only while an owner/admin has pinned it to a lead.

Pinning checks the lead in Close and keeps one of its contacts (Close needs a contact on every
WhatsApp activity). Unpinning stops new messages; nothing already synced changes, and messages
still waiting are skipped by routing with the group reason.
"""
import sqlalchemy as sa

from webapp.clients.close.client import CloseError, CloseNotFound, is_lead_id
from webapp.core.extensions import db
from webapp.messages import actions, close_access
from webapp.models import Chat


class GroupError(ValueError):
    """Shown to the user as is."""


def _client(workspace_id):
    connection = close_access.live_connection(workspace_id)
    if connection is None:
        raise GroupError("Close is not connected: connect it first, then pin the group.")
    try:
        return close_access.client_for_connection(connection)
    except close_access.NoCredentials as exc:
        raise GroupError(str(exc)) from exc


def search_leads(workspace_id, text):
    """[(id, name)] of Close leads matching `text` (the group lead picker; same search as re-route)."""
    try:
        return actions.search_leads(workspace_id, text)
    except CloseError as exc:
        raise GroupError(f"Close could not search leads right now ({exc.message}). Try again.") from exc


def pin(chat, lead_id):
    """Pin a group chat to a Close lead; its next messages sync there. Raises GroupError."""
    if chat.kind != "group":
        raise GroupError("Only group chats are pinned; direct chats find their lead by phone.")
    lead_id = (lead_id or "").strip()
    if not lead_id:
        raise GroupError("Pick a lead first.")
    if not is_lead_id(lead_id):
        raise GroupError("Enter a Close lead id (lead_ and letters or digits), or pick a lead from the search.")
    try:
        lead = _client(chat.workspace_id).get_lead(lead_id)
    except CloseNotFound:
        raise GroupError(f"Close has no lead {lead_id} (or this connection can't see it).") from None
    except CloseError as exc:
        raise GroupError(f"Close could not be asked about the lead ({exc.message}). Try again.") from exc
    contacts = lead.get("contacts") or []
    if not contacts:
        raise GroupError(f"Lead {lead.get('display_name') or lead_id} has no contact; add one in Close first.")
    chat.pinned_lead_id, chat.pinned_contact_id = lead["id"], contacts[0]["id"]
    chat.pinned_lead_name = (lead.get("display_name") or lead.get("name") or "")[:200]
    db.session.commit()
    return chat


def unpin(chat):
    chat.pinned_lead_id = chat.pinned_contact_id = None
    chat.pinned_lead_name = ""
    db.session.commit()


def group_chats(workspace_id):
    return db.session.scalars(sa.select(Chat).where(Chat.workspace_id == workspace_id, Chat.kind == "group")
                              .order_by(Chat.display_name, Chat.id)).all()
