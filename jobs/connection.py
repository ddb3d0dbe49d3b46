"""RQ jobs of the Close connection: periodic validation fan-out, one validation, test sync/catch-up."""
import logging

import sqlalchemy as sa
from rq import Retry

from webapp.jobs_app import job_context as _context

log = logging.getLogger(__name__)


class CloseUnreachable(Exception):
    """Raised so RQ retries the validation later; the row already says "unreachable, retrying"."""


def validate_all():
    """Run by `rq cron`: one validation job per live connection (ids only)."""
    with _context():
        from webapp.extensions import db
        from webapp.models import CloseConnection
        from webapp.redis_conn import get_queue
        ids = db.session.scalars(sa.select(CloseConnection.id).where(CloseConnection.disconnected_at.is_(None))).all()
        queue = get_queue()
        for connection_id in ids:
            # Deterministic id: a slow run is never doubled by the next tick.
            queue.enqueue(validate_connection, connection_id, job_id=f"validate-connection-{connection_id}",
                          retry=Retry(max=3, interval=[60, 180, 300]), job_timeout=120, result_ttl=600)
        return len(ids)


def validate_connection(connection_id):
    with _context():
        from webapp.integrations.close.validation import validate
        outcome = validate(connection_id)
        if outcome == "unreachable":
            raise CloseUnreachable(f"connection {connection_id}: Close unreachable")
        return outcome


def run_job(job_run_id):
    """Test sync or catch-up, tracked on a JobRun row."""
    with _context():
        from webapp.integrations.close.testsync import execute
        return execute(job_run_id)
