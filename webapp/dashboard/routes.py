import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.routing import BuildError

from webapp.access import RANK, current_membership, current_workspace, workspace_role
from webapp.account.forms import RegionForm
from webapp.core import phones
from webapp.core.extensions import db
from webapp.dashboard import chart, overview, stats
from webapp.messages import changes
from webapp.messages.totals import totals
from webapp.models import Notification, utcnow
from webapp.whatsapp import health as whatsapp_health

bp = Blueprint("main", __name__)


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    return redirect(url_for("auth.login"))


@bp.route("/dashboard")
@workspace_role("member")
def dashboard():
    workspace = current_workspace()
    membership = current_membership()
    close = overview.close_status(workspace, membership)
    links = whatsapp_health.by_number(workspace.id)
    return render_template("dashboard/dashboard.html", workspace=workspace, membership=membership,
                           close=close, totals=totals(workspace.id),
                           chart=chart.stacked_bars(stats.hourly_outcomes(workspace.id)),
                           numbers=stats.numbers_health(workspace.id, {n: link.badge_key for n, link in links.items()},
                                                        close["badge_key"]),
                           links=links, watch=changes.watch(membership),
                           accounted=whatsapp_health.accounted_by_number(workspace.id))


@bp.route("/no-workspace")
@login_required
def no_workspace():
    if current_membership() is not None:
        return redirect(url_for("main.dashboard"))
    return render_template("dashboard/no_workspace.html")


@bp.route("/notifications")
@workspace_role("member")
def notifications():
    rows = db.session.scalars(
        sa.select(Notification).where(Notification.user_id == current_user.id,
                                      Notification.workspace_id == current_workspace().id)
        .order_by(Notification.created_at.desc()).limit(50)).all()
    return render_template("dashboard/notifications.html", notifications=rows)


@bp.route("/notifications/read", methods=["POST"])
@workspace_role("member")
def mark_notifications_read():
    db.session.execute(
        sa.update(Notification).where(Notification.user_id == current_user.id,
                                      Notification.workspace_id == current_workspace().id,
                                      Notification.read_at.is_(None)).values(read_at=utcnow()))
    db.session.commit()
    return redirect(url_for("main.notifications"))


@bp.app_context_processor
def inject_navigation():
    membership = current_membership() if current_user.is_authenticated else None
    unread = 0
    if membership is not None:
        unread = db.session.scalar(
            sa.select(sa.func.count()).select_from(Notification)
            .where(Notification.user_id == current_user.id,
                   Notification.workspace_id == membership.workspace_id,
                   Notification.read_at.is_(None)))
    return {"current_membership": membership, "unread_notifications": unread,
            "nav_items": NAV_ITEMS, "nav_url": _nav_url, "subscription_pause": overview.subscription_pause,
            "phone_regions": phones.regions_for, "region_name": phones.region_name, "region_form": _region_form,
            "role_at_least": lambda role: membership is not None and RANK[membership.role] >= RANK[role]}


# (endpoint, label, minimum role); features that are not installed are left out.
NAV_ITEMS = [
    ("main.dashboard", "Dashboard", "member"),
    ("close.page", "Close CRM", "member"),
    ("sync.status", "Sync status", "member"),
    ("whatsapp.page", "WhatsApp", "member"),
    ("privacy.page", "Privacy", "member"),
    ("history.page", "History import", "admin"),
    ("team.index", "Team", "member"),
    ("account.api_keys", "API keys", "admin"),
    ("account.whatsapp_cloud", "WhatsApp Cloud API", "admin"),
    ("account.subscription", "Subscription", "owner"),
]


def _nav_url(endpoint, **values):
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def _region_form(workspace):
    return RegionForm(formdata=None, default_region=workspace.default_region or "")
