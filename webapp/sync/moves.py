"""Moving a re-routed chat's activities. Close can't change an activity's lead_id, so each one is
re-created on the new lead (same external id) and the old one deleted. Idempotent and resumable:
a row is only updated after both steps, and a re-run first looks for the copy on the new lead."""
import logging

import sqlalchemy as sa

from webapp.extensions import db
from webapp.integrations.close.client import CloseNotFound, CloseRejected
from webapp.models import Chat, ChatLink, Message
from webapp.sync import close_access, deliver, routing
from webapp.sync.payload import build_payload

log = logging.getLogger(__name__)


def move_chat_activities(chat_id):
    chat = db.session.get(Chat, chat_id)
    if chat is None:
        return 0
    connection = close_access.live_connection(chat.workspace_id)
    if connection is None:
        return 0
    link = db.session.scalar(sa.select(ChatLink).where(ChatLink.chat_id == chat_id,
                                                       ChatLink.close_org_id == connection.close_org_id))
    if link is None or not link.lead_id:
        return 0
    client = close_access.client_for_connection(connection)
    ctx = deliver.Context(connection, client)
    if not link.contact_id:
        link.contact_id = routing.contact_on_lead(client, link.lead_id, chat.remote_phone)
        db.session.commit()
    route = routing.Route(link.lead_id, link.contact_id, link)
    messages = db.session.scalars(sa.select(Message).where(
        Message.chat_id == chat_id, Message.state == "synced", Message.close_org_id == connection.close_org_id,
        Message.close_lead_id != link.lead_id).order_by(Message.id)).all()
    moved = 0
    for message in messages:
        new_id = deliver.find_copy(client, message.external_id, route.lead_id)
        if new_id is None:
            # The files uploaded for the old copy are attached again: nothing is downloaded twice.
            built = build_payload(message, ctx, route, reuse_uploads=True)
            try:
                new_id = _create_copy(ctx, built.payload)["id"]
            except CloseRejected as exc:  # e.g. its Close user has left since the first sync
                new_id = deliver.create_without_refused_fields(ctx, built, exc, create=_create_copy)["id"]
                message.reason = "; ".join(filter(None, [message.reason, *built.notes]))
        ctx.activity_ids[message.external_id] = new_id
        if message.close_activity_id and message.close_activity_id != new_id:
            try:
                client.delete_whatsapp_activity(message.close_activity_id)
            except CloseNotFound:
                pass
        message.close_activity_id, message.close_lead_id = new_id, route.lead_id
        db.session.commit()
        moved += 1
    return moved


def _create_copy(ctx, payload):
    """A moved activity was in Close's Inbox already, if ever: its copy is created without it."""
    return ctx.client.create_whatsapp_activity(payload)
