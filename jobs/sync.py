"""RQ jobs of the sync engine. They carry workspace/chat ids only; the rows are the truth."""
import logging

from webapp.jobs_app import job_context as _context

log = logging.getLogger(__name__)


def drain(workspace_id):
    """Deliver a workspace's due messages in order; re-enqueue itself while rows remain."""
    with _context():
        from webapp.sync import delivery, service
        try:
            more = delivery.drain_workspace(workspace_id, heartbeat=lambda: service.heartbeat(workspace_id))
        except Exception:
            # Free the slot; the sweeper starts a new drain (no hot loop on a persistent error).
            service.release_flag(workspace_id)
            raise
        if more:
            service.heartbeat(workspace_id)
            service.enqueue_drain(workspace_id)  # the flag stays ours; others can't double it
        else:
            service.finish_drain(workspace_id)
        return "more" if more else "done"


def kick(workspace_id):
    """Scheduled wake-up for due retries."""
    with _context():
        from webapp.sync import service
        return service.kick(workspace_id)


def sweep():
    """Run by `rq cron` every SWEEP_INTERVAL: re-kick outboxes with stuck or due rows."""
    with _context():
        from webapp.sync import service
        return service.sweep()


def move_chat(chat_id):
    """Re-create a re-routed chat's synced activities on its new lead and delete the old ones."""
    with _context():
        from webapp.sync import moves
        return moves.move_chat_activities(chat_id)
