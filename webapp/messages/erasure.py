"""Erasure: what Closeline forgets, and when. Two roads, both here so no copy is missed.

- Retention (a privacy setting, off by default): N days after a message reached a final state
  (synced, skipped, dead), its text, files and sender go; its ids, state and Close activity id stay,
  so nothing is ever synced twice. A daily rq cron job runs it.
- Forget this customer (owner/admin): every message, chat, chat link, LID mapping and webhook inbox
  row Closeline holds for one phone number is deleted, the sender of group messages they wrote is
  erased, and the number goes on the exclusion list, so anything that arrives later keeps no
  content. What Close already holds stays in Close.
"""
from datetime import timedelta

import sqlalchemy as sa

from webapp.clients.close.lifecycle import record_event
from webapp.core.extensions import db
from webapp.core.phones import InvalidPhone, to_e164_in_regions
from webapp.messages import gate
from webapp.messages.totals import invalidate_totals
from webapp.models import Chat, ChatLink, ExclusionEntry, Gateway, GatewayEvent, LidMapping, Message, PrivacySettings, utcnow

FINAL_STATES = ("synced", "skipped", "dead")
MAX_RETENTION_DAYS = 3650
ERASED = {"text": "", "attachments": [], "sender_name": "", "sender_phone": None, "redactions": {}}


def parse_retention(raw):
    """Days from the form ("" = keep texts), or PrivacyError saying what is accepted."""
    raw = (raw or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_RETENTION_DAYS:
        raise gate.PrivacyError(f"Give the number of days as a whole number from 1 to {MAX_RETENTION_DAYS}, "
                                "or leave the box empty to keep message texts.")
    return int(raw)


def save_retention(workspace_id, days):
    row = gate.settings_row(workspace_id)
    row.retention_days = days
    db.session.commit()
    return row


def oldest_text_goes_at(workspace_id):
    """When the next text is erased under the workspace's retention (None: retention off or nothing to erase)."""
    days = gate.settings_for(workspace_id).retention_days
    if not days:
        return None
    oldest = db.session.scalar(sa.select(sa.func.min(Message.updated_at)).where(
        Message.workspace_id == workspace_id, Message.state.in_(FINAL_STATES), _has_content()))
    return oldest + timedelta(days=days) if oldest else None


def erase_expired(now=None):
    """The daily job: every workspace's messages past its retention lose their content. Returns how many."""
    now = now or utcnow()
    erased = 0
    for workspace_id, days in db.session.execute(sa.select(PrivacySettings.workspace_id, PrivacySettings.retention_days)
                                                 .where(PrivacySettings.retention_days.is_not(None))).all():
        erased += db.session.execute(sa.update(Message).where(
            Message.workspace_id == workspace_id, Message.state.in_(FINAL_STATES),
            Message.updated_at < now - timedelta(days=days), _has_content()).values(**ERASED)).rowcount
        db.session.commit()
    return erased


def _has_content():
    return sa.or_(Message.text != "", Message.sender_name != "", Message.sender_phone.is_not(None),
                  sa.cast(Message.attachments, sa.Text).not_in(("[]", "null")))


def forget_customer(workspace_id, raw_phone, regions=(), actor=None):
    """Erase everything held for one customer's phone number; returns {what: how many}."""
    try:
        phone = to_e164_in_regions((raw_phone or "").strip(), regions)
    except InvalidPhone as exc:
        raise gate.PrivacyError(str(exc)) from None
    digits = phone.lstrip("+")
    chat_ids = db.session.scalars(sa.select(Chat.id).where(Chat.workspace_id == workspace_id,
                                                          Chat.remote_phone == phone)).all()
    counts = {
        "messages": _delete(Message, Message.workspace_id == workspace_id, Message.chat_id.in_(chat_ids)),
        "group messages": db.session.execute(sa.update(Message).where(
            Message.workspace_id == workspace_id, Message.sender_phone == phone).values(**ERASED)).rowcount,
        "chat links": _delete(ChatLink, ChatLink.workspace_id == workspace_id, ChatLink.chat_id.in_(chat_ids)),
        "chats": _delete(Chat, Chat.id.in_(chat_ids)),
        "webhook events": _delete(GatewayEvent, GatewayEvent.workspace_id == workspace_id,
                                  sa.cast(GatewayEvent.payload, sa.Text).like(f"%{digits}%")),
        "phone lookups": _delete(LidMapping, LidMapping.gateway_id.in_(
            sa.select(Gateway.id).where(Gateway.workspace_id == workspace_id)), LidMapping.phone_jid.like(f"{digits}@%")),
    }
    if db.session.scalar(sa.select(ExclusionEntry.id).where(ExclusionEntry.workspace_id == workspace_id,
                                                            ExclusionEntry.kind == "phone",
                                                            ExclusionEntry.value == phone)) is None:
        db.session.add(ExclusionEntry(workspace_id=workspace_id, kind="phone", value=phone,
                                      created_by_id=actor.id if actor else None))
    record_event(db.session, workspace_id, "customer_forgotten",
                 f"A customer's data was erased on request ({counts['messages']} messages, {counts['chats']} chats); "
                 "the number is on the exclusion list. Close keeps what it already holds.",
                 actor_id=actor.id if actor else None)
    db.session.commit()
    invalidate_totals(workspace_id)
    return counts


def _delete(model, *conditions):
    return db.session.execute(sa.delete(model).where(*conditions)).rowcount
