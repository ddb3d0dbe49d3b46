"""RQ jobs of the Close connection: periodic validation fan-out, one validation, test sync/catch-up."""
import sqlalchemy as sa
from rq import Retry

from webapp.close_connection import test_runs
from webapp.close_connection.validation import validate
from webapp.core.extensions import db
from webapp.core.redis_conn import get_queue
from webapp.jobs_app import job_context
from webapp.models import CloseConnection

VALIDATE_JOB = "jobs.connection.validate_connection"


class CloseUnreachable(Exception):
    """Raised so RQ retries the validation later; the row already says "unreachable, retrying"."""


def validate_all():
    """Run by `rq cron`: one validation job per live connection (ids only)."""
    with job_context():
        ids = db.session.scalars(sa.select(CloseConnection.id).where(CloseConnection.disconnected_at.is_(None))).all()
        queue = get_queue()
        for connection_id in ids:
            # Deterministic id: a slow run is never doubled by the next tick.
            queue.enqueue(VALIDATE_JOB, connection_id, job_id=f"validate-connection-{connection_id}",
                          retry=Retry(max=3, interval=[60, 180, 300]), job_timeout=120, result_ttl=600)
        return len(ids)


def validate_connection(connection_id):
    with job_context():
        outcome = validate(connection_id)
        if outcome == "unreachable":
            raise CloseUnreachable(f"connection {connection_id}: Close unreachable")
        return outcome


def run_job(job_run_id):
    """Test sync or catch-up, tracked on a JobRun row."""
    with job_context():
        return test_runs.execute(job_run_id)
