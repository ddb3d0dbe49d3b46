"""Routing: which Close lead (and contact) a chat's messages go to. PRODUCT.md §3, in order:

1. the chat's sticky link (ChatLink, unique per (chat, Close org)) → that lead;
2. Close contacts having the chat's phone (E.164; Close matches other stored formats, and we
   re-check each returned phone ourselves) → one lead: link it. Several leads: RULE below, and
   the link is flagged `needs_review` (the review queue on the sync status page);
3. none, auto-create on → create one lead with a contact carrying the phone. Exactly one lead per
   chat even when many messages of a new chat are processed at once: the worker first *inserts*
   the link row (lead_id NULL) and only the one whose insert commits calls Close; the others
   wait for it (Deferred). Close's search index lags (close-api.md §4.4), so an unfinished claim
   means "a create may have reached Close": the others search, and while nothing is found they
   wait up to SYNC_INDEX_GRACE from the claim before taking it over and creating again. A worker
   killed right after Close created the lead therefore leaves a claim that the next worker
   resolves by finding that lead once indexed, not by creating a second one;
4. else skip with the reason.

RULE for several leads: the lead of the earliest-created matching contact; ties → smallest
lead id. (Deterministic, needs no extra Close call, and the oldest record is usually the real one.)

Routing never holds a write transaction while calling Close (SQLite has one writer).
"""
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from webapp.clients.close.client import CloseError, CloseTransient
from webapp.core.extensions import db
from webapp.core.phones import InvalidPhone, region_of, to_e164
from webapp.messages import gate as privacy
from webapp.messages.states import SKIP_GROUP
from webapp.models import ChatLink, utcnow


def index_grace():
    return timedelta(seconds=current_app.config["SYNC_INDEX_GRACE"])


@dataclass
class Route:
    lead_id: str
    contact_id: str
    link: ChatLink | None   # None: a pinned group chat


@dataclass
class Skip:
    reason: str


class Deferred(Exception):
    """Another worker is creating this chat's lead right now; try again shortly."""


def find_link(chat_id, org_id):
    return db.session.scalar(sa.select(ChatLink).where(ChatLink.chat_id == chat_id,
                                                       ChatLink.close_org_id == org_id))


def route(message, connection, client):
    chat = message.chat
    if chat.excluded_at is not None:  # excluded after this message was stored
        return Skip(privacy.EXCLUDED_CHAT)
    if chat.kind == "group":  # opt-in: only while pinned (no ChatLink, no search)
        if not chat.pinned_lead_id:
            return Skip(SKIP_GROUP)
        return Route(chat.pinned_lead_id, chat.pinned_contact_id, None)
    if not chat.remote_phone:
        return Skip("The chat has no phone number to match in Close.")
    org_id = connection.close_org_id
    link = find_link(chat.id, org_id)
    if link is not None and link.lead_id:
        if not link.contact_id:  # re-routed by hand to a lead: pick its contact once
            link.contact_id = contact_on_lead(client, link.lead_id, chat.remote_phone, link)
            if link.contact_id is None:
                db.session.rollback()
                return Skip(f"Lead {link.lead_id} has no contact to attach the message to.")
            db.session.commit()
        return Route(link.lead_id, link.contact_id, link)
    matches = search(client, chat.remote_phone, region_of(message.number.e164))
    if matches:
        return _link_found(chat, org_id, matches, link, client)
    if privacy.allow_list_only(chat.workspace_id):
        return Skip(f"Allow-list mode: no Close contact has {chat.remote_phone}, so this chat is not synced "
                    f"(only chats already in Close are).")
    if link is not None and link.updated_at and utcnow() - link.updated_at < index_grace():
        raise Deferred()  # a create is in flight, or done and not indexed yet: don't double it
    if not connection.auto_create_lead:
        return Skip(f"No Close contact has {chat.remote_phone} and auto-create is off.")
    return _create(chat, connection, client, link)


def search(client, e164, region):
    """Contacts with this phone, re-checked client-side (Close's tokenization is undocumented)."""
    found = []
    for contact in client.search_contacts_by_phone(e164):
        phones = [p.get("phone") for p in contact.get("phones") or []]
        if any(_same_phone(p, e164, region) for p in phones):
            found.append(contact)
    return found


def _same_phone(raw, e164, region):
    try:
        return to_e164(raw, region) == e164
    except InvalidPhone:
        return False


def pick(matches):
    """RULE (module doc): earliest-created contact's lead; ties by lead id."""
    return min(matches, key=lambda c: (c.get("date_created") or "", c.get("lead_id") or ""))


def lead_names(client, lead_ids):
    """{lead id: name} read from Close; a lead Close won't show keeps no name (best effort)."""
    names = {}
    for lead_id in lead_ids:
        try:
            lead = client.get_lead(lead_id)
        except CloseError:
            continue
        names[lead_id] = (lead.get("display_name") or lead.get("name") or "")[:200]
    return names


def _link_found(chat, org_id, matches, link, client):
    leads = {}
    for contact in sorted(matches, key=lambda c: (c.get("date_created") or "", c.get("lead_id") or "")):
        leads.setdefault(contact["lead_id"], contact)
    chosen = pick(matches)
    ambiguous = len(leads) > 1
    # Names are read once, when the lead is resolved: the log and review queue show them, not ids.
    names = lead_names(client, leads)
    values = dict(lead_id=chosen["lead_id"], contact_id=chosen["id"],
                  source="ambiguous" if ambiguous else "found", needs_review=ambiguous,
                  review_note=(f"{len(leads)} Close leads have {chat.remote_phone}; picked the lead of "
                               f"the oldest matching contact." if ambiguous else ""),
                  lead_name=names.get(chosen["lead_id"], ""),
                  candidates=[{"lead_id": lid, "contact_id": c["id"], "name": c.get("name") or "",
                               "lead_name": names.get(lid, ""),
                               "date_created": c.get("date_created")} for lid, c in leads.items()]
                  if ambiguous else [])
    link = _save_link(chat, org_id, link, values)
    return Route(link.lead_id, link.contact_id, link)


def _save_link(chat, org_id, link, values):
    """Insert the link, or complete an unfinished claim. A concurrent winner's link is returned."""
    if link is None:
        try:
            link = ChatLink(workspace_id=chat.workspace_id, chat_id=chat.id, close_org_id=org_id, **values)
            db.session.add(link)
            db.session.commit()
            return link
        except IntegrityError:
            db.session.rollback()
            link = find_link(chat.id, org_id)
            if link.lead_id:
                return link
    for key, value in values.items():
        setattr(link, key, value)
    db.session.commit()
    return link


def _create(chat, connection, client, link):
    org_id = connection.close_org_id
    if not _claim(chat, org_id, link):
        raise Deferred()
    name = chat.display_name or chat.remote_phone
    try:
        lead = client.create_lead(name=name, contact_name=name, phone=chat.remote_phone,
                                  status_id=connection.new_lead_status_id or None)
    except CloseError as exc:
        if not (isinstance(exc, CloseTransient) and exc.ambiguous):
            _release_claim(chat.id, org_id)  # Close created nothing: the next try may create
        raise  # otherwise the claim stays: the lead may exist and will show once indexed
    contact = (lead.get("contacts") or [{}])[0]
    link = find_link(chat.id, org_id)
    values = dict(lead_id=lead["id"], contact_id=contact.get("id"), source="created",
                  lead_name=(lead.get("display_name") or lead.get("name") or name or "")[:200],
                  needs_review=False, review_note="", candidates=[])
    for key, value in values.items():
        setattr(link, key, value)
    db.session.commit()
    return Route(link.lead_id, link.contact_id, link)


def _claim(chat, org_id, link):
    """Insert-first claim (or take over one older than the index grace). True when this worker may
    create the lead. The claim row is committed before Close is called."""
    if link is None:
        try:
            db.session.add(ChatLink(workspace_id=chat.workspace_id, chat_id=chat.id, close_org_id=org_id,
                                    lead_id=None, source="creating"))
            db.session.commit()
            return True
        except IntegrityError:
            db.session.rollback()
            return False
    # An old claim whose lead never showed in search: take it over atomically (one updater wins).
    taken = db.session.execute(
        sa.update(ChatLink).where(ChatLink.id == link.id, ChatLink.lead_id.is_(None),
                                  ChatLink.updated_at == link.updated_at)
        .values(updated_at=utcnow())).rowcount
    db.session.commit()
    return taken == 1


def _release_claim(chat_id, org_id):
    db.session.rollback()
    db.session.execute(sa.delete(ChatLink).where(ChatLink.chat_id == chat_id, ChatLink.close_org_id == org_id,
                                                 ChatLink.lead_id.is_(None)))
    db.session.commit()


def contact_on_lead(client, lead_id, e164, link=None):
    lead = client.get_lead(lead_id)
    if link is not None:  # the lead was read anyway: cache its name
        link.lead_name = (lead.get("display_name") or lead.get("name") or link.lead_name or "")[:200]
    contacts = lead.get("contacts") or []
    region = region_of(e164)
    for contact in contacts:
        if any(_same_phone(p.get("phone"), e164, region) for p in contact.get("phones") or []):
            return contact["id"]
    return contacts[0]["id"] if contacts else None
