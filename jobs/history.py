"""RQ jobs of the history import. They carry the import id only; the rows are the truth."""
from webapp.core.extensions import db
from webapp.history_import import service as history
from webapp.jobs_app import job_context
from webapp.messages import close_access
from webapp.models import HistoryImport


def plan_import(import_id):
    """The dry run: reads the gateway and Close, writes the counts on the row."""
    with job_context():
        row = db.session.get(HistoryImport, import_id)
        if row is None or row.state != "planning":
            return "nothing to do"
        return history.run_plan(row)


def run_import(import_id):
    """Phase 1 (store every message, waiting), then start feeding the outbox in slices."""
    with job_context():
        row = db.session.get(HistoryImport, import_id)
        if row is None or row.state != "storing":
            return "nothing to do"
        try:
            connection = close_access.live_connection(row.workspace_id)
            if connection is None:
                raise history.NoHistory("Close is not connected: reconnect it, then resume the import.")
            source = history.source_for(row.number, row.since, row.until)
            history.store(row, source, connection, close_access.client_for_connection(connection))
        except Exception as exc:
            db.session.rollback()
            row = db.session.get(HistoryImport, import_id)
            row.state, row.error = "failed", f"{exc} — resume it from the import page."
            db.session.commit()
            raise
        history.enqueue_feed(import_id, 0)
        return "stored"


def feed(import_id):
    """Phase 2: one slice to the outbox; re-schedules itself while messages wait."""
    with job_context():
        if history.feed(import_id):
            history.enqueue_feed(import_id)
            return "more"
        return "done"
