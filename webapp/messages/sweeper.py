"""The sweeper (rq cron, every SWEEP_INTERVAL): the safety net behind kick() and scheduled retries."""
import sqlalchemy as sa

from webapp.core import row_jobs
from webapp.core.extensions import db
from webapp.messages import actions, scheduler
from webapp.messages.outbox import lease_is_free
from webapp.messages.states import HOLD_SUBSCRIPTION
from webapp.models import Message, Workspace, utcnow


def sweep():
    """Re-kick workspaces with rows stuck in `queued` or due `failed`; release subscription holds
    of renewed workspaces (catch-up on). Returns the workspace ids kicked."""
    now = utcnow()
    free = lease_is_free(now)
    stuck = sa.select(Message.workspace_id).where(Message.state == "queued", free)
    due = sa.select(Message.workspace_id).where(Message.state == "failed", Message.next_attempt_at <= now, free)
    workspace_ids = set(db.session.scalars(stuck.distinct())) | set(db.session.scalars(due.distinct()))
    held = db.session.scalars(sa.select(Message.workspace_id).where(
        Message.state == "held", Message.reason == HOLD_SUBSCRIPTION).distinct()).all()
    def release(workspace_id):
        if actions.release_on_renewal(db.session.get(Workspace, workspace_id)):
            workspace_ids.add(workspace_id)
    # Each workspace on its own: one that fails must not stop the others' deliveries.
    row_jobs.for_each(held, release, "renewal release of workspace")
    db.session.rollback()
    row_jobs.for_each(sorted(workspace_ids), scheduler.kick, "sweeper kick of workspace")
    return sorted(workspace_ids)
