"""Pages a person clicks: sign-in, authorized apps, roles, lead page."""
import hmac
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from .core import sandbox
from .ids import iso
from .state import MANAGE_ORGANIZATION, VIEW_ALL_LEADS

bp = Blueprint("pages", __name__)


def signed_in_user():
    world = sandbox().world
    return world.users.get(session.get("user_id") or "")


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(16)
    return session["csrf"]


def check_csrf() -> bool:
    sent = request.form.get("csrf_token", "")
    return bool(session.get("csrf")) and hmac.compare_digest(sent, session["csrf"])


def _safe_next(target: str | None) -> str:
    # only same-site relative paths, to avoid an open redirect
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("pages.authorized_apps")


def _require_user():
    user = signed_in_user()
    if user is None:
        return None, redirect(url_for("pages.login", next=request.full_path))
    return user, None


@bp.route("/login/", methods=["GET", "POST"])
def login():
    next_url = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("login.html", next=next_url, email="")
    world = sandbox().world
    email = request.form.get("email", "")
    user = world.user_by_email(email)
    if user is None or not hmac.compare_digest(user.password, request.form.get("password", "")):
        return render_template("login.html", next=next_url, email=email,
                               error="Incorrect email or password."), 401
    session.clear()
    session["user_id"] = user.id
    return redirect(next_url)


@bp.route("/logout/", methods=["GET", "POST"])
def logout():
    session.clear()
    return redirect(url_for("pages.login"))


@bp.get("/")
def index():
    return redirect(url_for("pages.authorized_apps"))


@bp.get("/settings/accounts-and-apps/authorized-apps/")
def authorized_apps():
    user, bounce = _require_user()
    if bounce:
        return bounce
    world = sandbox().world
    rows = {}
    for grant in world.grants.values():
        if grant.user_id != user.id or not world.grant_is_live(grant):
            continue
        key = (grant.client_id, grant.organization_id)
        if key not in rows or grant.date_created < rows[key]["since"]:
            client = world.clients.get(grant.client_id)
            rows[key] = {"client_id": grant.client_id, "app_name": client.name if client else grant.client_id,
                         "organization_id": grant.organization_id,
                         "organization_name": world.organizations[grant.organization_id].name,
                         "since": grant.date_created}
    apps = sorted(rows.values(), key=lambda r: (r["app_name"], r["organization_name"]))
    for row in apps:
        row["since"] = iso(row["since"])
    return render_template("authorized_apps.html", user=user, apps=apps, csrf=csrf_token(),
                           revoked=request.args.get("revoked"))


@bp.post("/settings/accounts-and-apps/authorized-apps/revoke/")
def revoke_app():
    user, bounce = _require_user()
    if bounce:
        return bounce
    if not check_csrf():
        abort(400)
    world = sandbox().world
    count = revoke_grants(world, user_id=user.id, client_id=request.form.get("client_id"),
                          organization_id=request.form.get("organization_id"))
    return redirect(url_for("pages.authorized_apps", revoked=count))


def revoke_grants(world, user_id=None, client_id=None, organization_id=None) -> int:
    count = 0
    for grant in world.grants.values():
        if grant.revoked_at is not None:
            continue
        if (user_id and grant.user_id != user_id) or (client_id and grant.client_id != client_id) or \
                (organization_id and grant.organization_id != organization_id):
            continue
        grant.revoked_at = world.now()
        count += 1
    return count


@bp.get("/settings/roles/")
def roles():
    user, bounce = _require_user()
    if bounce:
        return bounce
    world = sandbox().world
    sections = []
    for m in world.user_memberships(user.id):
        my_role = world.role(m.organization_id, m.role_id)
        org = world.org(m.organization_id)
        can_manage = bool(my_role and MANAGE_ORGANIZATION in my_role.permissions)
        sections.append({"org": org, "can_manage": can_manage,
                         "roles": world.org_roles(org.id) if can_manage else []})
    return render_template("roles.html", user=user, sections=sections, csrf=csrf_token(),
                           saved=request.args.get("saved"), VIEW_ALL_LEADS=VIEW_ALL_LEADS,
                           MANAGE_ORGANIZATION=MANAGE_ORGANIZATION)


@bp.post("/settings/roles/<org_id>/<role_id>/")
def update_role(org_id, role_id):
    user, bounce = _require_user()
    if bounce:
        return bounce
    if not check_csrf():
        abort(400)
    world = sandbox().world
    membership = world.membership(user.id, org_id)
    my_role = world.role(org_id, membership.role_id) if membership else None
    if my_role is None or MANAGE_ORGANIZATION not in my_role.permissions:
        abort(403)
    role = world.role(org_id, role_id)
    if role is None:
        abort(404)
    if not role.editable:  # like Close: system roles cannot be edited in the UI
        abort(403)
    visibility = request.form.get("lead_visibility")
    if visibility in ("all_leads", "own_leads"):
        role.set_permission(VIEW_ALL_LEADS, visibility == "all_leads")
    role.set_permission(MANAGE_ORGANIZATION, request.form.get("manage_organization") == "on")
    role.date_updated = world.now()
    return redirect(url_for("pages.roles", saved=role.id))


@bp.get("/lead/<lead_id>/")
def lead_page(lead_id):
    user, bounce = _require_user()
    if bounce:
        return bounce
    world = sandbox().world
    lead = world.leads.get(lead_id)
    membership = world.membership(user.id, lead.organization_id) if lead else None
    role = world.role(lead.organization_id, membership.role_id) if membership else None
    if lead is None or role is None or world.org(lead.organization_id) is None or not (
            role.sees_all_leads or lead.owner_id == user.id):
        abort(404)
    activities = sorted((a for a in world.whatsapp.values() if a.lead_id == lead.id),
                        key=lambda a: (a.activity_at, a.date_created))
    contacts = {c.id: c for c in world.lead_contacts(lead)}
    return render_template("lead.html", user=user, lead=lead, contacts=contacts, activities=activities,
                           org=world.organizations[lead.organization_id], iso=iso)
