"""Which Close user a member's messages are attributed to (the WhatsApp activity's `user_id`).

The connected organization's active users are read from Close by jobs (connect, validation,
"Check connection now") and cached on the connection; nothing here calls Close. A member's Close
user is the one an owner/admin picked for that organization, else the user with the member's
email. A pick belongs to one organization: when the workspace connects another one, members are
matched again (by email) until someone picks for the new organization.
"""
from dataclasses import dataclass

# How a member's Close user was found: picked by an owner/admin, or the same email in Close.
CHOSEN, BY_EMAIL = "chosen", "email"
# Why a member has none: nothing matches, the picked user left the organization, no connection.
NONE, CHOSEN_GONE, NOT_CONNECTED = "none", "chosen_gone", "not_connected"


@dataclass(frozen=True)
class Attribution:
    how: str
    user: dict | None = None        # {"id", "email", "name"} of the connected organization
    suggestion: dict | None = None  # a same-name Close user, offered to pick (never applied by itself)

    @property
    def user_id(self):
        return self.user["id"] if self.user and self.how in (CHOSEN, BY_EMAIL) else None


def active_users(org):
    """[{"id", "email", "name"}] of an /organization/ answer's active memberships, by name.
    (Removed users are listed under `inactive_memberships`, which is not read.)"""
    users = []
    for membership in org.get("memberships") or []:
        nested = membership.get("user") or {}
        user_id = membership.get("user_id") or nested.get("id")
        email = membership.get("user_email") or nested.get("email") or ""
        name = membership.get("user_full_name") or " ".join(
            p for p in (membership.get("user_first_name") or nested.get("first_name"),
                        membership.get("user_last_name") or nested.get("last_name")) if p)
        if user_id:
            users.append({"id": user_id, "email": email.lower(), "name": name or email})
    return sorted(users, key=lambda u: (u["name"].lower(), u["email"]))


def directory(connection):
    """The cached active users of the connection's organization (older rows cached {email: id})."""
    cached = connection.close_users if connection is not None else None
    if isinstance(cached, dict):
        return [{"id": user_id, "email": email.lower(), "name": email} for email, user_id in cached.items()]
    return list(cached or [])


def find(users, user_id):
    return next((u for u in users if u["id"] == user_id), None)


def resolve(membership, connection, users=None):
    """The Attribution of one workspace member under the live connection (None: not connected)."""
    if connection is None or not connection.is_live:
        return Attribution(NOT_CONNECTED)
    users = directory(connection) if users is None else users
    picked = membership.close_user_id if membership.close_user_org_id == connection.close_org_id else None
    if picked and find(users, picked):
        return Attribution(CHOSEN, find(users, picked))
    email = (membership.user.email or "").lower()
    same_email = next((u for u in users if u["email"] == email), None)
    if same_email is not None:
        return Attribution(BY_EMAIL, same_email)
    if picked:
        return Attribution(CHOSEN_GONE, {"id": picked, "email": "", "name": ""})
    name = (membership.user.name or "").strip().lower()
    same_name = [u for u in users if name and u["name"].strip().lower() == name]
    return Attribution(NONE, suggestion=same_name[0] if len(same_name) == 1 else None)


def close_user_id(membership, connection):
    """The `user_id` for activities of this member's messages, or None (Close then attributes them
    to the Close user whose credential wrote them: the one who connected)."""
    if membership is None:
        return None
    return resolve(membership, connection).user_id
