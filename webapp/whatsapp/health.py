"""Number health: the periodic check (rq cron) and the summaries shown on pages."""
import sqlalchemy as sa

from webapp.core import row_jobs
from webapp.core.extensions import db
from webapp.models import Gateway, NumberLink
from webapp.whatsapp import inbox, linking, reconcile


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
