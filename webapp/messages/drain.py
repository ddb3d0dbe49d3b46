"""The drain: work a workspace's outbox, oldest first, within a time budget.

claim (outbox) → deliver (pool.py: chats in parallel, each chat in order) → record results
(short transactions, by the drain thread only). A worker killed anywhere leaves its rows with a
lease that expires; the next claim retakes them (see deliver.py for how a half-done create is
adopted).
"""
import time

from flask import current_app

from webapp.core.extensions import db
from webapp.messages import close_access, deliver, outbox, pool
from webapp.messages.states import HOLD_DISCONNECTED
from webapp.models import Message, Workspace


def drain_workspace(workspace_id, heartbeat=None):
    """Work the outbox until empty or the time budget is spent. Returns True if work remains.
    Chats are delivered in parallel, each chat in order (pool.py)."""
    workspace = db.session.get(Workspace, workspace_id)
    if workspace is None:
        return False
    ctx = deliver.open_context(workspace)
    if ctx is None:
        return False
    deadline = time.monotonic() + current_app.config["SYNC_DRAIN_BUDGET"]
    if not pool.ChatLanes(workspace_id, ctx.connection, heartbeat).run(deadline):
        # Credentials died: if the connection logic disconnected, the outbox is held now.
        if close_access.live_connection(workspace_id) is None:
            outbox.hold_pending(workspace_id, HOLD_DISCONNECTED)
        return False
    return time.monotonic() >= deadline and outbox.has_due(workspace_id)


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
    deliver.note_outcomes(ctx.connection.id, [(message, outcome)])
