"""RQ jobs of the sync engine. They carry workspace/chat ids only; the rows are the truth."""
from webapp.jobs_app import job_context
from webapp.messages import drain as drains
from webapp.messages import erasure, moves, scheduler, sweeper


def drain(workspace_id):
    """Deliver a workspace's due messages in order; re-enqueue itself while rows remain."""
    with job_context():
        try:
            more = drains.drain_workspace(workspace_id, heartbeat=lambda: scheduler.heartbeat(workspace_id))
        except Exception:
            # Free the slot; the sweeper starts a new drain (no hot loop on a persistent error).
            scheduler.release_flag(workspace_id)
            raise
        if more:
            scheduler.heartbeat(workspace_id)
            scheduler.enqueue_drain(workspace_id)  # the flag stays ours; others can't double it
            return "more"
        if more.probe_in is not None:
            scheduler.probe_later(workspace_id, more.probe_in)  # Close is down: one probe, later
            return "close down"
        scheduler.finish_drain(workspace_id)
        return "done"


def kick(workspace_id):
    """Scheduled wake-up for due retries."""
    with job_context():
        return scheduler.kick(workspace_id)


def sweep():
    """Run by `rq cron` every SWEEP_INTERVAL: re-kick outboxes with stuck or due rows."""
    with job_context():
        return sweeper.sweep()


def erase_expired_texts():
    """rq cron, daily: message texts past each workspace's retention are erased."""
    with job_context():
        return erasure.erase_expired()


def move_chat(chat_id):
    """Re-create a re-routed chat's synced activities on its new lead and delete the old ones."""
    with job_context():
        try:
            return moves.move_chat_activities(chat_id)
        except Exception as exc:
            moves.remember_failure(exc)
            raise
