"""Sync rules that are not delivery itself: scheduling drains, holds and releases, retries,
re-routing and the review queue, and the numbers shown on the sync status page.

Scheduling: one drain job per workspace at a time. `kick()` sets a Redis flag with NX and only
the caller that set it enqueues the job; the running drain refreshes the flag (heartbeat) and
deletes it when the outbox is empty, then looks once more, so a message committed meanwhile is
never stranded. A drain killed with its worker leaves the flag to expire; the sweeper (rq cron,
every SWEEP_INTERVAL) kicks every workspace that still has due rows. Redis holds no state a
message depends on: losing it delays sync, never loses a message.
"""
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from webapp.extensions import db
from webapp.models import Chat, ChatLink, Message, WhatsAppNumber, Workspace, utcnow
from webapp.sync import close_access, search
from webapp.sync.ingest import HOLD_DISCONNECTED, HOLD_SUBSCRIPTION
from webapp.sync.settings import setting

log = logging.getLogger(__name__)

STATES = ("received", "queued", "synced", "skipped", "held", "failed", "dead")
HOLD_REASONS = {"subscription": HOLD_SUBSCRIPTION, "disconnected": HOLD_DISCONNECTED,
                HOLD_SUBSCRIPTION: HOLD_SUBSCRIPTION, HOLD_DISCONNECTED: HOLD_DISCONNECTED}
DRAIN_JOB = "jobs.sync.drain"


def _redis():
    from webapp.redis_conn import get_redis
    return get_redis()


def _flag(workspace_id):
    return f"closeline:sync:drain:{workspace_id}"


# -- scheduling --------------------------------------------------------------------------------------

def kick(workspace_id):
    """Make sure a drain for this workspace is queued or running. Never raises (sweeper backs up)."""
    try:
        if _redis().set(_flag(workspace_id), "1", nx=True, ex=int(setting("SYNC_FLAG_TTL"))):
            enqueue_drain(workspace_id)
            return True
    except Exception:
        log.exception("could not schedule a sync drain for workspace %s", workspace_id)
    return False


def enqueue_drain(workspace_id):
    from webapp.redis_conn import get_queue
    get_queue().enqueue(DRAIN_JOB, workspace_id, job_timeout=int(setting("SYNC_DRAIN_BUDGET")) + 300,
                        result_ttl=60, failure_ttl=24 * 3600,
                        description=f"sync drain workspace {workspace_id}")


def heartbeat(workspace_id):
    _redis().expire(_flag(workspace_id), int(setting("SYNC_FLAG_TTL")))


def release_flag(workspace_id):
    _delete_quietly(_flag(workspace_id), "drain flag", workspace_id)


def _delete_quietly(key, what, workspace_id):
    # Redis only holds derived state here: losing a delete must never fail the caller.
    try:
        _redis().delete(key)
    except Exception:
        log.exception("could not drop the %s of workspace %s", what, workspace_id)


def finish_drain(workspace_id):
    """The drain found nothing more: drop the flag, then look once more (see module doc)."""
    _redis().delete(_flag(workspace_id))
    if has_due(workspace_id):
        kick(workspace_id)
    schedule_retry(workspace_id)


def has_due(workspace_id):
    now = utcnow()
    free = sa.or_(Message.lease_until.is_(None), Message.lease_until < now)
    due = sa.or_(Message.state == "queued",
                 sa.and_(Message.state == "failed", Message.next_attempt_at <= now))
    return db.session.scalar(sa.select(Message.id).where(Message.workspace_id == workspace_id, due, free)
                             .limit(1)) is not None


def schedule_retry(workspace_id):
    """Wake a drain when the earliest failed row is due (RQ scheduler); the sweeper backs it up."""
    failed = db.session.scalar(sa.select(sa.func.min(Message.next_attempt_at)).where(
        Message.workspace_id == workspace_id, Message.state == "failed"))
    # Rows left queued under a short lease (waiting for another worker's new lead).
    leased = db.session.scalar(sa.select(sa.func.min(Message.lease_until)).where(
        Message.workspace_id == workspace_id, Message.state == "queued", Message.lease_until > utcnow()))
    candidates = [t for t in (failed, leased) if t is not None]
    if not candidates:
        return
    when = min(candidates)
    delay = max(0.5, (when - utcnow()).total_seconds() + 0.05)
    key = f"closeline:sync:retry-scheduled:{workspace_id}"
    if _redis().set(key, "1", nx=True, px=int(delay * 1000)):
        from webapp.redis_conn import get_queue
        get_queue().enqueue_in(timedelta(seconds=delay), "jobs.sync.kick", workspace_id, result_ttl=60)


def sweep():
    """Re-kick workspaces with rows stuck in `queued` or due `failed`; release subscription holds
    of renewed workspaces (catch-up on). Returns the workspace ids kicked."""
    now = utcnow()
    free = sa.or_(Message.lease_until.is_(None), Message.lease_until < now)
    stuck = sa.select(Message.workspace_id).where(Message.state == "queued", free)
    due = sa.select(Message.workspace_id).where(Message.state == "failed", Message.next_attempt_at <= now, free)
    workspace_ids = set(db.session.scalars(stuck.distinct())) | set(db.session.scalars(due.distinct()))
    held = db.session.scalars(sa.select(Message.workspace_id).where(
        Message.state == "held", Message.reason == HOLD_SUBSCRIPTION).distinct()).all()
    for workspace_id in held:
        if release_on_renewal(db.session.get(Workspace, workspace_id)):
            workspace_ids.add(workspace_id)
    db.session.rollback()
    for workspace_id in sorted(workspace_ids):
        kick(workspace_id)
    return sorted(workspace_ids)


# -- holds -------------------------------------------------------------------------------------------

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


def release_held(workspace_id, reason=None):
    """Held → queued (kept in id order, so they sync in order) and a drain is kicked. Returns count."""
    query = sa.update(Message).where(Message.workspace_id == workspace_id, Message.state == "held")
    if reason:
        query = query.where(Message.reason == _hold_reason(reason))
    now = utcnow()
    count = db.session.execute(query.values(state="queued", reason="", queued_at=now, updated_at=now,
                                            next_attempt_at=None, lease_until=None)).rowcount
    db.session.commit()
    if count:
        invalidate_totals(workspace_id)
        kick(workspace_id)
    return count


def release_on_renewal(workspace):
    """Subscription renewed: with catch-up on, held(subscription) messages go out in order."""
    if workspace is None or not workspace.subscription_active:
        return False
    connection = close_access.live_connection(workspace.id)
    if connection is None or not connection.catch_up_held:
        return False
    return release_held(workspace.id, "subscription") > 0


def on_subscription_changed(workspace, old_status=None, **_):
    try:
        release_on_renewal(workspace)
    except Exception:  # a signal receiver must not break the subscription change itself
        log.exception("catch-up after renewal failed for workspace %s", workspace.id)


# -- admin actions ------------------------------------------------------------------------------------

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
    if count:
        invalidate_totals(workspace_id)
        kick(workspace_id)
    return count


class RerouteError(ValueError):
    pass


def reroute_chat(workspace_id, chat_id, lead_id, contact_id=None, move_existing=False):
    """Point a chat at another lead: its next messages go there; with move_existing, a job
    re-creates its synced activities on the new lead and deletes the old ones."""
    lead_id = (lead_id or "").strip()
    if not lead_id.startswith("lead_") or len(lead_id) > 64:
        raise RerouteError("Enter a Close lead id (it starts with lead_).")
    chat = db.session.get(Chat, chat_id)
    if chat is None or chat.workspace_id != workspace_id:
        raise RerouteError("No such chat.")
    connection = close_access.live_connection(workspace_id)
    if connection is None:
        raise RerouteError("Connect Close first.")
    link = db.session.scalar(sa.select(ChatLink).where(ChatLink.chat_id == chat.id,
                                                       ChatLink.close_org_id == connection.close_org_id))
    if link is None:
        link = ChatLink(workspace_id=workspace_id, chat_id=chat.id, close_org_id=connection.close_org_id)
        db.session.add(link)
    if contact_id is None:
        contact_id = next((c.get("contact_id") for c in link.candidates or [] if c.get("lead_id") == lead_id),
                          None)
    link.lead_id, link.contact_id = lead_id, contact_id
    link.source, link.needs_review, link.review_note = "manual", False, ""
    # Messages skipped for lack of a lead can go now.
    requeued = db.session.execute(sa.update(Message).where(
        Message.chat_id == chat.id, Message.state == "skipped", chat.kind == "direct")
        .values(state="queued", reason="", queued_at=utcnow(), lease_until=None)).rowcount
    db.session.commit()
    if requeued:
        invalidate_totals(workspace_id)
        kick(workspace_id)
    if move_existing:
        from webapp.redis_conn import get_queue
        get_queue().enqueue("jobs.sync.move_chat", chat.id, job_timeout=1800)
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


def review_queue(workspace_id):
    return db.session.scalars(sa.select(ChatLink).where(ChatLink.workspace_id == workspace_id,
                                                        ChatLink.needs_review.is_(True))
                              .order_by(ChatLink.id)).all()


# -- status page -----------------------------------------------------------------------------------------

# Totals by state live in a Redis hash kept up to date with deltas (ingest, each drain batch), so
# the polling page never counts the table. Bulk moves (hold, release, retry) drop the hash and the
# next read recounts it (one index-only GROUP BY); it also expires, so any drift heals itself.
_INCR_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 0
"""
TOTALS_TTL = 600


def _totals_key(workspace_id):
    return f"closeline:sync:totals:{workspace_id}"


def count_changes(workspace_id, deltas):
    """Apply {state: +n/-n} to the cached totals (only if they are cached)."""
    deltas = {k: v for k, v in deltas.items() if v}
    if not deltas:
        return
    try:
        args = [x for state, n in deltas.items() for x in (state, int(n))]
        _redis().eval(_INCR_IF_EXISTS, 1, _totals_key(workspace_id), *args)
    except Exception:
        invalidate_totals(workspace_id)


def invalidate_totals(workspace_id):
    _delete_quietly(_totals_key(workspace_id), "totals", workspace_id)


def totals(workspace_id):
    key = _totals_key(workspace_id)
    try:
        cached = _redis().hgetall(key)
    except Exception:
        cached = None
    if cached:
        counts = {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in cached.items()}
        return {state: max(0, counts.get(state, 0)) for state in STATES}
    counts = dict(db.session.execute(sa.select(Message.state, sa.func.count()).where(
        Message.workspace_id == workspace_id).group_by(Message.state)).all())
    result = {state: counts.get(state, 0) for state in STATES}
    try:
        with _redis().pipeline() as pipe:
            pipe.hset(key, mapping=result)
            pipe.expire(key, TOTALS_TTL)
            pipe.execute()
    except Exception:
        pass
    return result


def numbers_overview(workspace_id):
    return db.session.scalars(sa.select(WhatsAppNumber).where(WhatsAppNumber.workspace_id == workspace_id)
                              .order_by(WhatsAppNumber.e164)).all()


PAGE_SIZE = 50


def log_page(workspace_id, state=None, number_id=None, chat_id=None, q=None, before=None, limit=PAGE_SIZE):
    """One page of the message log, newest first, by keyset (id < before): no OFFSET scans."""
    query = sa.select(Message).where(Message.workspace_id == workspace_id)
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


def app_close_url():
    return current_app.config["CLOSE_APP_URL"]
