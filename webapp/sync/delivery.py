"""Delivery: route a message and write it to Close as a WhatsApp activity.

A drain works a workspace's outbox in batches, oldest first:
  claim (one UPDATE: lease + attempts+1, committed) → for each row: route + Close calls, result
  kept in memory → apply all results (one short transaction).
No write transaction is open while Close is called (SQLite has a single writer; ingest must stay
fast). A worker killed anywhere leaves its rows `queued`/`failed` with a lease that expires;
the next claim sees attempts > 1 and first looks the activity up by
external_whatsapp_message_id, so a create that reached Close is adopted, not repeated.
"""
import base64
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from webapp import outbound
from webapp.extensions import db
from webapp.integrations.close.client import (
    CloseAuthError, CloseError, CloseRejected, CloseTransient)
from webapp.models import ChatLink, Message, WhatsAppNumber, Workspace, utcnow
from webapp.sync import close_access, cloud_media, routing
from webapp.sync.ingest import HOLD_DISCONNECTED, HOLD_SUBSCRIPTION
from webapp.sync.settings import setting

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    state: str                      # synced | skipped | failed | dead | queued (deferred / stopped)
    reason: str = ""
    lead_id: str | None = None
    activity_id: str | None = None
    next_attempt_at: object = None
    retry_soon: bool = False        # deferred: leave queued, short lease


@dataclass
class Context:
    connection: object
    client: object
    activity_ids: dict = field(default_factory=dict)   # external id → activity id (this run)
    routes: dict = field(default_factory=dict)         # chat id → Route (this run)
    transient_streak: int = 0                          # consecutive messages Close failed on


class StopBatch(Exception):
    """Credentials died: stop, leave the rest of the batch queued."""

    def __init__(self, exc):
        super().__init__(str(exc))
        self.exc = exc


# -- claiming -------------------------------------------------------------------------------------

def _pending(workspace_id, now):
    free = sa.or_(Message.lease_until.is_(None), Message.lease_until < now)
    return Message.workspace_id == workspace_id, free


def claim_batch(workspace_id, size, lease_seconds):
    """Lease up to `size` due rows, oldest first. Safe against concurrent drains (row-level claim)."""
    now = utcnow()
    ws, free = _pending(workspace_id, now)
    queued = sa.select(Message.id).where(ws, Message.state == "queued", free) \
        .order_by(Message.id).limit(size).with_for_update(skip_locked=True)
    ids = list(db.session.scalars(queued))
    if len(ids) < size:
        due = sa.select(Message.id).where(ws, Message.state == "failed", Message.next_attempt_at <= now, free) \
            .order_by(Message.id).limit(size - len(ids)).with_for_update(skip_locked=True)
        ids += list(db.session.scalars(due))
    if not ids:
        db.session.rollback()
        return []
    return sorted(_lease(now, lease_seconds, Message.id.in_(ids), free, Message.state.in_(("queued", "failed"))))


def claim_one(message_id, lease_seconds):
    """Lease one row in any unsynced state (test sync, manual actions)."""
    now = utcnow()
    free = sa.or_(Message.lease_until.is_(None), Message.lease_until < now)
    return bool(_lease(now, lease_seconds, Message.id == message_id, Message.state != "synced", free))


def _lease(now, lease_seconds, *conditions):
    """Take the lease on the rows matching `conditions`; returns the ids actually taken (committed)."""
    claimed = db.session.execute(
        sa.update(Message).where(*conditions)
        .values(lease_until=now + timedelta(seconds=lease_seconds), attempts=Message.attempts + 1,
                updated_at=now)
        .returning(Message.id)).scalars().all()
    db.session.commit()
    return claimed


def renew_lease(ids, lease_seconds):
    db.session.execute(sa.update(Message).where(Message.id.in_(ids))
                       .values(lease_until=utcnow() + timedelta(seconds=lease_seconds)))
    db.session.commit()


# -- one message ------------------------------------------------------------------------------------

def process(message, ctx):
    """Route and deliver one message with quick inline retries; never raises except StopBatch."""
    if ctx.transient_streak >= CIRCUIT_BREAK:
        # Close is down: don't spend timeouts on every row of the batch; back off instead.
        return _failed(message, "Close unreachable (several calls in a row failed)", None)
    outcome = _process(message, ctx)
    ctx.transient_streak = ctx.transient_streak + 1 if outcome.state == "failed" else 0
    return outcome


CIRCUIT_BREAK = 3


def _process(message, ctx):
    maybe_sent = message.attempts > 1   # an earlier attempt may have reached Close
    inline = setting("SYNC_INLINE_RETRIES")
    for attempt in range(inline + 1):
        try:
            return _deliver(message, ctx, maybe_sent)
        except routing.Deferred:
            return Outcome("queued", "Waiting for the chat's new lead to be created.", retry_soon=True)
        except CloseAuthError as exc:
            raise StopBatch(exc)
        except CloseTransient as exc:
            maybe_sent = maybe_sent or exc.ambiguous
            if attempt < inline:
                time.sleep(min(exc.retry_after or 0.2 * (attempt + 1), 5.0))
                continue
            return _failed(message, f"Close unreachable: {exc.message}", exc.retry_after)
        except CloseRejected as exc:
            return Outcome("dead", f"Close refused the activity: {exc.message}")
        except cloud_media.MediaSourceDown as exc:  # before any Close write: nothing half-done
            return _failed(message, str(exc), None)
        except Exception as exc:  # a bug or an unexpected answer: keep the row, retry later
            log.exception("sync of message %s failed", message.id)
            db.session.rollback()
            return _failed(message, f"Unexpected error: {exc}", None)
    raise AssertionError("unreachable")


def _failed(message, reason, retry_after):
    if message.attempts >= setting("SYNC_MAX_ATTEMPTS"):
        return Outcome("dead", f"{reason} (gave up after {message.attempts} attempts)")
    base, cap = setting("SYNC_RETRY_BASE"), setting("SYNC_RETRY_CAP")
    delay = min(cap, base * 3 ** (message.attempts - 1)) * random.uniform(0.8, 1.2)
    delay = max(delay, retry_after or 0)
    return Outcome("failed", reason, next_attempt_at=utcnow() + timedelta(seconds=delay))


def _route(message, ctx):
    cached = ctx.routes.get(message.chat_id)
    if cached is not None:
        return cached
    result = routing.route(message, ctx.connection, ctx.client)
    if isinstance(result, routing.Route):
        ctx.routes[message.chat_id] = result
    return result


def _deliver(message, ctx, maybe_sent):
    result = _route(message, ctx)
    if isinstance(result, routing.Skip):
        return Outcome("skipped", result.reason)
    if maybe_sent:
        existing = [a for a in ctx.client.find_whatsapp_activities(message.external_id)
                    if a.get("lead_id") == result.lead_id]
        if existing:
            ctx.activity_ids[message.external_id] = existing[0]["id"]
            return Outcome("synced", "Found in Close after an interrupted attempt.",
                           lead_id=result.lead_id, activity_id=existing[0]["id"])
    payload, notes = build_payload(message, ctx, result)
    try:
        activity = ctx.client.create_whatsapp_activity(payload)
    except CloseRejected as exc:
        fields = set(exc.field_errors)
        if fields & {"lead", "contact", "lead_id", "contact_id"} and not getattr(result, "retried", False):
            # The linked lead or contact is gone in Close: forget the link and route again, once.
            _forget_link(result.link, ctx, message.chat_id)
            return _deliver_rerouted(message, ctx)
        if fields & {"response_to", "response_to_id"} and payload.get("response_to_id"):
            payload.pop("response_to_id")
            notes.append("the replied-to activity is gone in Close")
            activity = ctx.client.create_whatsapp_activity(payload)
        else:
            raise
    ctx.activity_ids[message.external_id] = activity["id"]
    return Outcome("synced", "; ".join(notes), lead_id=result.lead_id, activity_id=activity["id"])


def _deliver_rerouted(message, ctx):
    result = _route(message, ctx)
    if isinstance(result, routing.Skip):
        return Outcome("skipped", result.reason)
    result.retried = True
    payload, notes = build_payload(message, ctx, result)
    activity = ctx.client.create_whatsapp_activity(payload)
    ctx.activity_ids[message.external_id] = activity["id"]
    notes.append("re-routed: the previously linked lead no longer exists")
    return Outcome("synced", "; ".join(notes), lead_id=result.lead_id, activity_id=activity["id"])


def _forget_link(link, ctx, chat_id):
    ctx.routes.pop(chat_id, None)
    db.session.execute(sa.delete(ChatLink).where(ChatLink.id == link.id))
    db.session.commit()


def build_payload(message, ctx, route, with_attachments=True):
    """Every field of Close's CreateWhatsAppMessage that we know (close-api.md §5.1)."""
    connection = ctx.connection
    number = message.number
    payload = {
        "external_whatsapp_message_id": message.external_id,
        "lead_id": route.lead_id,
        "contact_id": route.contact_id,
        "direction": message.direction,
        "activity_at": message.sent_at.isoformat(),
        "local_phone": number.e164,
        "remote_phone": message.chat.remote_phone,
        "message_markdown": message.text or "",
    }
    user_id = close_user_for(number, connection)
    if user_id:
        payload["user_id"] = user_id
    reply = reply_activity_id(message, ctx)
    if reply:
        payload["response_to_id"] = reply
    notes = []
    if message.attachments and with_attachments:
        if connection.sync_attachments:
            files, notes = upload_attachments(message, ctx.client)
            if files:
                payload["attachments"] = files
        else:
            notes.append("attachments not synced (setting off)")
    return payload, notes


def close_user_for(number, connection):
    member = number.membership
    if member is None or not connection.close_users:
        return None
    users = {k.lower(): v for k, v in connection.close_users.items()}
    return users.get(member.user.email.lower())


def reply_activity_id(message, ctx):
    """Close activity id of the replied-to message, when that one was synced (same org)."""
    if not message.reply_to_external_id:
        return None
    if message.reply_to_external_id in ctx.activity_ids:
        return ctx.activity_ids[message.reply_to_external_id]
    return db.session.scalar(sa.select(Message.close_activity_id).where(
        Message.workspace_id == message.workspace_id, Message.external_id == message.reply_to_external_id,
        Message.state == "synced", Message.close_org_id == ctx.connection.close_org_id))


FILE_DEADLINE = 60.0       # seconds for one attachment download (wall clock)
MESSAGE_DEADLINE = 120.0   # seconds for all downloads of one message


def upload_attachments(message, client):
    """Upload within Close's 25 MB per-message total; files that can't go are noted, not fatal."""
    limit = setting("SYNC_MAX_ATTACHMENT_BYTES")
    files, notes, total = [], [], 0
    ends_at = time.monotonic() + MESSAGE_DEADLINE
    for item in message.attachments:
        name = item.get("filename") or "file"
        data, problem = _attachment_bytes(item, limit, message.attempts, ends_at, message.whatsapp_number_id)
        if problem:
            notes.append(f"synced without {name}: {problem}")
            continue
        if total + len(data) > limit:
            notes.append(f"synced without {name}: over Close's 25 MB limit per message")
            continue
        url = client.upload_file(name, item.get("content_type") or "application/octet-stream", data)
        total += len(data)
        files.append({"url": url, "filename": name,
                      "content_type": item.get("content_type") or "application/octet-stream"})
    return files, notes


def _attachment_bytes(item, limit, attempts, ends_at, number_id=None):
    if item.get("size") is not None and item["size"] > limit:
        return None, "over Close's 25 MB limit"
    if item.get("data") is not None:
        return base64.b64decode(item["data"]), None
    if item.get("url"):
        # A URL from a message: never the gateway exception, one deadline for the whole message.
        left = min(FILE_DEADLINE, ends_at - time.monotonic())
        if left <= 0:
            return None, outbound.FetchFailed.user_message
        try:
            return outbound.fetch(item["url"], max_bytes=limit, deadline=left).content, None
        except outbound.FetchTooLarge:
            return None, "over Close's 25 MB limit"
        except outbound.FetchError as exc:
            log.info("attachment of message download refused/failed: %s", exc.detail)
            if exc.retryable and attempts < 3:  # a blip: retry the whole message later
                raise CloseTransient("attachment download failed") from None
            return None, outbound.describe(exc)
    if item.get("whatsapp_media_id"):
        left = min(FILE_DEADLINE, ends_at - time.monotonic())
        if left <= 0:
            raise cloud_media.MediaSourceDown("WhatsApp media could not be fetched in time; the message is retried.")
        return cloud_media.fetch(number_id, item["whatsapp_media_id"], max_bytes=limit, deadline=left)
    return None, "no file content"


# -- recording results -------------------------------------------------------------------------------

def apply(outcomes, org_id):
    """Write the results of a batch in one short transaction (by primary key, no reloads)."""
    if not outcomes:
        return
    now = utcnow()
    synced, others = [], []
    for message, outcome in outcomes:
        row = {"id": message.id, "state": outcome.state, "reason": outcome.reason[:2000],
               "next_attempt_at": outcome.next_attempt_at, "updated_at": now,
               "lease_until": now + timedelta(seconds=2) if outcome.retry_soon else None}
        if outcome.state == "synced":
            row.update(close_org_id=org_id, close_lead_id=outcome.lead_id, synced_at=now,
                       close_activity_id=outcome.activity_id,
                       attachments=_without_data(message.attachments))
            synced.append(row)
        else:
            others.append(row)
    numbers = {m.whatsapp_number_id for m, o in outcomes if o.state == "synced"}
    deltas = {}
    for message, outcome in outcomes:
        if message.state != outcome.state:
            deltas[message.state] = deltas.get(message.state, 0) - 1
            deltas[outcome.state] = deltas.get(outcome.state, 0) + 1
    workspace_id = outcomes[0][0].workspace_id
    db.session.rollback()  # drop anything half-done; rows are written by primary key below
    for rows in (synced, others):
        if rows:
            db.session.execute(sa.update(Message), rows)
    if numbers:
        db.session.execute(sa.update(WhatsAppNumber).where(WhatsAppNumber.id.in_(numbers))
                           .values(last_synced_at=now))
    db.session.commit()
    from webapp.sync.service import count_changes
    count_changes(workspace_id, deltas)


def _without_data(attachments):
    # Base64 bodies are only needed until Close has the file; keep the metadata for the log.
    if not attachments or not any("data" in a for a in attachments):
        return attachments
    return [{k: v for k, v in a.items() if k != "data"} for a in attachments]


def release(ids):
    """Give rows back untouched (credentials died mid-batch)."""
    if ids:
        db.session.rollback()
        db.session.execute(sa.update(Message).where(Message.id.in_(ids)).values(lease_until=None))
        db.session.commit()


def hold_pending(workspace_id, reason):
    """No Close to talk to: queued/failed rows become held (visible, released later)."""
    db.session.rollback()
    count = db.session.execute(
        sa.update(Message).where(Message.workspace_id == workspace_id,
                                 Message.state.in_(("queued", "failed", "received")))
        .values(state="held", reason=reason, lease_until=None, next_attempt_at=None,
                updated_at=utcnow())).rowcount
    db.session.commit()
    if count:
        from webapp.sync.service import invalidate_totals
        invalidate_totals(workspace_id)
    return count


# -- drains ---------------------------------------------------------------------------------------------

def _load(ids):
    return db.session.scalars(sa.select(Message).where(Message.id.in_(ids)).order_by(Message.id)).all()


def open_context(workspace):
    """(Context, None) or (None, why-not). Holds the outbox when there is no Close to talk to."""
    if not workspace.subscription_active:
        hold_pending(workspace.id, HOLD_SUBSCRIPTION)
        return None, "held"
    connection = close_access.live_connection(workspace.id)
    if connection is None:
        hold_pending(workspace.id, HOLD_DISCONNECTED)
        return None, "held"
    try:
        client = close_access.client_for_connection(connection)
    except close_access.NoCredentials:
        hold_pending(workspace.id, HOLD_DISCONNECTED)
        return None, "held"
    except CloseAuthError as exc:
        close_access.report_auth_failure(connection, exc)
        return None, "auth"
    except CloseError as exc:  # token endpoint unreachable: stay queued, try again later
        log.warning("Close unreachable for workspace %s: %s", workspace.id, exc)
        return None, "transient"
    return Context(connection, client), None


def run_batch(ids, ctx, heartbeat=None):
    """Process claimed rows in order; records results. Returns False when the drain must stop."""
    lease = setting("SYNC_LEASE_SECONDS")
    ctx.routes.clear()  # a re-route by an admin takes effect from the next batch
    ctx.transient_streak = 0
    outcomes, renew_at = [], time.monotonic() + lease / 3
    messages = _load(ids)
    for index, message in enumerate(messages):
        if time.monotonic() > renew_at:
            renew_lease([m.id for m in messages[index:]], lease)
            renew_at = time.monotonic() + lease / 3
            if heartbeat:
                heartbeat()
        try:
            outcomes.append((message, process(message, ctx)))
        except StopBatch as stop:
            apply(outcomes, ctx.connection.close_org_id)
            release([m.id for m in messages[index:]])
            close_access.report_auth_failure(ctx.connection, stop.exc)
            return False
    apply(outcomes, ctx.connection.close_org_id)
    return True


def drain_workspace(workspace_id, heartbeat=None):
    """Work the outbox until empty or the time budget is spent. Returns True if work remains."""
    workspace = db.session.get(Workspace, workspace_id)
    if workspace is None:
        return False
    ctx, why = open_context(workspace)
    if ctx is None:
        return False
    deadline = time.monotonic() + setting("SYNC_DRAIN_BUDGET")
    size, lease = setting("SYNC_BATCH_SIZE"), setting("SYNC_LEASE_SECONDS")
    while time.monotonic() < deadline:
        ids = claim_batch(workspace_id, size, lease)
        if not ids:
            return False
        if not run_batch(ids, ctx, heartbeat):
            # Credentials died: if the connection logic disconnected, the outbox is held now.
            if close_access.live_connection(workspace_id) is None:
                hold_pending(workspace_id, HOLD_DISCONNECTED)
            return False
        if heartbeat:
            heartbeat()
    return True


def sync_message_now(message_id):
    """Route + deliver one message synchronously (for the connection's test-sync job).

    Returns {"state", "lead_id", "lead_url", "reason"}. Raises CloseAuthError when the
    credentials are dead (after reporting it), so the caller can stop its run.
    """
    message = db.session.get(Message, message_id)
    if message is None:
        return {"state": "missing", "lead_id": None, "lead_url": None, "reason": "No such message."}
    if message.state != "synced":
        ctx, why = open_context(db.session.get(Workspace, message.workspace_id))
        if ctx is not None and claim_one(message_id, setting("SYNC_LEASE_SECONDS")):
            db.session.refresh(message)
            try:
                outcome = process(message, ctx)
            except StopBatch as stop:
                release([message_id])
                close_access.report_auth_failure(ctx.connection, stop.exc)
                raise stop.exc
            apply([(message, outcome)], ctx.connection.close_org_id)
        db.session.expire_all()
        message = db.session.get(Message, message_id)
    return {"state": message.state, "lead_id": message.close_lead_id,
            "lead_url": close_access.lead_url(message.close_lead_id), "reason": message.reason}
