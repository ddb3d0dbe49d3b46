"""Concurrent delivery inside one workspace's drain: different chats in parallel, one chat in order.

The drain thread keeps claiming due rows (oldest first) and files each under its chat's *lane*.
A lane runs on one pool thread at a time and delivers its rows one after another in id order,
so a reply is written after its original and the messages of a new chat (one lane) create one
lead. Different lanes run in parallel, up to SYNC_POOL_SIZE, so Close's latency overlaps
instead of adding up; Close's rate limit, shared by every worker of the organization through
Redis (clients/close/ratelimit.py), is what bounds the whole.

Each pool thread works in its own app context, so it has its own database session and its own
Close client. Threads only *deliver*; the drain thread alone writes results (outbox.record, in
short batches), renews the leases of everything claimed and not yet recorded, and releases what
is left when the credentials die. Exactly-once is unchanged: rows are leased before any Close
call and a retaken row looks its activity up in Close before creating it (deliver.py).
"""
import logging
import queue
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import joinedload

from webapp.clients.close.client import CloseAuthError, CloseError
from webapp.core.extensions import db
from webapp.messages import close_access, deliver, outbox
from webapp.models import CloseConnection, Membership, Message, WhatsAppNumber

log = logging.getLogger(__name__)

# What delivering a message reads (route, payload, Close user), loaded with it in one query
# instead of one lazy load each.
DELIVERY_GRAPH = [joinedload(Message.chat),
                  joinedload(Message.number).joinedload(WhatsAppNumber.membership)
                  .joinedload(Membership.user)]
RECORD_EVERY = 0.5    # seconds between result writes (one short transaction each)
RECORD_BATCH = 50     # ... or as soon as this many results wait


class _Lane:
    def __init__(self, chat_id):
        self.chat_id = chat_id
        self.waiting = deque()   # claimed message ids, in id order
        self.current = None      # the id being delivered
        self.running = False


class ChatLanes:
    """One drain's pool. `run(deadline)` claims, delivers and records until the outbox is empty,
    the deadline passes, the credentials die or Close is down; returns False when the drain must
    stop (`stopped_by` says why)."""

    def __init__(self, workspace_id, connection, heartbeat=None):
        config = current_app.config
        self.app = current_app._get_current_object()
        self.workspace_id = workspace_id
        self.connection_id, self.org_id = connection.id, connection.close_org_id
        self.size = max(1, int(config["SYNC_POOL_SIZE"]))
        self.batch = int(config["SYNC_BATCH_SIZE"])
        self.lease = float(config["SYNC_LEASE_SECONDS"])
        self.heartbeat = heartbeat
        self.lock = threading.Lock()
        self.lanes = {}
        self.results = queue.Queue()
        self.claimed = set()            # leased by this drain, result not recorded yet
        self.stopped_by = None          # the Close error (dead credentials, token endpoint) that stopped it
        self.shared = SimpleNamespace(activity_ids={}, transient_streak=0)
        self.local = threading.local()

    # -- the drain thread ------------------------------------------------------------------------

    def run(self, deadline):
        pending, last_record = [], time.monotonic()
        renew_at = time.monotonic() + self.lease / 3
        next_claim = 0.0
        with ThreadPoolExecutor(self.size, thread_name_prefix=f"drain-{self.workspace_id}") as self.executor:
            while True:
                claiming = not self.stopped_by and time.monotonic() < deadline
                if claiming and len(self.claimed) < self.batch and time.monotonic() >= next_claim:
                    # An empty outbox is looked at again shortly while lanes still work.
                    next_claim = 0.0 if self._claim() else time.monotonic() + RECORD_EVERY
                pending += self._collect(timeout=0.05)
                idle = self._idle()
                if idle and (not claiming or (not self.claimed and next_claim)):
                    break
                if pending and (len(pending) >= RECORD_BATCH or time.monotonic() - last_record > RECORD_EVERY
                                or idle):
                    self._record(pending)
                    pending, last_record = [], time.monotonic()
                    next_claim = 0.0  # recorded rows free their chats' next rows: claim them now
                if time.monotonic() > renew_at:
                    self._renew()
                    renew_at = time.monotonic() + self.lease / 3
        self._record(pending + self._collect(timeout=0))
        if self.stopped_by is None:
            return True
        outbox.release(sorted(self.claimed), untried=isinstance(self.stopped_by, deliver.CloseDown))
        self.claimed.clear()
        if isinstance(self.stopped_by, CloseAuthError):
            close_access.report_auth_failure(db.session.get(CloseConnection, self.connection_id), self.stopped_by)
        return False

    def _idle(self):
        with self.lock:
            return self.results.empty() and not any(lane.running for lane in self.lanes.values())

    def _claim(self):
        ids = outbox.claim_batch(self.workspace_id, self.batch, self.lease, own=self.claimed)
        if not ids:
            return False
        chats = dict(db.session.execute(sa.select(Message.id, Message.chat_id).where(Message.id.in_(ids))).all())
        db.session.rollback()  # no transaction left open while lanes work
        with self.lock:
            self.claimed.update(ids)
            for message_id in ids:
                lane = self.lanes.setdefault(chats[message_id], _Lane(chats[message_id]))
                lane.waiting.append(message_id)
                if not lane.running:
                    lane.running = True
                    self.executor.submit(self._work_lane, lane)
        return True

    def _collect(self, timeout):
        found = []
        try:
            found.append(self.results.get(timeout=timeout))
            while True:
                found.append(self.results.get_nowait())
        except queue.Empty:
            return found

    def _record(self, pending):
        done = [(message, outcome) for message, outcome in pending if outcome is not None]
        outbox.record(done, self.org_id)
        deliver.note_outcomes(self.connection_id, done)  # the card's outage banner
        # Rows given up without a result keep their lease: a later drain retakes them.
        self.claimed.difference_update(message.id for message, _ in pending)

    def _renew(self):
        if self.claimed:
            outbox.renew_lease(sorted(self.claimed), self.lease)
        if self.heartbeat:
            self.heartbeat()

    # -- pool threads ----------------------------------------------------------------------------

    def _work_lane(self, lane):
        """Deliver the lane's rows in order until none are waiting (more may arrive meanwhile)."""
        with self.app.app_context():
            try:
                ctx = self._lane_context()
                while True:
                    with self.lock:
                        if self.stopped_by is not None or not lane.waiting:
                            lane.running = False
                            return
                        lane.current = lane.waiting.popleft()
                    self._deliver_one(lane.current, ctx)
                    lane.current = None
            except (CloseError, close_access.NoCredentials, deliver.CloseDown) as exc:
                self._stop(lane, exc)
            except Exception:  # a bug: stop this lane, its rows come back when the lease ends
                log.exception("sync lane of chat %s failed", lane.chat_id)
                self._stop(lane, None)

    def _deliver_one(self, message_id, ctx):
        message = db.session.get(Message, message_id, options=DELIVERY_GRAPH, populate_existing=True)
        before = SimpleNamespace(id=message.id, state=message.state, attachments=message.attachments,
                                 workspace_id=message.workspace_id,
                                 whatsapp_number_id=message.whatsapp_number_id)
        ctx.transient_streak = self.shared.transient_streak   # Close down → the whole drain backs off
        try:
            outcome = deliver.process(message, ctx)
        except deliver.StopBatch as stop:
            raise stop.exc
        finally:
            self.shared.transient_streak = ctx.transient_streak
        self.results.put((before, outcome))

    def _lane_context(self):
        """This thread's Close client (kept for the drain) and its own copy of the connection row."""
        connection = db.session.get(CloseConnection, self.connection_id)
        if getattr(self.local, "client", None) is None:
            self.local.client = close_access.client_for_connection(connection)
        ctx = deliver.Context(connection, self.local.client)
        ctx.activity_ids = self.shared.activity_ids  # replies across lanes find their originals
        return ctx

    def _stop(self, lane, exc):
        """End the lane; an exception from Close also stops the drain (rows released at its end)."""
        with self.lock:
            lane.running = False
            if exc is not None and self.stopped_by is None:
                self.stopped_by = exc
            if exc is None:  # a bug in this lane: hand its rows back to the lease
                if lane.current is not None:
                    lane.waiting.appendleft(lane.current)
                while lane.waiting:
                    self.results.put((SimpleNamespace(id=lane.waiting.popleft()), None))
