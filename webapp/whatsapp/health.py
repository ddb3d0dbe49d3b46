"""Number health: the periodic check (rq cron) and the summaries shown on pages."""
import sqlalchemy as sa

from webapp.core.extensions import db
from webapp.models import Gateway, NumberLink
from webapp.whatsapp import inbox, linking


def check_all():
    """Refresh every link's state from its gateway; retry held/failed webhook events."""
    checked = 0
    for link_id in db.session.scalars(sa.select(NumberLink.id).where(NumberLink.state != "refused")).all():
        link = db.session.get(NumberLink, link_id)
        if link is not None:
            linking.refresh(link)
            checked += 1
    for gateway_id in db.session.scalars(sa.select(Gateway.id)).all():
        inbox.retry_waiting(gateway_id)
    inbox.forget_old()
    return checked


def summary(workspace_id, membership_id=None):
    """[(link, label, since)] of the workspace (or one member), for the dashboard and Team page."""
    query = sa.select(NumberLink).where(NumberLink.workspace_id == workspace_id).order_by(NumberLink.id)
    if membership_id is not None:
        query = query.where(NumberLink.membership_id == membership_id)
    return db.session.scalars(query).all()


def by_number(workspace_id):
    """{whatsapp_number_id: link} for the Team page."""
    return {link.whatsapp_number_id: link for link in summary(workspace_id) if link.whatsapp_number_id}
