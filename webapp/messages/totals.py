"""Totals by state for the status page: a Redis hash kept up to date with deltas (ingest, each
drain batch), so the polling page never counts the table. Bulk moves (hold, release, retry) drop
the hash and the next read recounts it (one index-only GROUP BY); it also expires, so any drift
heals itself. Redis holds no state a message depends on."""
import logging

import sqlalchemy as sa

from webapp.core.extensions import db
from webapp.core.redis_conn import get_redis
from webapp.messages.states import STATES
from webapp.models import Message

log = logging.getLogger(__name__)

_INCR_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 0
"""
TOTALS_TTL = 600


def totals_key(workspace_id):
    return f"closeline:sync:totals:{workspace_id}"


def delete_quietly(key, what, workspace_id):
    """Redis only holds derived state: losing a delete must never fail the caller."""
    try:
        get_redis().delete(key)
    except Exception:
        log.exception("could not drop the %s of workspace %s", what, workspace_id)


def count_changes(workspace_id, deltas):
    """Apply {state: +n/-n} to the cached totals (only if they are cached)."""
    deltas = {k: v for k, v in deltas.items() if v}
    if not deltas:
        return
    try:
        args = [x for state, n in deltas.items() for x in (state, int(n))]
        get_redis().eval(_INCR_IF_EXISTS, 1, totals_key(workspace_id), *args)
    except Exception:
        invalidate_totals(workspace_id)


def invalidate_totals(workspace_id):
    delete_quietly(totals_key(workspace_id), "totals", workspace_id)


def totals(workspace_id):
    key = totals_key(workspace_id)
    try:
        cached = get_redis().hgetall(key)
    except Exception:
        cached = None
    if cached:
        counts = {k.decode() if isinstance(k, bytes) else k: int(v) for k, v in cached.items()}
        return {state: max(0, counts.get(state, 0)) for state in STATES}
    counts = dict(db.session.execute(sa.select(Message.state, sa.func.count()).where(
        Message.workspace_id == workspace_id).group_by(Message.state)).all())
    result = {state: counts.get(state, 0) for state in STATES}
    try:
        with get_redis().pipeline() as pipe:
            pipe.hset(key, mapping=result)
            pipe.expire(key, TOTALS_TTL)
            pipe.execute()
    except Exception:
        log.warning("could not cache the totals of workspace %s", workspace_id)
    return result


def pending(counts):
    """Messages still on their way (the status page keeps polling while there are any)."""
    return counts.get("queued", 0) + counts.get("failed", 0) + counts.get("received", 0)
