"""Each member's Close user on the Team page: who they are in Close, picking one, refreshing the list.

The list of the organization's active users is the one the connection cached from Close (read by
jobs: connect, the periodic validation, "Check connection now"). Refreshing it starts that same
check as a job; no page waits on Close.
"""
from dataclasses import dataclass

from webapp.clients.close.lifecycle import record_event
from webapp.clients.close.tokens import live_connection
from webapp.close_connection import test_runs
from webapp.core.extensions import db
from webapp.messages import attribution
from webapp.team.service import TeamError


@dataclass
class CloseUsers:
    """What the Team page shows about Close users (connection None: not connected)."""
    connection: object
    users: list            # the organization's active users, by name
    of: dict               # membership id → Attribution
    job: object = None     # the running refresh (a connection check), if any

    @property
    def unmatched(self):
        return [m_id for m_id, a in self.of.items() if a.user_id is None]

    @property
    def default_name(self):
        """Who Close attributes messages of members without a Close user to: the connecting user."""
        c = self.connection
        return (c.close_user_name or c.close_user_email) if c is not None else ""


def overview(workspace_id, memberships):
    connection = live_connection(workspace_id)
    users = attribution.directory(connection)
    of = {m.id: attribution.resolve(m, connection, users) for m in memberships}
    job = test_runs.running_job(workspace_id) if connection is not None else None
    return CloseUsers(connection, users, of, job if job is not None and job.kind == "check" else None)


def describe(a):
    """One Close user in words: "Mia Member <mia@acme.test>"."""
    return f"{a['name']} <{a['email']}>" if a.get("email") and a.get("name") != a.get("email") else \
        (a.get("email") or a.get("name") or "")


def choose(target, close_user_id, actor):
    """Pick target's Close user ("" = match by email again). Recorded in the connection history."""
    connection = live_connection(target.workspace_id)
    if connection is None:
        raise TeamError("Connect Close first: Close users are those of the connected organization.")
    users = attribution.directory(connection)
    if close_user_id:
        user = attribution.find(users, close_user_id)
        if user is None:
            raise TeamError(f"That Close user is not an active user of {connection.close_org_name} (as last read "
                            "from Close). Refresh the list from Close and pick again.", field="close_user_id")
        target.close_user_id, target.close_user_org_id = user["id"], connection.close_org_id
        detail = f"{target.user.name}'s messages go to Close as {describe(user)}"
    else:
        target.close_user_id = target.close_user_org_id = None
        found = attribution.resolve(target, connection, users)
        detail = f"{target.user.name}'s Close user is matched by email again: " + (
            describe(found.user) if found.user_id else "none matches")
    record_event(db.session, target.workspace_id, "close_user_chosen", detail,
                 connection_id=connection.id, actor_id=actor.id)
    db.session.commit()
    return attribution.resolve(target, connection, users)


def refresh(workspace, user):
    """Read the organization's users from Close again: a connection check, as a job."""
    try:
        return test_runs.start(workspace, user, "check")
    except test_runs.NotStartable as exc:
        raise TeamError(str(exc)) from None
