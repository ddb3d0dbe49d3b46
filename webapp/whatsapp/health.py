"""Number health: the periodic check (rq cron) and the summaries shown on pages."""
import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from webapp.clients.gateways.base import GatewayError
from webapp.core import row_jobs
from webapp.core.extensions import db
from webapp.models import Gateway, GatewayEvent, NumberLink, utcnow
from webapp.whatsapp import inbox, linking, notify, reconcile
from webapp.whatsapp.gateways_service import client_for

log = logging.getLogger(__name__)
RESTARTED = ("WhatsApp stopped answering this number's connection although the gateway called it connected; "
             "Closeline restarted it at {at:%H:%M} UTC and fetches what it missed.")
RECONNECT_RESTARTED = "The connection to WhatsApp did not come back by itself; Closeline restarted it."
PROBE_FAILED = ("WhatsApp does not answer this number's connection and a restart did not help ({error}). "
                "Try Restart again later, or relink if the phone no longer lists the device.")


def check_all():
    """Refresh every link's state from its gateway; retry held/failed webhook events. Each link and
    each gateway on its own: one that fails is marked and the others are still checked."""
    link_ids = db.session.scalars(sa.select(NumberLink.id).where(NumberLink.state != "refused")).all()
    checked = row_jobs.for_each(link_ids, _refresh, "health check of link", _mark_link)
    gateway_ids = db.session.scalars(sa.select(Gateway.id)).all()
    row_jobs.for_each(gateway_ids, inbox.retry_waiting, "event retry of gateway", _mark_gateway)
    inbox.forget_old()
    return checked


def _refresh(link_id):
    link = db.session.get(NumberLink, link_id)
    if link is not None:
        linking.refresh(link)
        if link.state == "linked":
            check_liveness(link)
        elif link.state == "reconnecting":
            check_reconnect(link)


def _last_event_at(link):
    return db.session.scalar(sa.select(sa.func.max(GatewayEvent.created_at)).where(
        GatewayEvent.gateway_id == link.gateway_id, GatewayEvent.session_name == link.session_name))


def check_liveness(link):
    """A gateway can call a connection open whose socket died unnoticed (a zombie): nothing arrives
    and nothing says so. After GATEWAY_LIVENESS_SILENCE without any event from a linked number, ask
    the gateway for something only a live WhatsApp connection answers; if that fails, restart the
    connection (its session stays: no new QR) and fetch the gap. Returns "ok", "quiet", "restarted"
    or "failed"."""
    client = client_for(link.gateway)
    if not hasattr(client, "probe") or link.number is None:
        return "ok"
    silence = timedelta(seconds=current_app.config.get("GATEWAY_LIVENESS_SILENCE", 900))
    heard = max(filter(None, [_last_event_at(link), link.linked_at, link.state_since]), default=None)
    if heard is not None and heard > utcnow() - silence:
        return "ok"
    digits = link.number.e164.lstrip("+")
    try:
        if client.probe(link.session_name, digits):
            return "quiet"
        client.restart_session(link.session_name)
    except GatewayError as exc:
        linking.set_state(link, "failed", PROBE_FAILED.format(error=exc.message))
        return "failed"
    log.warning("link %s: the gateway's connection was dead although reported open; restarted", link.id)
    notify.connection_restarted(link, RESTARTED.format(at=utcnow()))
    linking.set_state(link, "reconnecting", RESTARTED.format(at=utcnow()))
    return "restarted"


def check_reconnect(link):
    """A reconnect that does not come back within GATEWAY_LIVENESS_SILENCE is restarted (its session
    stays: no new QR); one still not back a silence later is shown as failed, with what to do."""
    silence = timedelta(seconds=current_app.config.get("GATEWAY_LIVENESS_SILENCE", 900))
    if link.state_since is None or link.state_since > utcnow() - silence:
        return "waiting"
    if link.last_error == RECONNECT_RESTARTED:
        linking.set_state(link, "failed", PROBE_FAILED.format(error="restarted, still not connected"))
        return "failed"
    try:
        client_for(link.gateway).restart_session(link.session_name)
    except (GatewayError, AttributeError, NotImplementedError) as exc:
        linking.set_state(link, "failed", PROBE_FAILED.format(error=getattr(exc, "message", "no restart")))
        return "failed"
    link.state_since = utcnow()   # a new wait for the restarted connection
    linking.set_state(link, "reconnecting", RECONNECT_RESTARTED)
    return "restarted"
def _mark_link(link_id, exc):
    link = db.session.get(NumberLink, link_id)
    if link is not None:
        link.last_error = row_jobs.reason(exc)


def _mark_gateway(gateway_id, exc):
    gateway = db.session.get(Gateway, gateway_id)
    if gateway is not None:
        gateway.last_error = row_jobs.reason(exc)


def summary(workspace_id, membership_id=None):
    """[(link, label, since)] of the workspace (or one member), for the dashboard and Team page."""
    query = sa.select(NumberLink).where(NumberLink.workspace_id == workspace_id).order_by(NumberLink.id)
    if membership_id is not None:
        query = query.where(NumberLink.membership_id == membership_id)
    return db.session.scalars(query).all()


def by_number(workspace_id):
    """{whatsapp_number_id: link} for the Team page."""
    return {link.whatsapp_number_id: link for link in summary(workspace_id) if link.whatsapp_number_id}


def accounted_by_number(workspace_id):
    """{whatsapp_number_id: last 24 h figures (reconcile.accounted)} of the workspace's linked numbers."""
    return {link.whatsapp_number_id: reconcile.accounted(link) for link in summary(workspace_id)
            if link.whatsapp_number_id}
