"""Rules of the workspace's Close connection: connect, refuse, disconnect, settings, history, card.

Bookkeeping that token refreshes also need (auto-disconnect, history entries) lives in lifecycle.py.
"""
import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from webapp import notify
from webapp.clients.close import checks, oauth, tokens
from webapp.clients.close.client import CloseError, CloseTransient
from webapp.clients.close.factory import new_client
from webapp.clients.close.lifecycle import auto_disconnect, end_connection, record_event
from webapp.clients.close.tokens import live_connection, token_columns
from webapp.close_connection.wording import JOB_LABELS
from webapp.core import crypto
from webapp.core.extensions import db
from webapp.messages import attribution
from webapp.models import CloseConnection, ConnectionEvent, JobRun, Membership, User, utcnow

log = logging.getLogger(__name__)

SETTING_LABELS = {
    "auto_create_lead": "Auto-create lead",
    "new_lead_status_id": "Status of new leads",
    "sync_attachments": "Sync attachments",
    "catch_up_held": "Catch up held messages on renewal",
    "send_to_inbox": "Notify in Close's Inbox for incoming messages",
}


class ConnectRefused(Exception):
    """Connecting failed; `message` is shown to the user, nothing was stored."""

    def __init__(self, message, missing=None, no_account=False, email="", org_name=""):
        super().__init__(message)
        self.message = message
        self.missing = missing or []
        self.no_account = no_account
        self.email, self.org_name = email or "", org_name or ""


class SharedOrganization(Exception):
    """The organization picked is already connected to another workspace: the person must confirm
    before the connection is stored (the token is kept, encrypted, until they do or cancel)."""

    def __init__(self, org_name, others):
        super().__init__(org_name)
        self.org_name, self.others = org_name, others


def history(workspace_id, limit=100):
    return db.session.scalars(sa.select(ConnectionEvent).where(ConnectionEvent.workspace_id == workspace_id)
                              .order_by(ConnectionEvent.created_at.desc(), ConnectionEvent.id.desc())
                              .limit(limit)).all()


def latest_connection(workspace_id):
    return db.session.scalar(sa.select(CloseConnection).where(CloseConnection.workspace_id == workspace_id)
                             .order_by(CloseConnection.id.desc()).limit(1))


# --- connect ------------------------------------------------------------------------------------

def connect_blocker(workspace):
    """Why a connect cannot start right now, or None."""
    if live_connection(workspace.id) is not None:
        return "This workspace is already connected to Close. Disconnect it first to connect another organization."
    if not workspace.subscription_active:
        return "The subscription is inactive: renew it to connect Close."
    return None


def note_refusal(workspace, user, detail, kind="connect_refused"):
    """A connect that stored nothing still leaves a history entry."""
    record_event(db.session, workspace.id, kind, detail, actor_id=user.id)
    db.session.commit()


def start_blocker(workspace, user):
    """Why a connect can't start now (recorded in the history), or None."""
    blocker = connect_blocker(workspace)
    if blocker:
        note_refusal(workspace, user, blocker)
    return blocker


def refuse(workspace, user, message, detail="", **kwargs):
    note_refusal(workspace, user, detail or message)
    raise ConnectRefused(message, **kwargs)


def complete_connect(workspace, user, token, shared_ok=False):
    """Code exchanged: check the Close user's membership and permissions, then store the connection.

    Any refusal revokes the fresh token at Close and stores nothing but a history entry. An
    organization another workspace already uses raises SharedOrganization unless shared_ok.
    """
    try:
        return _check_and_store(workspace, user, token, shared_ok)
    except ConnectRefused:
        oauth.revoke(token.get("refresh_token"))
        raise


def cancel_shared_connect(workspace, user, token, org_name):
    """The person chose not to share the organization: the fresh grant is revoked, nothing stored."""
    oauth.revoke(token.get("refresh_token"))
    note_refusal(workspace, user, f"{org_name} is already connected to another workspace; the connect was "
                                  "cancelled and nothing was stored", kind="connect_cancelled")


def other_workspaces_on(org_id, workspace_id):
    """How many other workspaces of this deployment have a live connection to the organization."""
    return db.session.scalar(sa.select(sa.func.count(sa.distinct(CloseConnection.workspace_id))).where(
        CloseConnection.close_org_id == org_id, CloseConnection.workspace_id != workspace_id,
        CloseConnection.disconnected_at.is_(None))) or 0


def _check_and_store(workspace, user, token, shared_ok=False):
    blocker = connect_blocker(workspace)
    if blocker:
        refuse(workspace, user, blocker)
    client = new_client(access_token=token["access_token"], org_id=token.get("organization_id"),
                        rate_limited=False)
    try:
        access = checks.verify_access(client, token.get("organization_id"))
        me, org_id = access.source, access.org_id
        if access.membership is None:
            refuse(workspace, user, f"The Close user {me.get('email')} is not an active member of the organization "
                   "you picked. Ask a Close admin of that organization to invite you, then connect again. "
                   + checks.SWITCH_ACCOUNTS,
                   detail=f"{me.get('email')}: no active membership in the organization picked",
                   no_account=True, email=me.get("email"))
        if access.missing:
            org_name = _org_name(client, org_id, me)
            refuse(workspace, user, "Close was not connected. " +
                   " ".join(checks.describe_missing(access.missing, access.role_name, me.get("email"), org_name)),
                   detail=f"{me.get('email')} in {org_name} lacks "
                          f"{', '.join(checks.PERMISSION_LABELS[p] for p in access.missing)} (role {access.role_name})",
                   missing=access.missing, email=me.get("email"), org_name=org_name)
        org = client.organization(org_id)
        others = other_workspaces_on(org_id, workspace.id)
        if others and not shared_ok:
            raise SharedOrganization(org.get("name") or "this Close organization", others)
    except CloseError as exc:
        problem = "could not be reached" if isinstance(exc, CloseTransient) else "did not show your account details"
        refuse(workspace, user, f"Close {problem} while checking your account. Nothing was stored; "
               "try again in a minute.", detail=f"Close error during connect: {exc.message}")
    previous = latest_connection(workspace.id)
    connection = CloseConnection(
        workspace_id=workspace.id, close_org_id=org_id, close_org_name=org.get("name") or "",
        close_user_id=me.get("id"), close_user_email=me.get("email") or "",
        close_user_name=" ".join(p for p in (me.get("first_name"), me.get("last_name")) if p),
        connected_by_id=user.id, last_validated_at=utcnow(), **token_columns(token))
    note = carry_settings(previous, connection, org)
    db.session.add(connection)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent connect won the one-live-connection index
        db.session.rollback()
        refuse(workspace, user, "This workspace is already connected to Close.")
    record_event(db.session, workspace.id, "connected",
                 f"{connection.close_org_name}, authorized by the Close user {connection.close_user_email}",
                 connection_id=connection.id, actor_id=user.id)
    if note:
        record_event(db.session, workspace.id, "settings_changed", note, connection_id=connection.id)
    if others:
        _note_shared(connection, user)
    connection.settings_note = note  # shown once on the card after the redirect
    db.session.commit()
    return connection


def _note_shared(connection, user):
    """Both workspaces' histories say the organization is now shared (without naming the other)."""
    record_event(db.session, connection.workspace_id, "shared_org",
                 f"{connection.close_org_name} is also connected to another workspace of this Closeline; "
                 f"{user.name} confirmed connecting it here too", connection_id=connection.id, actor_id=user.id)
    for other in db.session.scalars(sa.select(CloseConnection).where(
            CloseConnection.close_org_id == connection.close_org_id, CloseConnection.id != connection.id,
            CloseConnection.disconnected_at.is_(None))):
        record_event(db.session, other.workspace_id, "shared_org",
                     f"Another workspace of this Closeline connected {other.close_org_name} too",
                     connection_id=other.id)


def carry_settings(previous, connection, org):
    """A reconnect to the same organization keeps the settings; returns what the user must be told
    when they could not all apply (another organization, a lead status deleted in Close), else ""."""
    if previous is not None and previous.close_org_id == connection.close_org_id:
        for field in SETTING_LABELS:
            setattr(connection, field, getattr(previous, field))
    status_before = connection.new_lead_status_id
    status_label = _show(previous, "new_lead_status_id", status_before) if previous is not None else ""
    apply_org_cache(connection, org)
    if previous is None:
        return ""
    if previous.close_org_id != connection.close_org_id:
        return (f"Settings start from the defaults: {connection.close_org_name or 'this organization'} is another "
                f"Close organization than the previous connection ({previous.close_org_name or 'unnamed'}).")
    if status_before and connection.new_lead_status_id is None:
        return (f"Settings kept, except Status of new leads: “{status_label}” no longer exists in "
                f"{connection.close_org_name}, so new leads get Close's default status. Pick another below.")
    return ""


def _org_name(client, org_id, me):
    """The organization's name for a message (from /me/, else /organization/)."""
    listed = next((o.get("name") for o in me.get("organizations") or [] if o.get("id") == org_id), None)
    if listed:
        return listed
    try:
        return client.organization(org_id).get("name") or "the Close organization"
    except CloseError:
        return "the Close organization"


def apply_org_cache(connection, org):
    """Cache what the sync engine needs from /organization/: lead statuses and the active users
    members are attributed to."""
    connection.close_org_name = org.get("name") or connection.close_org_name
    connection.lead_statuses = [{"id": s["id"], "label": s.get("label", s["id"])}
                                for s in org.get("lead_statuses") or []]
    connection.close_users = attribution.active_users(org)
    status_ids = {s["id"] for s in connection.lead_statuses}
    if connection.new_lead_status_id and connection.new_lead_status_id not in status_ids:
        connection.new_lead_status_id = None  # the status was deleted in Close: fall back to Close's default


# --- disconnect ---------------------------------------------------------------------------------

def disconnect(connection, actor):
    """Disconnect by a person: tokens deleted locally at once, then revoked at Close (best effort)."""
    row = tokens.read_row(connection.id)  # the newest pair, even if a job just rotated it
    refresh_token = crypto.decrypt(row["refresh_token_enc"]) if row else None
    if not end_connection(db.session, connection.id, "user", actor.id):
        return False
    revoked = oauth.revoke(refresh_token) if refresh_token else False
    record_event(db.session, connection.workspace_id, "disconnected",
                 f"{connection.close_org_name} ({connection.close_user_email}); " +
                 ("access revoked at Close" if revoked else "Close did not confirm the revocation; tokens deleted here"),
                 connection_id=connection.id, actor_id=actor.id)
    db.session.commit()
    db.session.refresh(connection)
    return True


# --- settings -----------------------------------------------------------------------------------

def update_settings(connection, values, actor):
    """values: validated form data. Returns the list of human-readable changes (audited)."""
    changes = []
    for field, label in SETTING_LABELS.items():
        new = values.get(field)
        if field == "new_lead_status_id":
            new = new or None
        old = getattr(connection, field)
        if new != old:
            changes.append(f"{label}: {_show(connection, field, old)} → {_show(connection, field, new)}")
            setattr(connection, field, new)
    if changes:
        record_event(db.session, connection.workspace_id, "settings_changed", "; ".join(changes),
                     connection_id=connection.id, actor_id=actor.id)
    db.session.commit()
    return changes


def _show(connection, field, value):
    if isinstance(value, bool):
        return "on" if value else "off"
    if field == "new_lead_status_id":
        return next((s["label"] for s in connection.lead_statuses if s["id"] == value), "Close default")
    return str(value)


# --- card ---------------------------------------------------------------------------------------

def card_state(workspace):
    """(state, connection): state is not_connected | connected | paused | auto_disconnected."""
    connection = live_connection(workspace.id)
    if connection is not None:
        return ("connected" if workspace.subscription_active else "paused"), connection
    last = latest_connection(workspace.id)
    if last is not None and last.disconnect_reason and last.disconnect_reason != "user":
        return "auto_disconnected", last
    return "not_connected", last


def latest_job(workspace_id):
    return db.session.scalar(sa.select(JobRun).where(JobRun.workspace_id == workspace_id,
                                                     JobRun.kind.in_(JOB_LABELS))
                             .order_by(JobRun.id.desc()).limit(1))


def current_job(workspace_id, live, running=None):
    """The job to show on the card: a running one, else the latest finished run of THIS connection.
    Results of an earlier connection (or of none) are not shown as if they were current."""
    if running is not None:
        return running
    job = latest_job(workspace_id)
    if job is None or live is None or job.connection_id != live.id:
        return None
    return job


def shared_with(connection):
    """Other workspaces live on the same Close organization as this live connection (0: none)."""
    if connection is None or not connection.is_live:
        return 0
    return other_workspaces_on(connection.close_org_id, connection.workspace_id)


def attention(connection):
    """Why a live connection needs attention ([] when healthy): the badge turns amber."""
    if connection is None or not connection.is_live:
        return []
    reasons = []
    if connection.unreachable_since:
        reasons.append("Close unreachable")
    if connection.permission_warning:
        reasons.append("permission missing")
    return reasons


def set_permission_state(connection, access):
    """What Close just said about the connecting user's permissions becomes the connection's one
    permission state. A permission lost (or granted again) since the last check is a history entry,
    and the owner and admins are told: it is a warning, the connection stays (PRODUCT.md §2).
    Returns the email to send once committed ((recipients, subject, text), see send_email), or None."""
    before = connection.permission_warning
    connection.permission_warning = checks.permission_warning(
        access.missing, access.role_name, connection.close_user_email, connection.close_org_name)
    if bool(before) == bool(connection.permission_warning):
        return None
    who = f"{connection.close_user_email} in {connection.close_org_name}"
    if connection.permission_warning:
        labels = ", ".join(checks.PERMISSION_LABELS[p] for p in access.missing)
        record_event(db.session, connection.workspace_id, "permission_lost",
                     f"{who} no longer has {labels} (role {access.role_name or 'unknown'}). The connection stays; "
                     "leads the user can't see can't be found or linked until it is granted again.",
                     connection_id=connection.id)
        subject = "Close CRM: a permission is missing"
        text = (f"Close: {who} lost a permission Closeline needs ({labels}). Close stays connected, but leads that "
                "user can't see won't be found. Ask an admin in Close to restore it (Settings → Roles).")
    else:
        record_event(db.session, connection.workspace_id, "permission_restored",
                     f"{who} has every permission Closeline needs again", connection_id=connection.id)
        subject = "Close CRM: permissions in place again"
        text = f"Close: {who} has every permission Closeline needs again."
    return notify.announce(db.session, connection.workspace_id, text), subject, text


def send_email(told):
    """Send what set_permission_state returned, after the commit (best effort)."""
    if told:
        notify.send_email(*told)


def managers_text(workspace_id):
    """Who can change the connection, by name: "Olivia Owner (owner), Adam Admin (admin)"."""
    rows = db.session.execute(sa.select(User.name, User.email, Membership.role).join(
        Membership, Membership.user_id == User.id).where(
        Membership.workspace_id == workspace_id, Membership.role.in_(("owner", "admin")))
        .order_by(Membership.role.desc(), User.name)).all()
    return ", ".join(f"{name or email} ({role})" for name, email, role in rows)


# --- reactions to other features ----------------------------------------------------------------

def on_member_removed(membership, actor=None, **_):
    """The member who connected Close left the workspace: their Close account must stop writing
    into Close, so the connection ends (and its grant is revoked), naming who removed them."""
    connection = live_connection(membership.workspace_id)
    if connection is not None and connection.connected_by_id == membership.user_id:
        by = f" by {actor.name}" if actor is not None else ""
        auto_disconnect(connection.id, "member_removed",
                        f"{membership.user.name} ({membership.user.email}) connected it and was removed from the "
                        f"workspace{by}; Closeline withdrew its access at Close",
                        actor_id=actor.id if actor is not None else None)
