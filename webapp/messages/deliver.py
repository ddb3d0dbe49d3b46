"""Delivering one message: route it, then create its WhatsApp activity in Close.

`process()` never raises except StopBatch (the credentials died). A row with attempts > 1 may
have reached Close before its worker died, so it is first looked up by
external_whatsapp_message_id and adopted instead of created twice.
"""
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from webapp.clients.close.client import CloseAuthError, CloseError, CloseRejected, CloseTransient
from webapp.core.extensions import db
from webapp.messages import close_access, cloud_media, outbox, routing
from webapp.messages.payload import build_payload
from webapp.messages.states import HOLD_DISCONNECTED, HOLD_SUBSCRIPTION
from webapp.models import ChatLink, Message, utcnow

log = logging.getLogger(__name__)

CIRCUIT_BREAK = 3  # consecutive messages Close failed on before the rest of the batch backs off
LINK_FIELDS = {"lead", "contact", "lead_id", "contact_id"}
REPLY_FIELDS = {"response_to", "response_to_id"}
USER_FIELDS = {"user", "user_id"}


@dataclass
class Outcome:
    state: str                      # synced | skipped | failed | dead | queued (deferred)
    reason: str = ""
    lead_id: str | None = None
    activity_id: str | None = None
    next_attempt_at: object = None
    retry_soon: bool = False        # deferred: leave queued, short lease
    attachments: list | None = None  # metadata to keep once synced (uploaded files' Close URLs)
    close_down: bool = False        # failed because Close did not answer (timeouts, 5xx, 429, network)


@dataclass
class Context:
    connection: object
    client: object
    activity_ids: dict = field(default_factory=dict)   # external id → activity id (this run)
    routes: dict = field(default_factory=dict)         # chat id → Route (this run)
    # original's external id → activity ids of replies created before it (this run): linked when it lands
    unlinked_replies: dict = field(default_factory=dict)
    transient_streak: int = 0


class StopBatch(Exception):
    """Credentials died: stop, leave the rest of the batch queued."""

    def __init__(self, exc):
        super().__init__(str(exc))
        self.exc = exc


class CloseDown(Exception):
    """Several calls in a row found no Close: stop the drain and leave the rest of the batch queued,
    untouched; one probe per connection finds out when Close is back (drain.py)."""


def open_context(workspace):
    """A Context to deliver with, or None: the outbox is held when there is no Close to talk to,
    left queued when Close is unreachable."""
    if not workspace.subscription_active:
        outbox.hold_pending(workspace.id, HOLD_SUBSCRIPTION)
        return None
    connection = close_access.live_connection(workspace.id)
    if connection is None:
        outbox.hold_pending(workspace.id, HOLD_DISCONNECTED)
        return None
    try:
        client = close_access.client_for_connection(connection)
    except close_access.NoCredentials:
        outbox.hold_pending(workspace.id, HOLD_DISCONNECTED)
        return None
    except CloseAuthError as exc:
        close_access.report_auth_failure(connection, exc)
        return None
    except CloseError as exc:  # token endpoint unreachable: stay queued, try again later
        log.warning("Close unreachable for workspace %s: %s", workspace.id, exc)
        close_access.note_reachability(connection.id, False, f"Close unreachable: {exc.message}")
        raise CloseDown(str(exc)) from exc
    return Context(connection, client)


def probe(ctx):
    """One cheap read call: does Close answer again? Notes the verdict on the connection (the card's
    outage banner). Raises StopBatch when Close answers that the credentials are dead."""
    try:
        ctx.client.me()
    except CloseAuthError as exc:
        raise StopBatch(exc)
    except CloseError as exc:
        close_access.note_reachability(ctx.connection.id, False, f"Close unreachable: {exc.message}")
        return False
    close_access.note_reachability(ctx.connection.id, True)
    return True


def process(message, ctx):
    """Route and deliver one message with quick inline retries. Raises CloseDown once several calls
    in a row failed for lack of Close: the rows left are not worth a timeout (and a write) each."""
    if ctx.transient_streak >= CIRCUIT_BREAK:
        raise CloseDown("Close unreachable (several calls in a row failed)")
    outcome = _with_retries(message, ctx)
    ctx.transient_streak = ctx.transient_streak + 1 if outcome.state == "failed" else 0
    return outcome


def _with_retries(message, ctx):
    maybe_sent = message.attempts > 1   # an earlier attempt may have reached Close
    inline = current_app.config["SYNC_INLINE_RETRIES"]
    for attempt in range(inline + 1):
        try:
            return deliver(message, ctx, maybe_sent)
        except routing.Deferred:
            return Outcome("queued", "Waiting for the chat's new lead to be created.", retry_soon=True)
        except CloseAuthError as exc:
            raise StopBatch(exc)
        except CloseTransient as exc:
            maybe_sent = maybe_sent or exc.ambiguous
            if attempt < inline:
                time.sleep(min(exc.retry_after or 0.2 * (attempt + 1), 5.0))
                continue
            return failed(message, f"Close unreachable: {exc.message}", exc.retry_after, close_down=True)
        except CloseRejected as exc:
            return Outcome("dead", f"Close refused the activity: {exc.message}")
        except cloud_media.MediaSourceDown as exc:  # before any Close write: nothing half-done
            return failed(message, str(exc), None)
        except Exception as exc:  # a bug or an unexpected answer: keep the row, retry later
            db.session.rollback()  # first: a failed flush leaves the session unusable, even to log
            log.exception("sync of message %s failed", message.id)
            return failed(message, f"Unexpected error: {exc}", None)
    raise AssertionError("unreachable")


def failed(message, reason, retry_after, close_down=False):
    """`failed` with an exponential, jittered next attempt; `dead` after SYNC_MAX_ATTEMPTS."""
    config = current_app.config
    if message.attempts >= config["SYNC_MAX_ATTEMPTS"]:
        return Outcome("dead", f"{reason} (gave up after {message.attempts} attempts)", close_down=close_down)
    delay = min(config["SYNC_RETRY_CAP"], config["SYNC_RETRY_BASE"] * 3 ** (message.attempts - 1))
    delay = max(delay * random.uniform(0.8, 1.2), retry_after or 0)
    return Outcome("failed", reason, next_attempt_at=utcnow() + timedelta(seconds=delay), close_down=close_down)


def note_outcomes(connection_id, outcomes):
    """Tell the connection what this batch learned about Close: answered (any message synced or
    refused by Close) or down (only timeouts/5xx/429). Rows routed without a call say nothing."""
    results = [o for _, o in outcomes]
    if any(o.state == "synced" or (o.state == "dead" and not o.close_down) for o in results):
        close_access.note_reachability(connection_id, True)
    elif any(o.close_down for o in results):
        reason = next(o.reason for o in results if o.close_down)
        close_access.note_reachability(connection_id, False, reason)


def route(message, ctx):
    cached = ctx.routes.get(message.chat_id)
    if cached is not None:
        return cached
    result = routing.route(message, ctx.connection, ctx.client)
    if isinstance(result, routing.Route):
        ctx.routes[message.chat_id] = result
    return result


def deliver(message, ctx, maybe_sent, rerouted=False):
    """One attempt. A lead/contact refused by Close (deleted there) is forgotten and the message
    routed again, once (rerouted=True)."""
    result = route(message, ctx)
    if isinstance(result, routing.Skip):
        return Outcome("skipped", result.reason)
    if maybe_sent:
        existing = find_copy(ctx.client, message.external_id, result.lead_id)
        if existing:
            ctx.activity_ids[message.external_id] = existing
            link_waiting_replies(message, existing, ctx)
            return Outcome("synced", "Found in Close after an interrupted attempt.",
                           lead_id=result.lead_id, activity_id=existing)
    built = build_payload(message, ctx, result)
    try:
        activity = create_activity(ctx, built.payload)
    except CloseRejected as exc:
        if set(exc.field_errors) & LINK_FIELDS and not rerouted and result.link is not None:
            forget_link(result.link, ctx, message.chat_id)
            return deliver(message, ctx, False, rerouted=True)
        activity = create_without_refused_fields(ctx, built, exc)
    if rerouted:
        built.notes.append("re-routed: the previously linked lead no longer exists")
    ctx.activity_ids[message.external_id] = activity["id"]
    if message.reply_to_external_id and "response_to_id" not in built.payload:
        # It overtook its original (webhooks arrive in any order): linked once the original lands.
        ctx.unlinked_replies.setdefault(message.reply_to_external_id, []).append(activity["id"])
    link_waiting_replies(message, activity["id"], ctx)
    return Outcome("synced", "; ".join(built.notes), lead_id=result.lead_id, activity_id=activity["id"],
                   attachments=built.attachments)


def link_waiting_replies(original, activity_id, ctx):
    """Replies that reached Close before their original now point at it: Close lets a WhatsApp
    activity's response_to_id be set later (PUT). A reply synced before its original could not have
    had the link. Best effort: a failed update leaves that reply as it was."""
    waiting = list(ctx.unlinked_replies.pop(original.external_id, []))
    waiting += db.session.scalars(sa.select(Message.close_activity_id).where(
        Message.workspace_id == original.workspace_id, Message.reply_to_external_id == original.external_id,
        Message.state == "synced", Message.close_org_id == ctx.connection.close_org_id,
        Message.close_activity_id.is_not(None), Message.id != original.id)).all()
    for reply_activity in dict.fromkeys(waiting):
        try:
            ctx.client.update_whatsapp_activity(reply_activity, {"response_to_id": activity_id})
        except CloseError as exc:
            log.warning("could not link reply activity %s to its original: %s", reply_activity, exc.message)


def create_activity(ctx, payload):
    """Incoming messages also land in Close's Inbox when the connection's setting says so."""
    inbox = bool(ctx.connection.send_to_inbox) and payload["direction"] == "incoming"
    return ctx.client.create_whatsapp_activity(payload, send_to_inbox=inbox)


def create_without_refused_fields(ctx, built, refused, create=create_activity):
    """Close refused an optional field: a reply to an activity gone from Close, or a user_id it no
    longer accepts (e.g. a deactivated Close user). The message still belongs in Close, so it goes
    again without that field, and the row says so. Each field is dropped at most once; any other
    refusal is raised."""
    while drop_refused_field(built, refused):
        try:
            return create(ctx, built.payload)
        except CloseRejected as exc:
            refused = exc
    raise refused


def drop_refused_field(built, refused):
    """Remove the optional field Close refused from the payload and note it; False when none."""
    fields = set(refused.field_errors)
    if fields & REPLY_FIELDS and built.payload.pop("response_to_id", None):
        built.notes.append("the replied-to activity is gone in Close")
        return True
    if fields & USER_FIELDS and "user_id" in built.payload:
        user_id = built.payload.pop("user_id")
        built.notes.append(f"synced without attributing it to Close user {user_id} "
                           f"(Close refused it: {refused.message})")
        return True
    return False


def find_copy(client, external_id, lead_id):
    """Id of the activity with this external id already on lead_id in Close, or None."""
    return next((a["id"] for a in client.find_whatsapp_activities(external_id) if a.get("lead_id") == lead_id),
                None)


def forget_link(link, ctx, chat_id):
    ctx.routes.pop(chat_id, None)
    db.session.execute(sa.delete(ChatLink).where(ChatLink.id == link.id))
    db.session.commit()
