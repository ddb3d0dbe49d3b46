"""Scheduling drains: one drain job per workspace at a time.

`kick()` sets a Redis flag with NX and only the caller that set it enqueues the job; the running
drain refreshes the flag (heartbeat) and deletes it when the outbox is empty, then looks once
more, so a message committed meanwhile is never stranded. A drain killed with its worker leaves
the flag to expire; the sweeper (rq cron) kicks every workspace that still has due rows. Redis
holds no state a message depends on: losing it delays sync, never loses a message.
Jobs are enqueued by dotted name: the sync engine never imports the jobs package.
"""
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from webapp.core.extensions import db
from webapp.core.redis_conn import JobFlag, get_queue, get_redis
from webapp.messages import outbox
from webapp.messages.totals import delete_quietly
from webapp.models import Message, utcnow

log = logging.getLogger(__name__)

DRAIN_JOB = "jobs.sync.drain"
KICK_JOB = "jobs.sync.kick"


DRAINING = JobFlag("closeline:sync:drain", lambda: current_app.config["SYNC_FLAG_TTL"])


def kick(workspace_id):
    """Make sure a drain for this workspace is queued or running. Never raises (sweeper backs up)."""
    try:
        if DRAINING.claim(workspace_id):
            enqueue_drain(workspace_id)
            return True
    except Exception:
        log.exception("could not schedule a sync drain for workspace %s", workspace_id)
    return False


def enqueue_drain(workspace_id):
    get_queue().enqueue(DRAIN_JOB, workspace_id, job_timeout=int(current_app.config["SYNC_DRAIN_BUDGET"]) + 300,
                        result_ttl=60, failure_ttl=24 * 3600, description=f"sync drain workspace {workspace_id}")


def probe_later(workspace_id, seconds):
    """Close is down: the drain comes back in `seconds` (RQ scheduler) to probe once more. The flag
    stays set until then, so new messages' kicks enqueue nothing meanwhile; should the scheduled
    job be lost, the flag expires and the sweeper starts a drain again."""
    get_redis().expire(DRAINING.key(workspace_id), int(seconds + DRAINING.ttl()))
    get_queue().enqueue_in(timedelta(seconds=seconds), DRAIN_JOB, workspace_id,
                           job_timeout=int(current_app.config["SYNC_DRAIN_BUDGET"]) + 300, result_ttl=60,
                           failure_ttl=24 * 3600, description=f"sync drain workspace {workspace_id} (probe)")


def heartbeat(workspace_id):
    DRAINING.refresh(workspace_id)


def release_flag(workspace_id):
    delete_quietly(DRAINING.key(workspace_id), "drain flag", workspace_id)


def finish_drain(workspace_id):
    """The drain found nothing more: drop the flag, then look once more (see module doc)."""
    DRAINING.drop(workspace_id)
    if outbox.has_due(workspace_id):
        kick(workspace_id)
    schedule_retry(workspace_id)


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
    delay = max(0.5, (min(candidates) - utcnow()).total_seconds() + 0.05)
    key = f"closeline:sync:retry-scheduled:{workspace_id}"
    if get_redis().set(key, "1", nx=True, px=int(delay * 1000)):
        get_queue().enqueue_in(timedelta(seconds=delay), KICK_JOB, workspace_id, result_ttl=60)
