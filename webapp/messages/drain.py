"""The drain: work a workspace's outbox, oldest first, within a time budget.

claim (outbox) → deliver (pool.py: chats in parallel, each chat in order) → record results
(short transactions, by the drain thread only). A worker killed anywhere leaves its rows with a
lease that expires; the next claim retakes them (see deliver.py for how a half-done create is
adopted).

While Close is down the outbox is left alone: a drain that finds the connection unreachable
makes one cheap probe call instead of one attempt per message, and when Close still does not
answer it asks to be woken later (`Drained.probe_in`, growing with the outage), so the failing
attempts cost neither Close calls nor database writes that would compete with the acks of new
messages. The first answer from Close resumes the drain, and everything waiting goes.
"""
import random
import time
from dataclasses import dataclass

from flask import current_app

from webapp.core.extensions import db
from webapp.messages import close_access, deliver, outbox, pool
from webapp.messages.states import HOLD_DISCONNECTED
from webapp.models import Message, Workspace, utcnow

PROBE_FIRST = 1.0  # seconds before the first probe after Close went down


@dataclass
class Drained:
    """What a drain left: `more` due rows (the budget ran out), or Close down (`probe_in` seconds
    until the next probe). Truthy only when the drain should go on at once."""
    more: bool = False
    probe_in: float | None = None

    def __bool__(self):
        return self.more


def drain_workspace(workspace_id, heartbeat=None):
    """Work the outbox until empty or the time budget is spent. Returns a Drained (truthy if work
    remains). Chats are delivered in parallel, each chat in order (pool.py)."""
    workspace = db.session.get(Workspace, workspace_id)
    if workspace is None:
        return Drained()
    try:
        ctx = deliver.open_context(workspace)
        if ctx is None:
            return Drained()
        if ctx.connection.unreachable_since is not None and not deliver.probe(ctx):
            return _close_down(workspace_id)
    except deliver.CloseDown:  # the token endpoint did not answer
        return _close_down(workspace_id)
    except deliver.StopBatch as stop:
        close_access.report_auth_failure(ctx.connection, stop.exc)
        return Drained()
    deadline = time.monotonic() + current_app.config["SYNC_DRAIN_BUDGET"]
    lanes = pool.ChatLanes(workspace_id, ctx.connection, heartbeat)
    if not lanes.run(deadline):
        if isinstance(lanes.stopped_by, deliver.CloseDown):
            return _close_down(workspace_id)
        # Credentials died: if the connection logic disconnected, the outbox is held now.
        if close_access.live_connection(workspace_id) is None:
            outbox.hold_pending(workspace_id, HOLD_DISCONNECTED)
        return Drained()
    return Drained(more=time.monotonic() >= deadline and outbox.has_due(workspace_id))


def _close_down(workspace_id):
    """Close does not answer: the next probe waits about half as long as the outage has lasted
    (so probes thin out as it goes on), at least PROBE_FIRST, at most SYNC_PROBE_CAP seconds."""
    db.session.rollback()
    connection = close_access.live_connection(workspace_id)
    since = connection.unreachable_since if connection is not None else None
    lasted = (utcnow() - since).total_seconds() if since else 0.0
    delay = min(current_app.config["SYNC_PROBE_CAP"], max(PROBE_FIRST, lasted / 2))
    return Drained(probe_in=delay * random.uniform(1.0, 1.2))  # drains of many workspaces spread out


def sync_message_now(message_id):
    """Route + deliver one message synchronously (inside a job: the test sync). Already synced →
    no Close call. Raises CloseAuthError when the credentials are dead (after reporting it)."""
    message = db.session.get(Message, message_id)
    if message is None or message.state == "synced":
        return
    try:
        ctx = deliver.open_context(db.session.get(Workspace, message.workspace_id))
    except deliver.CloseDown:  # the token endpoint did not answer: the message stays queued
        return
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
