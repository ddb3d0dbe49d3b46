"""The drain: work a workspace's outbox in batches, oldest first, within a time budget.

claim (outbox) → deliver each row (results in memory) → record all results (one short
transaction). A worker killed anywhere leaves its rows with a lease that expires; the next
claim retakes them (see deliver.py for how a half-done create is adopted).
"""
import time

from flask import current_app

from webapp.extensions import db
from webapp.models import Message, Workspace
from webapp.sync import close_access, deliver, outbox
from webapp.sync.states import HOLD_DISCONNECTED


def run_batch(ids, ctx, heartbeat=None):
    """Process claimed rows in order; records results. Returns False when the drain must stop."""
    lease = current_app.config["SYNC_LEASE_SECONDS"]
    ctx.routes.clear()  # a re-route by an admin takes effect from the next batch
    ctx.transient_streak = 0
    outcomes, renew_at = [], time.monotonic() + lease / 3
    messages = outbox.load(ids)
    for index, message in enumerate(messages):
        if time.monotonic() > renew_at:
            outbox.renew_lease([m.id for m in messages[index:]], lease)
            renew_at = time.monotonic() + lease / 3
            if heartbeat:
                heartbeat()
        try:
            outcomes.append((message, deliver.process(message, ctx)))
        except deliver.StopBatch as stop:
            outbox.record(outcomes, ctx.connection.close_org_id)
            deliver.note_outcomes(ctx.connection, outcomes)
            outbox.release([m.id for m in messages[index:]])
            close_access.report_auth_failure(ctx.connection, stop.exc)
            return False
    outbox.record(outcomes, ctx.connection.close_org_id)
    deliver.note_outcomes(ctx.connection, outcomes)
    return True


def drain_workspace(workspace_id, heartbeat=None):
    """Work the outbox until empty or the time budget is spent. Returns True if work remains."""
    workspace = db.session.get(Workspace, workspace_id)
    if workspace is None:
        return False
    ctx = deliver.open_context(workspace)
    if ctx is None:
        return False
    config = current_app.config
    deadline = time.monotonic() + config["SYNC_DRAIN_BUDGET"]
    size, lease = config["SYNC_BATCH_SIZE"], config["SYNC_LEASE_SECONDS"]
    while time.monotonic() < deadline:
        ids = outbox.claim_batch(workspace_id, size, lease)
        if not ids:
            return False
        if not run_batch(ids, ctx, heartbeat):
            # Credentials died: if the connection logic disconnected, the outbox is held now.
            if close_access.live_connection(workspace_id) is None:
                outbox.hold_pending(workspace_id, HOLD_DISCONNECTED)
            return False
        if heartbeat:
            heartbeat()
    return True


def sync_message_now(message_id):
    """Route + deliver one message synchronously (inside a job: the test sync). Already synced →
    no Close call. Raises CloseAuthError when the credentials are dead (after reporting it)."""
    message = db.session.get(Message, message_id)
    if message is None or message.state == "synced":
        return
    ctx = deliver.open_context(db.session.get(Workspace, message.workspace_id))
    if ctx is None or not outbox.claim_one(message_id, current_app.config["SYNC_LEASE_SECONDS"]):
        return
    db.session.refresh(message)
    try:
        outcome = deliver.process(message, ctx)
    except deliver.StopBatch as stop:
        outbox.release([message_id])
        close_access.report_auth_failure(ctx.connection, stop.exc)
        raise stop.exc
    outbox.record([(message, outcome)], ctx.connection.close_org_id)
    deliver.note_outcomes(ctx.connection, [(message, outcome)])
