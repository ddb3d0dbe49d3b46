"""/api/v1 blueprint: auth + rate-limit hooks, shared helpers, identity endpoints."""
from flask import Blueprint, g, jsonify, request

from . import serialize
from .auth import resolve
from .core import sandbox
from .errors import ApiError, field_errors, not_found, unauthorized
from .ratelimit import group_for, header_value, retry_after

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _authenticate_and_limit():
    sb = sandbox()
    g.group = group_for(request.path[len("/api/v1"):], request.method)
    caller = resolve(sb.world, request.headers.get("Authorization"))
    g.caller = caller
    credential = caller.credential if caller else "anon:" + (request.remote_addr or "")
    allowed, info = sb.limiter.hit(g.group, credential, caller.org.id if caller else None)
    g.ratelimit = info
    if caller is None:
        raise unauthorized()
    if not allowed:
        raise ApiError(429, {"error": {
            "message": "API call count exceeded for this period",
            "rate_reset": round(info["reset"], 6), "rate_limit": info["limit"],
            "rate_window": info["window"], "rate_limit_type": info["type"],
            "rate_endpoint_group": g.group,
        }}, {"retry-after": retry_after(info)})


@bp.after_request
def _ratelimit_header(resp):
    info = g.get("ratelimit")
    if info:
        resp.headers["ratelimit"] = header_value(info)
    return resp


# --- helpers used by the other API modules --------------------------------

def world():
    return sandbox().world


def caller():
    return g.caller


def json_body() -> dict:
    if request.mimetype != "application/json":
        raise ApiError(415, {"error": "Unsupported Media Type: send a JSON body with Content-Type: application/json."})
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, {"errors": ["Request body must be a JSON object."], "field-errors": {}})
    return body


def int_arg(name: str, default: int, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise field_errors({name: "Not a valid integer."})
    if value < 0:
        raise field_errors({name: "Must be greater than or equal to 0."})
    return min(value, maximum) if maximum is not None else value


def page(items: list, default_limit: int = 100, max_limit: int = 200):
    limit = int_arg("_limit", default_limit, max_limit)
    skip = int_arg("_skip", 0)
    chunk = items[skip:skip + limit]
    return chunk, skip + len(chunk) < len(items)


def fields_arg():
    return request.args.get("_fields")


def visible_lead(lead_id):
    lead = world().leads.get(lead_id) if isinstance(lead_id, str) else None
    if lead is None or not caller().can_see_lead(lead):
        return None
    return lead


def visible_contact(contact_id):
    contact = world().contacts.get(contact_id) if isinstance(contact_id, str) else None
    if contact is None or visible_lead(contact.lead_id) is None:
        return None
    return contact


# --- identity: /me/, /user/, /organization/, /role/ ------------------------

@bp.get("/me/")
def get_me():
    return jsonify(serialize.pick_fields(serialize.me(world(), caller().user), fields_arg()))


@bp.get("/user/")
def list_users():
    w, c = world(), caller()
    users = [w.users[m.user_id] for m in w.org_memberships(c.org.id)]
    order = request.args.get("_order_by", "last_name,first_name")
    keys = [k.strip().lstrip("-") for k in order.split(",") if k.strip()]
    if any(k not in ("first_name", "last_name", "email", "date_created") for k in keys):
        raise field_errors({"_order_by": "Invalid ordering."})
    users.sort(key=lambda u: tuple(str(getattr(u, k)).lower() for k in keys))
    chunk, more = page(users, 100, 1000)
    return jsonify({"data": [serialize.pick_fields(serialize.user(w, u), fields_arg()) for u in chunk],
                    "has_more": more})


@bp.get("/user/<user_id>/")
def get_user(user_id):
    w, c = world(), caller()
    if w.membership(user_id, c.org.id, active_only=False) is None:
        raise not_found("User")
    return jsonify(serialize.pick_fields(serialize.user(w, w.users[user_id]), fields_arg()))


@bp.get("/organization/<org_id>/")
def get_organization(org_id):
    c = caller()
    if org_id != c.org.id:
        raise not_found("Organization")
    expand = {e.strip() for e in request.args.get("_expand", "").split(",") if e.strip()}
    return jsonify(serialize.pick_fields(serialize.organization(world(), c.org, expand), fields_arg()))


@bp.get("/role/")
def list_roles():
    roles = world().org_roles(caller().org.id)
    return jsonify({"data": [serialize.role(r) for r in roles], "has_more": False})


@bp.get("/role/<role_id>/")
def get_role(role_id):
    role = world().role(caller().org.id, role_id)
    builtin = role is not None and role.date_created is None
    if role is None or (builtin and sandbox().config["STRICT"]):
        # Strict: only the list is seen returning built-in roles (close-api.md §3.5).
        raise not_found("Role")
    return jsonify(serialize.role(role))
