"""/_sandbox/ control API: reset, inspect and bend the fake Close (tests and demos only)."""
from flask import Blueprint, jsonify, request

from . import serialize
from .core import sandbox
from .ids import iso, token
from .pages import revoke_grants
from .ratelimit import GROUPS, METHODS, valid_group
from .state import MANAGE_ORGANIZATION, VIEW_ALL_LEADS, ApiKey

bp = Blueprint("control", __name__, url_prefix="/_sandbox")


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


@bp.errorhandler(ControlError)
def _control_error(exc):
    return jsonify({"error": exc.message}), exc.status


def _body() -> dict:
    body = request.get_json(silent=True) if request.data else {}
    if not isinstance(body, dict):
        raise ControlError(400, "Send a JSON object.")
    return body


def _org_from(body, required=True):
    world = sandbox().world
    org = None
    if body.get("organization_id"):
        org = world.org(body["organization_id"])
    elif body.get("organization_name"):
        org = world.org_by_name(body["organization_name"])
    elif not required:
        return None
    if org is None:
        raise ControlError(404, "Organization not found.")
    return org


@bp.post("/reset")
def reset():
    sandbox().reset()
    return jsonify({"ok": True})


@bp.get("/state")
def state():
    world = sandbox().world
    users = world.users
    orgs = []
    for org in world.organizations.values():
        orgs.append({
            "id": org.id, "name": org.name, "deleted": org.deleted,
            "lead_statuses": org.lead_statuses,
            "memberships": [{"id": m.id, "user_id": m.user_id, "email": users[m.user_id].email,
                             "role_id": m.role_id, "active": m.active}
                            for m in world.memberships.values() if m.organization_id == org.id],
            "roles": [serialize.role(r) for r in world.org_roles(org.id)],
            "counts": {"leads": sum(1 for x in world.leads.values() if x.organization_id == org.id),
                       "contacts": sum(1 for x in world.contacts.values() if x.organization_id == org.id),
                       "whatsapp_messages": sum(1 for x in world.whatsapp.values() if x.organization_id == org.id)},
        })
    return jsonify({
        "now": iso(world.now()), "time_offset": world.time_offset,
        "organizations": orgs,
        "users": [{"id": u.id, "email": u.email, "name": u.full_name} for u in users.values()],
        "oauth_clients": [{"client_id": c.client_id, "name": c.name, "redirect_uris": c.redirect_uris}
                          for c in world.clients.values()],
        "grants": [{"id": g.id, "client_id": g.client_id, "user_id": g.user_id, "user_email": users[g.user_id].email,
                    "organization_id": g.organization_id, "date_created": iso(g.date_created),
                    "revoked": g.revoked_at is not None, "live": world.grant_is_live(g)}
                   for g in world.grants.values()],
        "api_keys": [{"user_email": users[k.user_id].email, "organization_id": k.organization_id}
                     for k in world.api_keys.values()],
        "rate_limits": sandbox().limiter.config(),
        "faults": sandbox().faults.snapshot(),
    })


@bp.delete("/organizations/<org_id>")
def delete_org(org_id):
    org = sandbox().world.org(org_id)
    if org is None:
        raise ControlError(404, "Organization not found.")
    org.deleted = True
    return jsonify({"ok": True, "organization_id": org_id})


def _membership(org_id, email):
    world = sandbox().world
    user = world.user_by_email(email)
    membership = world.membership(user.id, org_id, active_only=False) if user and world.org(org_id) else None
    if membership is None:
        raise ControlError(404, "Membership not found.")
    return membership


@bp.delete("/organizations/<org_id>/memberships/<email>")
def deactivate_membership(org_id, email):
    membership = _membership(org_id, email)
    membership.active = False
    return jsonify({"ok": True, "membership_id": membership.id, "active": False})


@bp.post("/organizations/<org_id>/memberships/<email>")
def reactivate_membership(org_id, email):
    membership = _membership(org_id, email)
    membership.active = True
    return jsonify({"ok": True, "membership_id": membership.id, "active": True})


@bp.post("/grants/revoke")
def revoke():
    body, world = _body(), sandbox().world
    user_id = None
    if body.get("user_email"):
        user = world.user_by_email(body["user_email"])
        if user is None:
            raise ControlError(404, "User not found.")
        user_id = user.id
    count = revoke_grants(world, user_id=user_id, client_id=body.get("client_id"),
                          organization_id=body.get("organization_id"))
    return jsonify({"revoked": count})


@bp.put("/roles/<role_id>")
def update_role(role_id):
    body, world = _body(), sandbox().world
    role = world.find_role(role_id, body.get("organization_id"))
    if role is None:
        raise ControlError(404, "Role not found (built-in ids such as 'admin' need organization_id).")
    if "permissions" in body:
        if not isinstance(body["permissions"], list) or not all(isinstance(p, str) for p in body["permissions"]):
            raise ControlError(400, "permissions must be a list of strings.")
        role.permissions = list(dict.fromkeys(body["permissions"]))
    for name in body.get("add", []):
        role.set_permission(name, True)
    for name in body.get("remove", []):
        role.set_permission(name, False)
    if "lead_visibility" in body:
        if body["lead_visibility"] not in ("all", "own"):
            raise ControlError(400, "lead_visibility must be 'all' or 'own'.")
        role.set_permission(VIEW_ALL_LEADS, body["lead_visibility"] == "all")
    if "manage_organization" in body:
        role.set_permission(MANAGE_ORGANIZATION, bool(body["manage_organization"]))
    role.date_updated = world.now()
    return jsonify(serialize.role(role))


@bp.post("/tokens/expire")
def expire_tokens():
    body, world = _body(), sandbox().world
    user = world.user_by_email(body["user_email"]) if body.get("user_email") else None
    if body.get("user_email") and user is None:
        raise ControlError(404, "User not found.")
    count = 0
    now = world.now()
    for access in world.access_tokens.values():
        grant = world.grants.get(access.grant_id)
        if grant is None or access.expires_at <= now:
            continue
        if (user and grant.user_id != user.id) or \
                (body.get("client_id") and grant.client_id != body["client_id"]) or \
                (body.get("organization_id") and grant.organization_id != body["organization_id"]):
            continue
        access.expires_at = now - 1
        count += 1
    return jsonify({"expired": count})


@bp.route("/rate-limits", methods=["GET", "PUT"])
def rate_limits():
    limiter = sandbox().limiter
    if request.method == "PUT":
        body = _body()
        group = body.get("group", "*")
        if group != "*" and not valid_group(group):
            raise ControlError(400, f"group must be '*', one of {list(GROUPS)} or '<group>:<METHOD>' "
                                    f"with METHOD in {list(METHODS)}.")
        try:
            limit, window = int(body["limit"]), float(body.get("window", 10))
        except (KeyError, TypeError, ValueError):
            raise ControlError(400, "limit (int) is required; window in seconds.")
        if limit < 1 or window <= 0:
            raise ControlError(400, "limit must be >= 1 and window > 0.")
        limiter.set_limit(group, limit, window)
    return jsonify(limiter.config())


@bp.route("/faults", methods=["GET", "PUT", "DELETE"])
def faults():
    f = sandbox().faults
    if request.method == "DELETE":
        f.reset()
    elif request.method == "PUT":
        try:
            f.configure(_body())
        except (TypeError, ValueError) as exc:
            raise ControlError(400, str(exc))
    return jsonify(f.snapshot())


@bp.route("/requests", methods=["GET", "DELETE"])
def requests_log():
    sb = sandbox()
    if request.method == "DELETE":
        sb.clear_log()
        return jsonify({"ok": True})
    try:
        since = int(request.args.get("since", 0))
    except ValueError:
        raise ControlError(400, "since must be an integer.")
    entries, next_index = sb.log_since(since)
    return jsonify({"data": entries, "next_index": next_index})


@bp.get("/activities")
def activities():
    world = sandbox().world
    external = request.args.get("external_whatsapp_message_id")
    lead_id = request.args.get("lead_id")
    found = [a for a in world.whatsapp.values()
             if (external is None or a.external_whatsapp_message_id == external)
             and (lead_id is None or a.lead_id == lead_id)]
    found.sort(key=lambda a: (a.activity_at, a.date_created))
    return jsonify({"data": [serialize.whatsapp(world, a) for a in found]})


@bp.post("/api-keys")
def create_api_key():
    body, world = _body(), sandbox().world
    user = world.user_by_email(body.get("email", ""))
    if user is None:
        raise ControlError(404, "User not found.")
    org = _org_from(body)
    if world.membership(user.id, org.id, active_only=False) is None:
        raise ControlError(400, "The user is not a member of that organization.")
    key = token("api_")
    world.api_keys[key] = ApiKey(key, user.id, org.id)
    return jsonify({"key": key, "user_id": user.id, "organization_id": org.id})


@bp.route("/search-index", methods=["GET", "PUT"])
def search_index():
    """{"delay": seconds}: how long new leads/contacts stay invisible to /data/search/."""
    sb = sandbox()
    if request.method == "PUT":
        try:
            delay = float(_body()["delay"])
        except (KeyError, TypeError, ValueError):
            raise ControlError(400, "delay (seconds) is required.")
        if delay < 0:
            raise ControlError(400, "delay must be >= 0.")
        sb.index_delay = delay
    return jsonify({"delay": sb.index_delay})


@bp.put("/organizations/<org_id>")
def update_org(org_id):
    """{"country": "GB"}: the region phones typed without a country code are read in."""
    org, body = sandbox().world.org(org_id), _body()
    if org is None:
        raise ControlError(404, "Organization not found.")
    country = body.get("country")
    if not (isinstance(country, str) and len(country) == 2 and country.isalpha()):
        raise ControlError(400, "country must be a two-letter ISO code.")
    org.country = country.upper()
    return jsonify({"organization_id": org.id, "country": org.country})


@bp.post("/clock")
def clock():
    body, world = _body(), sandbox().world
    if "offset" in body:
        world.time_offset = float(body["offset"])
    if "advance" in body:
        world.time_offset += float(body["advance"])
    return jsonify({"time_offset": world.time_offset, "now": iso(world.now())})
