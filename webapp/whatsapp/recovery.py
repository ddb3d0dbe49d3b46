"""Gap recovery: fetch what a linked number received or sent while Closeline missed its webhooks.

For each chat the gateway reports activity in since the number's newest stored message, ask for
the messages from that chat's newest stored one on (a small overlap, so nothing at the boundary
is missed) and store them through the same path as webhooks; the outbox ignores ids it already
has. Runs when a number becomes linked again and on a schedule.
"""
import logging
from datetime import timedelta

import sqlalchemy as sa

from webapp.clients.gateways.base import GatewayError
from webapp.core import metrics, row_jobs
from webapp.core.extensions import db
from webapp.models import Chat, Message, NumberLink, utcnow
from webapp.whatsapp import ingest_bridge, messages
from webapp.whatsapp.gateways_service import client_for

log = logging.getLogger(__name__)

OVERLAP = timedelta(minutes=2)
FIRST_LINK_WINDOW = timedelta(hours=1)   # a fresh link looks back this far, no further
SUBMIT_CHUNK = 200


def _newest(number_id, chat_external_id=None):
    query = sa.select(sa.func.max(Message.sent_at)).where(Message.whatsapp_number_id == number_id)
    if chat_external_id is not None:
        query = query.join(Chat, Chat.id == Message.chat_id).where(Chat.external_id == chat_external_id)
    return db.session.scalar(query)


def recover(link_id):
    """Returns {"stored", "duplicates", "held", "chats"} or {"skipped": reason}."""
    link = db.session.get(NumberLink, link_id)
    if link is None or link.state != "linked" or link.number is None:
        return {"skipped": "not linked"}
    client = client_for(link.gateway)
    me = {"id": link.me_id, "lid": link.me_lid}
    # Never before the number was first linked here (minus a window): older history is not ours to
    # import, even when the number carried messages from another source.
    floor = (link.linked_at or utcnow()) - FIRST_LINK_WINDOW
    newest = max(_newest(link.whatsapp_number_id) or floor, floor)
    since = min(newest, utcnow()) - OVERLAP
    totals = {"stored": 0, "duplicates": 0, "held": 0, "chats": 0}
    try:
        chats = client.active_chats(link.session_name, since.timestamp())
        for chat_jid in chats:
            _recover_chat(link, client, me, chat_jid, since, totals)
    except GatewayError as exc:
        link.last_recovery_error = f"Recovery stopped: {exc.message}"
        link.last_recovery_at = utcnow()
        db.session.commit()
        return {**totals, "error": exc.message}
    link = db.session.get(NumberLink, link_id)
    link.recovered_count += totals["stored"]
    metrics.count("gap_messages_found", totals["stored"] + totals["held"])
    metrics.count("gap_messages_filled", totals["stored"])
    link.last_recovery_at, link.last_recovery_error = utcnow(), None
    db.session.commit()
    if totals["stored"]:
        log.info("link %s: %d WhatsApp messages recovered", link_id, totals["stored"])
    return totals


def _recover_chat(link, client, me, chat_jid, since, totals):
    try:
        phone_jid = messages.resolve_chat(link, client, chat_jid)
    except messages.Hold:
        totals["held"] += 1  # the webhook path holds and retries these; nothing to key them by here
        return
    chat_newest = _newest(link.whatsapp_number_id, phone_jid)
    chat_since = max(since, chat_newest - OVERLAP) if chat_newest else since
    found = client.messages_since(link.session_name, chat_jid, chat_since.timestamp(), me)
    totals["chats"] += 1
    candidates = {messages.canonical_id(m.from_me, phone_jid, m.short_id): m for m in found}
    known = set(db.session.scalars(sa.select(Message.external_id).where(
        Message.workspace_id == link.workspace_id, Message.external_id.in_(list(candidates)))))
    totals["duplicates"] += len(known)
    items = []
    for external_id, message in candidates.items():
        if external_id in known:
            continue  # already stored: no media download, no second row
        try:
            item = messages.to_item(link, client, message)
        except messages.Hold:
            totals["held"] += 1
            continue
        if item is not None:
            items.append(item)
    for start in range(0, len(items), SUBMIT_CHUNK):
        counts = ingest_bridge.submit(link.workspace_id, link.whatsapp_number_id, items[start:start + SUBMIT_CHUNK],
                                      link.gateway.kind)
        totals["stored"] += counts["stored"]
        totals["duplicates"] += counts["duplicates"]


def recover_all():
    """Every linked number, each on its own: one that fails is marked, the others still recover."""
    ids = db.session.scalars(sa.select(NumberLink.id).where(NumberLink.state == "linked")).all()
    results = {}
    row_jobs.for_each(ids, lambda link_id: results.__setitem__(link_id, recover(link_id)),
                      "gap recovery of link", _mark_failed)
    return results


def _mark_failed(link_id, exc):
    link = db.session.get(NumberLink, link_id)
    if link is not None:
        link.last_recovery_error, link.last_recovery_at = row_jobs.reason(exc), utcnow()
