"""The webhook inbox: accept a gateway delivery (verify, store, answer), then process it in a job.

accept(): the HMAC is checked on the raw body against the keys of the gateway's sessions before
anything is parsed; the envelope is stored once per dedupe key (WAHA's message id + event), so
repeated deliveries are answered 200 and change nothing. Processing happens in
`jobs.whatsapp.process_events` — one job per gateway at a time (a Redis flag, like the sync drain).
"""
import json
import logging
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from webapp.clients.close.client import CloseError
from webapp.clients.gateways import base
from webapp.clients.gateways.registry import client_for_kind
from webapp.core import crypto
from webapp.core.extensions import db
from webapp.core.redis_conn import JobFlag, get_queue
from webapp.messages import edits
from webapp.models import Gateway, GatewayEvent, NumberLink, utcnow
from webapp.whatsapp import ingest_bridge, linking, messages, settings
from webapp.whatsapp.gateways_service import client_for

log = logging.getLogger(__name__)

PROCESS_JOB = "jobs.whatsapp.process_events"
PROCESSING = JobFlag("closeline:whatsapp:events", 120)
BATCH = 50
MAX_ATTEMPTS = 30           # held/failed events are retried by the sweep (about every minute)
HOLD_LIFETIME = timedelta(days=2)


# -- accepting a delivery ------------------------------------------------------------------------------

_plain_keys = {}  # ciphertext → key: decrypting once per process keeps the webhook fast


def _key(ciphertext):
    if ciphertext not in _plain_keys:
        if len(_plain_keys) > 10_000:
            _plain_keys.clear()
        _plain_keys[ciphertext] = crypto.decrypt(ciphertext)
    return _plain_keys[ciphertext]


def signed_by_gateway(gateway, raw, headers, client=None):
    checker = (client or _webhook_reader(gateway)).signature_ok
    keys = db.session.scalars(sa.select(NumberLink.hmac_key_enc).where(NumberLink.gateway_id == gateway.id)).all()
    return any(checker(raw, headers, _key(key)) for key in keys)


def _webhook_reader(gateway):
    """The gateway's client without its API key: reading a webhook needs no call to the gateway."""
    return client_for_kind(gateway.kind, gateway.base_url, None)


def accept(gateway, raw, headers):
    """(HTTP status, body dict). Nothing is stored unless the signature is right."""
    client = _webhook_reader(gateway)
    if not signed_by_gateway(gateway, raw, headers, client):
        return 401, {"error": "bad_signature", "message": "Missing or wrong webhook signature or secret."}
    try:
        envelope = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        envelope = None
    if not isinstance(envelope, dict) or not envelope.get("event"):
        return 400, {"error": "invalid_json", "message": "The body must be a gateway event (JSON object)."}
    gateway_id = gateway.id
    row = dict(workspace_id=gateway.workspace_id, gateway_id=gateway_id, dedupe_key=client.dedupe_key(envelope),
               event=str(envelope["event"])[:40], session_name=str(client.session_of(envelope) or "")[:60],
               payload=envelope, state="received", reason="", attempts=0, created_at=utcnow())
    try:
        # One INSERT and a commit: the unique (gateway, dedupe key) turns a repeat into a no-op.
        db.session.execute(sa.insert(GatewayEvent).values(**row))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return 200, {"status": "duplicate"}
    kick(gateway_id)
    return 200, {"status": "stored"}


# -- scheduling ------------------------------------------------------------------------------------------

def kick(gateway_id):
    """Make sure a processing job for the gateway is queued or running (never raises)."""
    try:
        if PROCESSING.claim(gateway_id):
            get_queue().enqueue(PROCESS_JOB, gateway_id, job_timeout=900, result_ttl=60,
                                failure_ttl=24 * 3600, description=f"WhatsApp events of gateway {gateway_id}")
    except Exception:
        log.exception("could not schedule WhatsApp event processing for gateway %s", gateway_id)


def finish(gateway_id):
    PROCESSING.drop(gateway_id)
    if _pending_ids(gateway_id, 1):
        kick(gateway_id)


def _pending_ids(gateway_id, limit, states=("received",)):
    return list(db.session.scalars(sa.select(GatewayEvent.id).where(
        GatewayEvent.gateway_id == gateway_id, GatewayEvent.state.in_(states))
        .order_by(GatewayEvent.id).limit(limit)))


# -- processing ---------------------------------------------------------------------------------------------

def process_pending(gateway_id):
    """Process the gateway's new events in arrival order. Returns how many were handled."""
    gateway = db.session.get(Gateway, gateway_id)
    if gateway is None:
        return 0
    client, done = client_for(gateway), 0
    while True:
        ids = _pending_ids(gateway_id, BATCH)
        if not ids:
            return done
        for event_id in ids:
            process_one(db.session.get(GatewayEvent, event_id), gateway, client)
            done += 1
            PROCESSING.refresh(gateway_id)  # media downloads can be slow: keep the one-job-per-gateway flag


def retry_waiting(gateway_id, limit=500):
    """The sweep: try each held or failed event once more (LIDs resolved later, gateway back…)."""
    gateway = db.session.get(Gateway, gateway_id)
    if gateway is None:
        return 0
    client = client_for(gateway)
    ids = _pending_ids(gateway_id, limit, ("held", "failed"))
    for event_id in ids:
        process_one(db.session.get(GatewayEvent, event_id), gateway, client)
    return len(ids)


def process_one(event, gateway, client):
    event.attempts += 1
    link = db.session.scalar(sa.select(NumberLink).where(NumberLink.gateway_id == gateway.id,
                                                         NumberLink.session_name == event.session_name))
    try:
        if link is None:
            _finish(event, "ignored", "no linked number uses this session")
            return
        outcomes = [handle(link, client, parsed, event.payload) for parsed in client.parse_webhook(event.payload)]
        state, reason = outcomes[-1] if outcomes else ("ignored", "nothing to do")
        _finish(event, state, reason)
    except (messages.Hold, edits.Busy) as hold:
        _finish(event, "held", str(hold))
    except (base.GatewayError, CloseError, edits.NoCloseConnection) as exc:
        db.session.rollback()
        _finish(event, "failed", f"{type(exc).__name__}: {getattr(exc, 'message', exc)}")
    except Exception as exc:  # keep the event, look at it later; never lose the delivery
        log.exception("WhatsApp event %s failed", event.id)
        db.session.rollback()
        _finish(event, "failed", f"Unexpected error: {exc}")


def _finish(event, state, reason):
    event = db.session.merge(event)
    if state in ("held", "failed") and (event.attempts >= MAX_ATTEMPTS or
                                        event.created_at < utcnow() - HOLD_LIFETIME):
        state, reason = "dead", f"{reason} (gave up after {event.attempts} attempts)"
    event.state, event.reason, event.processed_at = state, reason[:2000], utcnow()
    db.session.commit()


def handle(link, client, parsed, envelope):
    """One parsed event → (inbox state, reason)."""
    if isinstance(parsed, base.StatusEvent):
        linking.apply_status(link, parsed.status, parsed.me, parsed.at)
        return "done", f"session {parsed.status}"
    if isinstance(parsed, base.IgnoredEvent):
        return "ignored", parsed.reason
    if link.number is None:
        raise messages.Hold("the number of this session is not known yet")
    if isinstance(parsed, base.MessageEvent):
        item = messages.to_item(link, client, parsed.message)
        if item is None:
            return "ignored", "status broadcast or channel"
        counts = ingest_bridge.submit(link.workspace_id, link.whatsapp_number_id, [item], link.gateway.kind)
        if counts["invalid"]:
            return "dead", f"invalid message: {counts['errors']}"
        return "done", "stored" if counts["stored"] else "duplicate"
    if isinstance(parsed, base.EditEvent):
        outcome = edits.update_text(link.workspace_id, _target_id(link, client, parsed), parsed.text)
        if outcome == "missing":
            raise messages.Hold("the edited message has not arrived yet")
        return "done", f"edit {outcome}"
    if isinstance(parsed, base.RevokeEvent):
        outcome = edits.mark_revoked(link.workspace_id, _target_id(link, client, parsed),
                                     settings.mirror_deletions(link.workspace_id))
        if outcome == "missing":
            raise messages.Hold("the deleted message has not arrived yet")
        return "done", f"revoke {outcome}"
    return "ignored", "unknown event"


def _target_id(link, client, parsed):
    """External id of the message an edit or revoke is about."""
    if parsed.chat_jid is None:
        found = messages.stored_id_by_short_id(link, parsed.short_id)
        if found is None:
            raise messages.Hold("the message this refers to has not arrived yet")
        return found
    chat = messages.resolve_chat(link, client, parsed.chat_jid)
    return messages.canonical_id(parsed.from_me, chat, parsed.short_id)


def forget_old(days=7):
    """Handled deliveries are kept a week (dedupe window for late retries, and for support), then dropped."""
    cutoff = utcnow() - timedelta(days=days)
    db.session.execute(sa.delete(GatewayEvent).where(GatewayEvent.state.in_(("done", "ignored", "dead")),
                                                     GatewayEvent.created_at < cutoff))
    db.session.commit()


def counts_by_state(workspace_id):
    return dict(db.session.execute(sa.select(GatewayEvent.state, sa.func.count())
                                   .where(GatewayEvent.workspace_id == workspace_id)
                                   .group_by(GatewayEvent.state)).all())
