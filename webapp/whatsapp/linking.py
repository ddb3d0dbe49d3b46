"""Link a member's WhatsApp through a gateway session, follow its state, unlink and relink.

States (NumberLink.state): starting → qr → linked; failed / stopped / unreachable when it stops;
refused when the number turned out to be linked elsewhere. The gateway's own status arrives by
webhook (`session.status`) and by polling (`refresh`, page polls and the periodic check).

A linked session that FAILED is restarted first, once by itself (waha.md §2.4): a crash comes
back with its stored login and nobody rescans. Only when the restart does not bring it back, or
the gateway asks for a QR code after it (the phone unlinked the device), is a relink offered.
"""
import logging
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from rq import Retry

from webapp.clients.gateways import base
from webapp.core import crypto
from webapp.core.extensions import db
from webapp.core.phones import InvalidPhone, to_e164
from webapp.core.redis_conn import get_queue
from webapp.messages import gate
from webapp.models import Chat, Gateway, NumberLink, WhatsAppNumber, utcnow
from webapp.models.whatsapp import TROUBLE_STATES, UNLINKED_ON_PHONE
from webapp.whatsapp import notify, reconcile
from webapp.whatsapp.gateways_service import client_for

log = logging.getLogger(__name__)

STATUS_TO_STATE = {base.WORKING: "linked", base.QR: "qr", base.STARTING: "starting", base.FAILED: "failed",
                   base.STOPPED: "stopped", "PASSKEY_REQUIRED": "qr", "PASSKEY_CONFIRMATION_REQUIRED": "qr"}


class LinkRefused(Exception):
    pass


def webhook_url(gateway):
    root = current_app.config.get("WHATSAPP_WEBHOOK_BASE_URL") or current_app.config["PUBLIC_URL"]
    return f"{root.rstrip('/')}/api/webhooks/{gateway.kind}/{gateway.id}"


def _session_name(gateway, membership):
    if gateway.single_session:
        return "default"
    return f"cl-{membership.workspace_id}-{membership.id}-{secrets.token_hex(3)}"


def start_link(gateway, membership, actor=None):
    """Create and start a session for `membership` on `gateway`. Returns the NumberLink."""
    if gateway.single_session and any(link.session_name == "default" for link in gateway.links):
        raise LinkRefused(f"{gateway.name} serves a single WhatsApp number (WAHA Core before 2026.6.1) and "
                          "it is already in use. Add another gateway or unlink that number first.")
    link = NumberLink(workspace_id=gateway.workspace_id, gateway=gateway, membership_id=membership.id,
                      session_name=_session_name(gateway, membership), state="starting",
                      hmac_key_enc=crypto.encrypt(secrets.token_urlsafe(32)),
                      created_by_id=actor.id if actor else None)
    db.session.add(link)
    db.session.commit()
    _start_session(link)
    return link


def _start_session(link):
    metadata = {"closeline.workspace": link.workspace_id, "closeline.link": link.id,
                "closeline.member": link.membership.user.email if link.membership else ""}
    try:
        state = client_for(link.gateway).start_session(
            link.session_name, webhook_url=webhook_url(link.gateway),
            hmac_key=crypto.decrypt(link.hmac_key_enc), metadata=metadata)
    except base.GatewayError as exc:
        if exc.kind == "single_session" and link.session_name != "default" and _switch_to_default(link):
            return _start_session(link)  # an untested WAHA Core: it serves `default` only
        set_state(link, "unreachable" if exc.kind == "unreachable" else "failed", exc.message)
        return
    set_state(link, STATUS_TO_STATE.get(state.status, "starting"), None, state.status)


def _switch_to_default(link):
    gateway = link.gateway
    gateway.single_session = True
    if any(other.session_name == "default" for other in gateway.links if other.id != link.id):
        db.session.commit()
        return False
    link.session_name = "default"
    db.session.commit()
    return True


def refresh(link):
    """Ask the gateway for the session's status and apply it. Returns the link."""
    try:
        state = client_for(link.gateway).session_state(link.session_name)
    except base.GatewayError as exc:
        if exc.kind == "licence":
            set_state(link, "licence", exc.message)
        elif exc.kind in ("unreachable", "server"):
            set_state(link, "unreachable", f"The gateway {link.gateway.name} does not answer ({exc.message}).")
        elif exc.kind == "not_found":
            set_state(link, "stopped", "The session no longer exists on the gateway: link the number again.")
        elif exc.kind == "unauthorized":
            set_state(link, "unreachable", "The gateway refused Closeline's API key: check the gateway settings.")
        else:
            set_state(link, link.state, exc.message)
        return link
    apply_status(link, state.status, state.me)
    return link


def apply_status(link, status, me=None, at=None):
    """Apply a gateway status. Webhooks carry the gateway's time `at` and arrive in any order: one
    older than the last applied webhook is stale. A poll (`at` None) is the present: always applied,
    without comparing clocks of two machines."""
    if link.state == "refused":
        return
    if at is not None:
        if link.gateway_status_at is not None and at < link.gateway_status_at:
            return
        link.gateway_status_at = at
    new_state = STATUS_TO_STATE.get(status, link.state)
    if status == base.FAILED and link.was_linked:
        _failed(link, status)
        return
    if status == base.STOPPED and link.restarted_at is not None and link.state == "starting":
        return  # the stop half of Closeline's own restart
    if new_state == "qr" and link.restarted_at is not None:
        # Restarted with its stored login, yet the gateway wants a QR code: WhatsApp dropped the device.
        set_state(link, "failed", UNLINKED_ON_PHONE, status)
        return
    if status == base.RECONNECTING:
        # Linked and reconnecting by itself; a link still waiting for its scan keeps its state.
        new_state = "reconnecting" if link.state in ("linked", "reconnecting") else link.state
    if new_state == "linked" and link.whatsapp_number_id is None:
        try:
            if not record_number(link, me or client_for(link.gateway).me(link.session_name)):
                return
        except base.GatewayError as exc:
            set_state(link, link.state, f"Linked, but the number could not be read yet: {exc.message}")
            return
    was = link.state
    if new_state == "linked":
        link.restarted_at = None
    # A reconnect still under way keeps its note (e.g. that Closeline restarted it).
    set_state(link, new_state, link.last_error if new_state == was == "reconnecting" else None, status)
    if new_state == "linked" and was != "linked":
        # Back after a reconnect, a blip or an outage: fetch the gap. A fresh (re)link also looks again
        # later, as the gateway's history of the time unlinked arrives over minutes.
        enqueue_recovery(link, again=was in ("starting", "qr", "failed", "stopped"))


RESTART_DID_NOT_HELP = ("The session failed on the gateway again after a restart. Restart it once more; relink "
                        "(new QR code) only if that does not bring it back.")


def _failed(link, status):
    """A linked session FAILED: restart it once by itself; a second failure is shown with its remedy."""
    if link.state == "failed" and link.gateway_status == status:
        return  # the same FAILED again (a poll, a repeated webhook): already handled
    if link.restarted_at is None and client_for(link.gateway).can_restart:
        restart(link)
        return
    # A kind that can't restart: only a relink brings it back (restarted_at stays empty, so it says so).
    set_state(link, "failed", RESTART_DID_NOT_HELP if link.restarted_at else None, status)


def restart(link):
    """Restart the session with its stored login (no new QR code). Returns the link."""
    link.restarted_at = utcnow()
    try:
        state = client_for(link.gateway).restart_session(link.session_name)
    except base.GatewayError as exc:
        if exc.kind == "unreachable":
            link.restarted_at = None  # never reached the gateway: the next check tries again
            set_state(link, "unreachable", exc.message)
        else:
            set_state(link, "failed", f"Closeline could not restart the session ({exc.message}).", base.FAILED)
        return link
    set_state(link, STATUS_TO_STATE.get(state.status, "starting"),
              "Restarted after the session failed; it links again by itself if WhatsApp still has the device.",
              state.status)
    return link


def record_number(link, me):
    """Record the linked number (E.164) on the member; refuse numbers linked anywhere else."""
    raw = (me or {}).get("id") or ""
    try:
        e164 = to_e164("+" + raw.split("@")[0].split(":")[0])
    except InvalidPhone:
        set_state(link, link.state, "The gateway did not report a valid phone number for this account yet.")
        return False
    elsewhere = db.session.scalar(sa.select(NumberLink).join(WhatsAppNumber, NumberLink.whatsapp_number_id ==
                                                             WhatsAppNumber.id)
                                  .where(WhatsAppNumber.e164 == e164, NumberLink.id != link.id,
                                         NumberLink.state != "refused"))
    number = db.session.scalar(sa.select(WhatsAppNumber).where(
        WhatsAppNumber.workspace_id == link.workspace_id, WhatsAppNumber.e164 == e164))
    problem = None
    if elsewhere is not None:
        problem = f"{e164} is already linked in Closeline (by another member or workspace). Unlink it there first."
    elif number is not None and number.membership_id not in (None, link.membership_id):
        problem = f"{e164} belongs to another member of this workspace."
    if problem:
        refuse(link, problem)
        return False
    if number is None:
        number = WhatsAppNumber(workspace_id=link.workspace_id, membership_id=link.membership_id, e164=e164,
                                label=f"WhatsApp ({link.gateway.name})"[:60])
        db.session.add(number)
        db.session.flush()
    elif number.membership_id is None:
        number.membership_id = link.membership_id
    link.whatsapp_number_id = number.id
    link.me_id, link.me_lid = raw[:80], ((me or {}).get("lid") or None)
    link.linked_at = utcnow()
    db.session.commit()
    return True


def refuse(link, problem):
    try:
        client_for(link.gateway).logout_and_delete(link.session_name)
    except base.GatewayError:
        log.warning("could not end refused session %s on gateway %s", link.session_name, link.gateway_id)
    set_state(link, "refused", problem)


def set_state(link, state, error=None, gateway_status=None):
    """Record a state change with its time; tell people when a working number stops."""
    old = link.state
    if state != old:
        link.state, link.state_since = state, utcnow()
    link.last_error = error
    if gateway_status is not None:
        link.gateway_status = gateway_status[:40]
    emails = text = None
    if state == "linked":
        link.was_linked = True
    elif old != state and state in TROUBLE_STATES and link.was_linked:
        emails, text = notify.number_trouble(link)
    db.session.commit()
    if emails:
        notify.send(emails, text)


def unlink(link):
    """Log out and delete the session, then forget the link (the number and its messages stay)."""
    warning = None
    try:
        client_for(link.gateway).logout_and_delete(link.session_name)
    except base.GatewayError as exc:
        warning = f"The gateway could not be told ({exc.message}); end the session there if it still runs."
    db.session.delete(link)
    db.session.commit()
    return warning


def relink(link):
    """Start over after FAILED/stopped: a fresh session (new QR) under the same link row. Never
    deletes a session the gateway still reports working, nor acts while the gateway can't tell."""
    client = client_for(link.gateway)
    try:
        current = client.session_state(link.session_name)
    except base.GatewayError as exc:
        if exc.kind in ("unreachable", "server", "licence", "unauthorized", "refused"):
            refresh(link)  # say what is wrong; the session stays as it is
            return link
        current = None     # the session is gone (not_found) or unreadable: start over
    if current is not None and current.status in (base.WORKING, base.RECONNECTING):
        apply_status(link, current.status, current.me)
        return link
    try:
        client.logout_and_delete(link.session_name)
    except base.GatewayError as exc:
        if exc.kind == "unreachable":
            set_state(link, "unreachable", exc.message)
            return link
    link.hmac_key_enc = crypto.encrypt(secrets.token_urlsafe(32))
    link.last_error, link.restarted_at = None, None
    set_state(link, "starting")
    _start_session(link)
    return link


def qr_png(link):
    """The QR code the gateway shows right now (PNG bytes); GatewayError when it rotated away."""
    return client_for(link.gateway).qr_png(link.session_name)


def pairing_code(link, phone):
    """The code to type on the phone instead of scanning; InvalidPhone / GatewayError."""
    return client_for(link.gateway).pairing_code(link.session_name, to_e164(phone).lstrip("+"))


RECONCILE_LATER_JOB = "jobs.whatsapp.recover"


def enqueue_recovery(link, again=False):
    """A reconciliation of the link now (reconcile.request_reconciliation) and, with `again`, one more
    request after each of GATEWAY_LINK_RECOVERY_DELAYS."""
    reconcile.request_reconciliation(link, "reconnect")
    if not again:
        return
    try:
        queue = get_queue()
        for delay in _link_recovery_delays():
            queue.enqueue_in(timedelta(seconds=delay), RECONCILE_LATER_JOB, link.id, job_timeout=60, result_ttl=600,
                             description=f"WhatsApp reconciliation of link {link.id}, later")
    except Exception:
        log.exception("could not schedule the later reconciliations of link %s (the schedule catches up)", link.id)


def _link_recovery_delays():
    raw = str(current_app.config.get("GATEWAY_LINK_RECOVERY_DELAYS") or "")
    return [int(part) for part in raw.replace(" ", "").split(",") if part.isdigit() and int(part) > 0]


END_SESSION_JOB = "jobs.whatsapp.end_session"


def on_member_removed(membership, actor=None, **_):
    """A removed member's WhatsApp stops syncing at once: their numbers are stopped (the gate stores
    nothing of them from now on), their links are forgotten, and a job ends each session at its
    gateway (retried while the gateway is down). The owner and admins are told."""
    now = utcnow()
    numbers = [number.e164 for number in membership.numbers]
    for number in membership.numbers:
        number.stopped_at = now
    chat_ids = db.session.scalars(sa.select(Chat.id).where(
        Chat.whatsapp_number_id.in_([number.id for number in membership.numbers]))).all()
    if chat_ids:  # what was waiting to sync stays out of Close too, with its content dropped
        gate.scrub_unsent(membership.workspace_id, chat_ids, gate.EXCLUDED_FORMER_MEMBER)
    links = db.session.scalars(sa.select(NumberLink).where(NumberLink.membership_id == membership.id)).all()
    sessions = [(link.gateway_id, link.session_name) for link in links]
    for link in links:
        db.session.delete(link)
    if numbers:
        notify.member_numbers_stopped(membership, numbers, len(sessions))
    db.session.flush()
    for gateway_id, session_name in sessions:
        get_queue().enqueue(END_SESSION_JOB, gateway_id, session_name,
                            retry=Retry(max=5, interval=[30, 120, 600, 1800, 3600]),
                            result_ttl=300, failure_ttl=7 * 24 * 3600,
                            description=f"end session {session_name} of a removed member")


def end_session(gateway_id, session_name):
    """Log out and delete a session at its gateway (the job of a member's removal)."""
    gateway = db.session.get(Gateway, gateway_id)
    if gateway is None:
        return "gateway gone"
    client_for(gateway).logout_and_delete(session_name)  # a GatewayError makes RQ retry
    return "ended"
