"""The webhook inbox: accept a gateway delivery (verify, store, answer), then process it in a job.

accept(): the HMAC is checked on the raw body against the keys of the gateway's sessions before
anything is parsed. The body is then parsed into the gateway-neutral events and screened by the
privacy gate (an excluded chat keeps no content; text and file names are redacted); only that
screened form is stored, once per dedupe key (WAHA's message id + event), so repeated deliveries
are answered 200 and change nothing. The raw body, and any secret in it (Evolution sends its
instance token), is never written. A processed event keeps only what idempotency needs.
Processing happens in `jobs.whatsapp.process_events` — one job per gateway at a time.
"""
import dataclasses
import json
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from webapp.clients.close.client import CloseError
from webapp.clients.gateways import base
from webapp.clients.gateways.formats import phone_jid
from webapp.clients.gateways.registry import client_for_kind
from webapp.core import crypto, input_guard, row_jobs
from webapp.core.extensions import db
from webapp.core.redis_conn import JobFlag, get_queue
from webapp.messages import edits, gate
from webapp.models import Chat, Gateway, GatewayEvent, NumberLink, utcnow
from webapp.whatsapp import ingest_bridge, linking, messages, reconcile, settings
from webapp.whatsapp.gateways_service import client_for

log = logging.getLogger(__name__)

PROCESS_JOB = "jobs.whatsapp.process_events"
PROCESSING = JobFlag("closeline:whatsapp:events", 120)
BATCH = 50
MAX_ATTEMPTS = 30           # held/failed events are retried by the sweep (about every minute)
HOLD_LIFETIME = timedelta(days=2)
HISTORY_WINDOW = timedelta(hours=1)   # as far back before the first link as the first reconciliation looks
FINAL_STATES = ("done", "ignored", "dead")
BAD_SIGNATURE = {"error": "bad_signature",
                 "message": "Missing or wrong webhook signature or secret for the session this event names."}
RECORD_VERSION = 2  # payload = {"v": 2, "events": [screened event records]}; older rows hold the raw body


# -- accepting a delivery ------------------------------------------------------------------------------

_plain_keys = {}  # ciphertext → key: decrypting once per process keeps the webhook fast


def _key(ciphertext):
    if ciphertext not in _plain_keys:
        if len(_plain_keys) > 10_000:
            _plain_keys.clear()
        _plain_keys[ciphertext] = crypto.decrypt(ciphertext)
    return _plain_keys[ciphertext]


def signed_for_session(gateway, client, session_name, raw, headers):
    """Whether the delivery is signed with the key of the session it names: one member's key can't
    speak for a teammate's session."""
    key = db.session.scalar(sa.select(NumberLink.hmac_key_enc).where(NumberLink.gateway_id == gateway.id,
                                                                     NumberLink.session_name == session_name))
    return key is not None and client.signature_ok(raw, headers, _key(key))


def signed_by_gateway(gateway, client, raw, headers):
    """Signed with any key of the gateway (only to tell a bad body from a forged one)."""
    keys = db.session.scalars(sa.select(NumberLink.hmac_key_enc).where(NumberLink.gateway_id == gateway.id)).all()
    return any(client.signature_ok(raw, headers, _key(key)) for key in keys)


def too_old(client, envelope, headers):
    sent = client.sent_at(envelope, headers)
    return sent is not None and abs((utcnow() - sent).total_seconds()) > current_app.config["WEBHOOK_MAX_AGE"]


def _webhook_reader(gateway):
    """The gateway's client without its API key: reading a webhook needs no call to the gateway."""
    return client_for_kind(gateway.kind, gateway.base_url, None)


def accept(gateway, raw, headers):
    """(HTTP status, body dict). Nothing is stored unless the signature is right."""
    client = _webhook_reader(gateway)
    try:
        envelope = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        envelope = None
    if not isinstance(envelope, dict):
        if signed_by_gateway(gateway, client, raw, headers):
            reconcile.refused_delivery(gateway.id)   # a real delivery we can't read: fetch what it carried
            return 400, {"error": "invalid_json", "message": "The body must be a gateway event (JSON object)."}
        return 401, BAD_SIGNATURE
    envelope = input_guard.scrub(envelope)   # NUL (PostgreSQL refuses it) and lone surrogates go
    session_name = str(client.session_of(envelope) or "")[:60]
    if not signed_for_session(gateway, client, session_name, raw, headers):
        return 401, BAD_SIGNATURE
    if too_old(client, envelope, headers):
        reconcile.refused_delivery(gateway.id, session_name)   # a late retry: its message comes from the history
        return 401, {"error": "stale_event", "message": "The event is older than the replay window; it was not stored."}
    if not envelope.get("event"):
        reconcile.refused_delivery(gateway.id, session_name)
        return 400, {"error": "invalid_json", "message": "The body must be a gateway event (JSON object)."}
    gateway_id = gateway.id
    payload, state, reason = _screened_payload(gateway, client, session_name, envelope)
    row = dict(workspace_id=gateway.workspace_id, gateway_id=gateway_id, dedupe_key=client.dedupe_key(envelope),
               event=str(envelope["event"])[:40], session_name=session_name,
               payload=payload, state=state, reason=reason, attempts=0, created_at=utcnow())
    try:
        # One INSERT and a commit: the unique (gateway, dedupe key) turns a repeat into a no-op.
        db.session.execute(sa.insert(GatewayEvent).values(**row))
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return 200, {"status": "duplicate"}
    if state == "dead":
        reconcile.refused_delivery(gateway_id, session_name)  # unreadable: its messages come from the history
    kick(gateway_id)
    return 200, {"status": "stored"}


def _screened_payload(gateway, client, session_name, envelope):
    """(payload, state, reason) to store: the parsed events after the privacy gate. An envelope
    the client cannot read is kept as a dead event with its reason (visible, never retried with
    raw text we did not keep)."""
    try:
        events = client.parse_webhook(envelope)
    except Exception as exc:  # a body we can't read must still be answered and shown, not lost silently
        log.warning("gateway %s sent an event its client could not read: %s", gateway.id, type(exc).__name__)
        return {}, "dead", f"The gateway's event could not be read ({type(exc).__name__})."
    rules = gate.rules_for(gateway.workspace_id)
    number_id = db.session.scalar(sa.select(NumberLink.whatsapp_number_id).where(
        NumberLink.gateway_id == gateway.id, NumberLink.session_name == session_name))
    screened = [_screen(rules, number_id, event) for event in events]
    return {"v": RECORD_VERSION, "events": [base.event_record(event) for event in screened]}, "received", ""


def _screen(rules, number_id, event):
    if isinstance(event, base.MessageEvent):
        message = event.message
        phone_jid = message.phone_hint if message.chat_jid.endswith("@lid") else message.chat_jid
        text = gate.screen_inbound(rules, _chat(number_id, message.chat_jid, phone_jid), _phone(phone_jid),
                                   message.text)
        if text is None:
            return dataclasses.replace(event, message=dataclasses.replace(message, text="", media=[], sender_name=""))
        media = [dataclasses.replace(m, filename=gate.redact_name(rules, m.filename)) for m in message.media]
        return dataclasses.replace(event, message=dataclasses.replace(message, text=text, media=media))
    if isinstance(event, base.EditEvent):
        chat = _chat(number_id, event.chat_jid, event.chat_jid) if event.chat_jid else None
        text = gate.screen_inbound(rules, chat, _phone(event.chat_jid), event.text)
        return dataclasses.replace(event, text=text or "")
    return event


def _chat(number_id, *external_ids):
    """The stored chat of this number with one of these ids (to honour "never sync this chat")."""
    ids = [phone_jid(i) for i in external_ids if i]
    if number_id is None or not ids:
        return None
    return db.session.scalar(sa.select(Chat).where(Chat.whatsapp_number_id == number_id,
                                                   Chat.external_id.in_(ids)).limit(1))


def _phone(jid):
    """+E.164 of a phone JID (…@c.us, …@s.whatsapp.net), None for groups, LIDs and unknowns."""
    if not jid or not jid.endswith(("@c.us", "@s.whatsapp.net")):
        return None
    digits = jid.split("@")[0].split(":")[0]
    return "+" + digits if digits.isdigit() else None


def events_of(event_row, client):
    """The parsed events of an inbox row (rows stored before screening kept the raw body)."""
    payload = event_row.payload or {}
    if payload.get("v") == RECORD_VERSION:
        return [base.event_from_record(record) for record in payload.get("events") or []]
    return client.parse_webhook(payload)


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
    row_jobs.for_each(ids, lambda event_id: process_one(db.session.get(GatewayEvent, event_id), gateway, client),
                      "retry of WhatsApp event", _mark_event)
    return len(ids)


def _mark_event(event_id, exc):
    """An event the sweep could not even try: counted as an attempt, so it ends up dead, not retried forever."""
    event = db.session.get(GatewayEvent, event_id)
    if event is not None:
        event.attempts += 1
        _finish(event, "failed", f"Unexpected error: {type(exc).__name__}")


def process_one(event, gateway, client):
    event.attempts += 1
    link = db.session.scalar(sa.select(NumberLink).where(NumberLink.gateway_id == gateway.id,
                                                         NumberLink.session_name == event.session_name))
    try:
        if link is None:
            _finish(event, "ignored", "no linked number uses this session")
            return
        reconcile.heard_from(link)
        outcomes = [handle(link, client, parsed, event.created_at) for parsed in events_of(event, client)]
        state, reason = outcomes[-1] if outcomes else ("ignored", "nothing to do")
        _finish(event, state, reason)
        if state == "dead":
            reconcile.request_reconciliation(link.id, "refused")
    except messages.HiddenNumber as hold:
        _finish(event, "held", str(hold), hidden_number=True)
    except (messages.Hold, edits.Busy) as hold:
        _finish(event, "held", str(hold))
    except (base.GatewayError, CloseError, edits.NoCloseConnection) as exc:
        db.session.rollback()
        _finish(event, "failed", f"{type(exc).__name__}: {getattr(exc, 'message', exc)}")
    except Exception as exc:  # keep the event, look at it later; never lose the delivery
        log.error("WhatsApp event %s failed: %s", event.id, type(exc).__name__)
        db.session.rollback()
        _finish(event, "failed", f"Unexpected error: {type(exc).__name__}")


def _finish(event, state, reason, hidden_number=False):
    event = db.session.merge(event)
    if hidden_number:  # waits for its number as long as configured, however many times it is asked
        gave_up = state == "held" and event.created_at < utcnow() - hidden_number_wait()
    else:
        gave_up = state in ("held", "failed") and (event.attempts >= MAX_ATTEMPTS or
                                                   event.created_at < utcnow() - HOLD_LIFETIME)
    if gave_up:
        state, reason = "dead", f"{reason} (gave up after {event.attempts} attempts)"
    event.state, event.reason, event.processed_at = state, reason[:2000], utcnow()
    if state in FINAL_STATES:
        event.payload = {}  # the dedupe key is all a late retry needs; the content lives on the message
    db.session.commit()


def hidden_number_wait():
    return timedelta(seconds=current_app.config["WHATSAPP_HIDDEN_NUMBER_WAIT"])


def handle(link, client, parsed, since=None):
    """One parsed event → (inbox state, reason). `since`: when the delivery arrived."""
    if isinstance(parsed, base.StatusEvent):
        linking.apply_status(link, parsed.status, parsed.me, parsed.at)
        return "done", f"session {parsed.status}"
    if isinstance(parsed, base.IgnoredEvent):
        return "ignored", parsed.reason
    if link.number is None:
        raise messages.Hold("the number of this session is not known yet")
    if isinstance(parsed, base.MessageEvent):
        if parsed.history and parsed.message.sent_at < history_floor(link):
            return "ignored", "history from before the number was linked here"
        return _message(link, client, parsed.message, since)
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


def _message(link, client, message, since):
    hidden = message.chat_kind == "direct" and message.chat_jid.endswith("@lid")
    known_before = hidden and messages.has_mapping(link, message.chat_jid)
    try:
        item = messages.to_item(link, client, message)
    except messages.HiddenNumber:
        if since is not None and since < utcnow() - hidden_number_wait():
            ingest_bridge.hidden_number_given_up(link, messages.stand_in_id(message))
            return "ignored", "the customer's number stayed hidden"
        ingest_bridge.show_hidden_number(link, message, messages.stand_in_id(message))
        raise
    if item is None:
        return "ignored", "status broadcast or channel"
    counts = ingest_bridge.submit(link.workspace_id, link.whatsapp_number_id, [item], link.gateway.kind)
    if counts["invalid"]:
        return "dead", f"invalid message: {counts['errors']}"
    if hidden:
        ingest_bridge.hidden_number_resolved(link, messages.stand_in_id(message))
        if not known_before:
            _wake_hidden_numbers(link.gateway_id)
    return "done", "stored" if counts["stored"] else "duplicate"


def _wake_hidden_numbers(gateway_id):
    """A LID's phone was just learned (a lookup, or a later message that carried it): the messages
    waiting for a number are tried again now, not at the next sweep."""
    db.session.execute(sa.update(GatewayEvent).where(
        GatewayEvent.gateway_id == gateway_id, GatewayEvent.state == "held",
        GatewayEvent.reason == messages.UNRESOLVED_LID).values(state="received"))
    db.session.commit()
    kick(gateway_id)


def history_floor(link):
    """The history sync after linking brings what the phone had before; only the time since the
    number was first linked here (minus reconciliation's window) is Closeline's to sync."""
    return (link.linked_at or utcnow()) - HISTORY_WINDOW


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
    db.session.execute(sa.delete(GatewayEvent).where(GatewayEvent.state.in_(FINAL_STATES),
                                                     GatewayEvent.created_at < cutoff))
    db.session.commit()


def counts_by_state(workspace_id):
    return dict(db.session.execute(sa.select(GatewayEvent.state, sa.func.count())
                                   .where(GatewayEvent.workspace_id == workspace_id)
                                   .group_by(GatewayEvent.state)).all())
