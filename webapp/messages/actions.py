"""Owner/admin actions on the outbox: holds and releases, retries, re-routing, the review queue.

Each action commits its own work, refreshes the status-page totals and kicks the drain.
"""
import logging

import sqlalchemy as sa

from webapp.clients.close.client import CloseError, CloseNotFound, CloseTransient, is_lead_id
from webapp.core.extensions import db
from webapp.messages import close_access, moves, scheduler
from webapp.messages.states import HOLD_DISCONNECTED, HOLD_HIDDEN_NUMBER, HOLD_SUBSCRIPTION
from webapp.messages.totals import invalidate_totals
from webapp.models import Chat, ChatLink, Message, Workspace, utcnow

log = logging.getLogger(__name__)

HOLD_REASONS = {"subscription": HOLD_SUBSCRIPTION, "disconnected": HOLD_DISCONNECTED,
                HOLD_SUBSCRIPTION: HOLD_SUBSCRIPTION, HOLD_DISCONNECTED: HOLD_DISCONNECTED}


def _requeued(workspace_id, count):
    """After rows went back to `queued`: fresh totals and a drain."""
    if count:
        invalidate_totals(workspace_id)
        scheduler.kick(workspace_id)
    return count


def _hold_reason(reason):
    if reason not in HOLD_REASONS:
        raise ValueError(f"unknown hold reason {reason!r}; use 'subscription' or 'disconnected'")
    return HOLD_REASONS[reason]


def count_held(workspace_id, reason=None):
    query = sa.select(sa.func.count()).select_from(Message).where(
        Message.workspace_id == workspace_id, Message.state == "held")
    if reason:
        query = query.where(Message.reason == _hold_reason(reason))
    return db.session.scalar(query)


def count_waiting(workspace_id):
    """Messages waiting for Close: queued, or failed and due to be retried."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
        Message.workspace_id == workspace_id, Message.state.in_(("queued", "failed"))))


def release_held(workspace_id, reason=None):
    """Held → queued (kept in id order, so they sync in order) and a drain is kicked. Returns count."""
    query = sa.update(Message).where(Message.workspace_id == workspace_id, Message.state == "held")
    if reason:
        query = query.where(Message.reason == _hold_reason(reason))
    now = utcnow()
    count = db.session.execute(query.values(state="queued", reason="", queued_at=now, updated_at=now,
                                            next_attempt_at=None, lease_until=None)).rowcount
    db.session.commit()
    return _requeued(workspace_id, count)


def release_on_renewal(workspace):
    """Subscription renewed: with catch-up on, held(subscription) messages go out in order."""
    if workspace is None or not workspace.subscription_active:
        return False
    connection = close_access.live_connection(workspace.id)
    if connection is None or not connection.catch_up_held:
        return False
    return release_held(workspace.id, "subscription") > 0


def on_subscription_changed(workspace, old_status=None, **_):
    """The one reaction to a subscription change: on renewal with catch-up on, held messages go out."""
    try:
        release_on_renewal(workspace)
    except Exception:  # a signal receiver must not break the subscription change itself
        log.exception("catch-up after renewal failed for workspace %s", workspace.id)


def why_still_held(message):
    """Why retrying this held message would change nothing (it would be held again), or None."""
    if message.state != "held":
        return None
    if message.reason == HOLD_HIDDEN_NUMBER:
        return ("This message waits for the customer's number, which WhatsApp hides in this chat; Retry can't "
                "send it. It syncs by itself as soon as the gateway knows the number.")
    workspace = db.session.get(Workspace, message.workspace_id)
    if not workspace.subscription_active:
        return ("This message is held because the subscription is inactive; Retry can't send it. "
                "It goes to Close once the subscription is renewed.")
    if close_access.live_connection(message.workspace_id) is None:
        return ("This message is held because Close is not connected; Retry can't send it. "
                "Connect Close on the Close CRM page, then sync the held messages there.")
    return None


# -- retries and re-routing ---------------------------------------------------------------------------

def retry_messages(workspace_id, message_ids=None, states=("failed", "dead", "held")):
    """Back to `queued`. attempts is kept ≥ 1 so the next try looks Close up before creating."""
    query = sa.update(Message).where(Message.workspace_id == workspace_id, Message.state.in_(states))
    if message_ids is not None:
        query = query.where(Message.id.in_(message_ids))
    now = utcnow()
    count = db.session.execute(query.values(
        state="queued", reason="", next_attempt_at=None, lease_until=None, queued_at=now, updated_at=now,
        attempts=sa.case((Message.attempts > 1, 1), else_=Message.attempts))).rowcount
    db.session.commit()
    return _requeued(workspace_id, count)


class RerouteError(ValueError):
    pass


def lead_in_close(connection, lead_id):
    """The lead as Close shows it to the connection; RerouteError when it doesn't exist there (or
    Close can't say right now), so a chat is never pointed at a lead its messages can't reach."""
    org = connection.close_org_name or "the connected Close organization"
    try:
        return close_access.client_for_connection(connection).get_lead(lead_id)
    except CloseNotFound:
        raise RerouteError(f"There is no lead {lead_id} in {org} (or the connected Close user can't see it). "
                           "Nothing was changed; pick a lead from the search.")
    except CloseTransient:
        raise RerouteError("Close could not be reached to check the lead. Nothing was changed; try again in a minute.")
    except (CloseError, close_access.NoCredentials) as exc:
        raise RerouteError(f"Close did not confirm the lead ({getattr(exc, 'message', exc)}). Nothing was changed.")


def lead_label(lead):
    return (lead.get("display_name") or lead.get("name") or lead.get("id") or "")[:200]


def search_leads(workspace_id, query):
    """Leads of the connected organization matching `query` (the re-route picker): [(id, name)]."""
    connection = close_access.live_connection(workspace_id)
    query = (query or "").strip()[:100]
    if connection is None or len(query) < 2:
        return []
    leads = close_access.client_for_connection(connection).search_leads(query)
    return [(lead["id"], lead_label(lead)) for lead in leads if lead.get("id")]


def reroute_chat(workspace_id, chat_id, lead_id, contact_id=None, move_existing=False):
    """Point a chat at another lead (checked in Close first): its next messages go there; with
    move_existing, a job re-creates its synced activities on the new lead and deletes the old ones."""
    lead_id = (lead_id or "").strip()
    if not lead_id:
        raise RerouteError("Pick a lead: search Close leads by name, or paste a lead id (lead_…).")
    if not is_lead_id(lead_id):
        raise RerouteError("Enter a Close lead id (it starts with lead_), or pick a lead from the search.")
    chat = db.session.get(Chat, chat_id)
    if chat is None or chat.workspace_id != workspace_id:
        raise RerouteError("No such chat.")
    connection = close_access.live_connection(workspace_id)
    if connection is None:
        raise RerouteError("Connect Close first.")
    lead = lead_in_close(connection, lead_id)
    link = db.session.scalar(sa.select(ChatLink).where(ChatLink.chat_id == chat.id,
                                                       ChatLink.close_org_id == connection.close_org_id))
    if link is None:
        link = ChatLink(workspace_id=workspace_id, chat_id=chat.id, close_org_id=connection.close_org_id)
        db.session.add(link)
    if contact_id is None:
        contact_id = next((c.get("contact_id") for c in link.candidates or [] if c.get("lead_id") == lead_id),
                          None)
    link.lead_id, link.contact_id, link.lead_name = lead_id, contact_id, lead_label(lead)
    link.source, link.needs_review, link.review_note = "manual", False, ""
    # Messages skipped for lack of a lead can go now.
    requeued = db.session.execute(sa.update(Message).where(
        Message.chat_id == chat.id, Message.state == "skipped", chat.kind == "direct")
        .values(state="queued", reason="", queued_at=utcnow(), lease_until=None)).rowcount
    db.session.commit()
    _requeued(workspace_id, requeued)
    if move_existing:
        moves.enqueue_move(chat.id)
    return link


def resolve_review(workspace_id, chat_id):
    """Keep the picked lead; the chat leaves the review queue."""
    link = db.session.scalar(sa.select(ChatLink).where(ChatLink.chat_id == chat_id,
                                                       ChatLink.workspace_id == workspace_id,
                                                       ChatLink.needs_review.is_(True)))
    if link is None:
        return False
    link.needs_review = False
    db.session.commit()
    return True
