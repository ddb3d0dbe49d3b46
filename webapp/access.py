"""Who is asking and what may they do: one place, used by every route.

The current workspace lives in the session; a user in several workspaces switches it
(auth.switch_workspace). Objects of another workspace are always 404, never 403, so
nothing of one workspace is visible from another.
"""
from functools import wraps

from flask import abort, g, redirect, session, url_for
from flask_login import current_user, login_required

from webapp.core.extensions import db, login_manager
from webapp.models import User

RANK = {"member": 0, "admin": 1, "owner": 2}


@login_manager.user_loader
def load_user(session_id):
    """`<user id>:<session version>`; a session from before a sign-out or password change is void."""
    user_id, _, version = str(session_id).partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or (user.session_version or 0) != int(version):
        return None
    return user


def current_membership():
    """The signed-in user's membership in the workspace chosen in the session (cached per request)."""
    if "membership" not in g:
        membership = None
        if current_user.is_authenticated:
            memberships = sorted(current_user.memberships, key=lambda m: m.id)
            wanted = session.get("workspace_id")
            membership = next((m for m in memberships if m.workspace_id == wanted), None)
            if membership is None and memberships:
                membership = memberships[0]
                session["workspace_id"] = membership.workspace_id
        g.membership = membership
    return g.membership


def current_workspace():
    membership = current_membership()
    return membership.workspace if membership else None


def workspace_role(minimum="member"):
    """Route decorator: signed in, member of the current workspace, with at least `minimum` role."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            membership = current_membership()
            if membership is None:
                return redirect(url_for("main.no_workspace"))
            if RANK[membership.role] < RANK[minimum]:
                abort(403)
            return view(*args, **kwargs)

        wrapped.min_role = minimum  # read by the route/role matrix test
        return wrapped

    return decorator


def get_or_404_in_workspace(model, object_id):
    """Load a row of the current workspace; any other workspace's row is 404."""
    row = db.session.get(model, object_id)
    workspace = current_workspace()
    if row is None or workspace is None or row.workspace_id != workspace.id:
        abort(404)
    return row

