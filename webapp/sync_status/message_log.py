"""Read-only queries of the sync status page: the message log, numbers, the review queue."""
import sqlalchemy as sa

from webapp.core.extensions import db
from webapp.messages import search
from webapp.messages.states import STATES
from webapp.models import Chat, ChatLink, Message, WhatsAppNumber


def review_queue(workspace_id):
    return db.session.scalars(sa.select(ChatLink).where(ChatLink.workspace_id == workspace_id,
                                                        ChatLink.needs_review.is_(True))
                              .order_by(ChatLink.id)).all()


def numbers_overview(workspace_id, number_ids=None):
    query = sa.select(WhatsAppNumber).where(WhatsAppNumber.workspace_id == workspace_id)
    if number_ids is not None:
        query = query.where(WhatsAppNumber.id.in_(number_ids))
    return db.session.scalars(query.order_by(WhatsAppNumber.e164)).all()


PAGE_SIZE = 50


def log_page(workspace_id, state=None, number_id=None, chat_id=None, q=None, before=None, limit=PAGE_SIZE,
             number_ids=None):
    """One page of the message log, newest first, by keyset (id < before): no OFFSET scans.
    `number_ids`: only these numbers' messages (what a member may read), None for all."""
    query = sa.select(Message).where(Message.workspace_id == workspace_id)
    if number_ids is not None:
        query = query.where(Message.whatsapp_number_id.in_(number_ids))
    if state in STATES:
        query = query.where(Message.state == state)
    if number_id:
        query = query.where(Message.whatsapp_number_id == number_id)
    if chat_id:
        query = query.where(Message.chat_id == chat_id)
    if before:
        query = query.where(Message.id < before)
    if q:
        query = query.where(Message.id.in_(search.matching_ids(query, workspace_id, q, limit + 1)))
    rows = db.session.scalars(query.order_by(Message.id.desc()).limit(limit + 1)
                              .options(sa.orm.joinedload(Message.chat))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def lead_names(workspace_id, lead_ids):
    """{lead id: cached name} for the log's lead links (names cached on the chat links)."""
    ids = {i for i in lead_ids if i}
    if not ids:
        return {}
    rows = db.session.execute(sa.select(ChatLink.lead_id, ChatLink.lead_name).where(
        ChatLink.workspace_id == workspace_id, ChatLink.lead_id.in_(ids), ChatLink.lead_name != ""))
    return {lead_id: name for lead_id, name in rows}


def chat_view(workspace_id, chat_id, number_ids=None, close_org_id=None):
    """The heading of the log filtered to one chat: who the customer is, on which number, and the
    Close lead it goes to (the live organization's link, else the newest one). None when the chat
    is not this workspace's or not this person's to read."""
    chat = db.session.get(Chat, chat_id) if chat_id else None
    if chat is None or chat.workspace_id != workspace_id:
        return None
    if number_ids is not None and chat.whatsapp_number_id not in number_ids:
        return None
    links = sa.select(ChatLink).where(ChatLink.chat_id == chat.id, ChatLink.lead_id.is_not(None))
    link = db.session.scalar(links.where(ChatLink.close_org_id == close_org_id)) if close_org_id else None
    link = link or db.session.scalar(links.order_by(ChatLink.updated_at.desc()).limit(1))
    number = chat.number
    return {"chat": chat, "name": chat.display_name or chat.remote_phone or chat.external_id,
            "phone": chat.remote_phone, "number": number,
            "member": number.membership.user.name if number.membership else None,
            "lead_id": link.lead_id if link else None, "lead_name": (link.lead_name if link else "") or None}
