"""What the connecting Close user must have, read from Close (never inferred from role names)."""
from dataclasses import dataclass, field

from flask import current_app

from webapp.clients.close.client import CloseRejected

# Only Lead Visibility = All Leads: no call Closeline makes needs manage_organization (PRODUCT.md).
REQUIRED = ("view_all_leads",)

# Plain-words explanation of each missing permission and what the person can do about it.
PERMISSION_TEXT = {
    "view_all_leads": ("Lead Visibility is not set to “All Leads”", "set Lead Visibility to “All Leads” for"),
    "manage_organization": ("the role may not manage the organization", "allow “Manage Organization” for"),
}
PERMISSION_LABELS = {
    "view_all_leads": "Lead Visibility: All Leads",
    "manage_organization": "Manage Organization",
}
SWITCH_ACCOUNTS = ("To connect with another Close account, sign out of Close (or use a private window) "
                   "first, then click Connect and sign in as that user.")


def roles_url():
    return current_app.config["CLOSE_APP_URL"].rstrip("/") + "/settings/roles/"


def membership_in(memberships, org_id, user_id=None):
    """The membership of org_id (and user_id when given) in a /me/ or /organization/ listing."""
    for membership in memberships or []:
        if membership.get("organization_id", org_id) == org_id and \
                (user_id is None or membership.get("user_id") == user_id):
            return membership
    return None


def effective_permissions(client, membership):
    """Permissions granted to the membership plus those of its role.

    The role comes from the list GET /role/: built-in roles have plain ids (`admin`, `superuser`…)
    that only the list is seen returning (close-api.md §3.5). When the list is refused (any 4xx but
    401) the membership's own `permissions_granted` decides; only 5xx/timeouts propagate.
    """
    permissions = set(membership.get("permissions_granted") or [])
    role_id = membership.get("role_id")
    role_name = ""
    if role_id:
        role = _role_from_list(client, role_id)
        permissions |= set(role.get("permissions") or [])
        role_name = role.get("name") or role_id
    return permissions, role_name


@dataclass
class Access:
    """What Close says about one user in one organization (see verify_access)."""
    org_id: str | None
    membership: dict | None
    source: dict                     # the /me/ or /organization/ answer that was read
    permissions: set = field(default_factory=set)
    role_name: str = ""
    missing: list = field(default_factory=list)


def verify_access(client, org_id, user_id=None):
    """The one "who is it → membership → permissions" check.

    user_id None: the client's own user, read from GET /me/ (org_id None: the user's only
    organization). user_id given: that user, read from GET /organization/{org_id}/.
    Access.membership is None when the user is no active member. Raises CloseError subclasses.
    """
    if user_id is None:
        source = client.me()
        org_id = org_id or _only_org(source)
    else:
        source = client.organization(org_id)
    membership = membership_in(source.get("memberships"), org_id, user_id=user_id)
    if membership is None:
        return Access(org_id, None, source)
    permissions, role_name = effective_permissions(client, membership)
    return Access(org_id, membership, source, permissions, role_name, missing_permissions(permissions))


def _only_org(me):
    orgs = me.get("organizations") or []
    return orgs[0]["id"] if len(orgs) == 1 else None


def _role_from_list(client, role_id):
    try:
        roles = client.roles()
    except CloseRejected:  # 400/403/404…: not "unreachable"; permissions_granted decides
        return {}
    return next((r for r in roles if r.get("id") == role_id), {})


def missing_permissions(permissions):
    return [p for p in REQUIRED if p not in permissions]


def describe_missing(missing, role_name="", email="", org_name=""):
    """What is wrong with the checked Close account and how to get past it, in plain words.

    The Close user usually can't edit roles: the fix is asking an admin of the organization, or
    connecting with another Close account (which needs signing out of Close first)."""
    if not missing:
        return []
    who = email or "the Close user"
    org = org_name or "the Close organization"
    role = f" (role {role_name})" if role_name else ""
    problems = "; ".join(PERMISSION_TEXT[p][0] for p in missing)
    fixes = " and ".join(PERMISSION_TEXT[p][1] for p in missing)
    return [f"Checked {who} in {org}{role}: {problems}.",
            f"Ask an admin of {org} in Close to {fixes} that role, or connect with another Close account.",
            SWITCH_ACCOUNTS]


def permission_warning(missing, role_name="", email="", org_name=""):
    """The connection's one permission state: None when all is granted, else the warning text."""
    if not missing:
        return None
    return "Permission missing in Close. " + " ".join(describe_missing(missing, role_name, email, org_name))


def checklist(membership, connection, last_refusal=None, managers_text=""):
    """The prerequisite items shown on the card: [{label, ok (True/False/None), hint}].

    Connected: the permission item reads the connection's one permission state (set by every
    check: connect, validation, test sync, Check connection now). A member's own role is no
    prerequisite failure: they see the state read-only and who can change it."""
    connected = connection is not None and connection.is_live
    if membership.is_manager:
        items = [{"key": "workspace_role", "label": "You are the owner or an admin of this workspace",
                  "ok": True, "hint": {"owner": "You are the owner."}.get(membership.role, "You are an admin.")}]
    else:
        items = [{"key": "workspace_role", "label": "Who can change the connection", "ok": None, "info": True,
                  "hint": managers_text or "The workspace owner and admins."}]
    account_ok = perms_ok = None
    account_hint = "Checked when you connect."
    perms_hint = "Checked when you connect."
    if connected:
        account_ok = True
        perms_ok = not connection.permission_warning
        account_hint = f"Connected as {connection.close_user_email}."
        perms_hint = "Missing: see the warning above." if connection.permission_warning else \
            "Lead Visibility = All Leads: granted."
    elif last_refusal:
        if last_refusal.get("no_account"):
            account_ok = False
            account_hint = ("The Close user has no active membership in that organization. "
                            "Ask a Close admin to invite you.")
        else:
            account_ok = True
            account_hint = "Your Close account was found."
            missing = last_refusal.get("missing") or []
            perms_ok = not missing
            if missing:
                perms_hint = " ".join(describe_missing(missing, "", last_refusal.get("email", ""),
                                                       last_refusal.get("org_name", "")))
    items.append({"key": "close_account", "label": "An active Close account",
                  "ok": account_ok, "hint": account_hint})
    items.append({"key": "close_permissions",
                  "label": "The Close role has Lead Visibility = All Leads",
                  "ok": perms_ok, "hint": perms_hint, "link": roles_url()})
    return items
