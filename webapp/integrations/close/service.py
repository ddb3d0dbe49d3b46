"""Rules of the workspace's Close connection: connect, refuse, disconnect, settings, history.

Auto-disconnects and refresh bookkeeping run in their own short session, because they are
reached from deep inside other work (a sync job's token refresh, a member removal) and must be
committed whatever that work does next.
"""
import logging
from contextlib import contextmanager

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.extensions import db
from webapp.integrations.close import checks, crypto, notify, oauth, tokens
from webapp.integrations.close.client import CloseClient, CloseError, CloseTransient
from webapp.integrations.close.tokens import live_connection, token_columns
from webapp.models import CloseConnection, ConnectionEvent, JobRun, utcnow
from webapp.models.close import DISCONNECT_REASONS

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

    def __init__(self, message, missing=None, no_account=False):
        super().__init__(message)
        self.message = message
        self.missing = missing or []
        self.no_account = no_account


@contextmanager
def own_session():
    session = Session(db.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


def record_event(session, workspace_id, kind, detail="", connection_id=None, actor_id=None):
    session.add(ConnectionEvent(workspace_id=workspace_id, kind=kind, detail=detail[:2000],
                                connection_id=connection_id, actor_id=actor_id))


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


def refuse(workspace, user, message, detail="", **kwargs):
    record_event(db.session, workspace.id, "connect_refused", detail or message, actor_id=user.id)
    db.session.commit()
    raise ConnectRefused(message, **kwargs)


def complete_connect(workspace, user, token):
    """Code exchanged: check the Close user's membership and permissions, then store the connection.

    Any refusal revokes the fresh token at Close and stores nothing but a history entry.
    """
    blocker = connect_blocker(workspace)
    if blocker:
        oauth.revoke(token.get("refresh_token"))
        refuse(workspace, user, blocker)
    client = CloseClient(current_app.config["CLOSE_API_URL"], access_token=token["access_token"],
                         org_id=token.get("organization_id"), timeout=current_app.config.get("CLOSE_TIMEOUT", 10))
    try:
        me = client.me()
        org_id = token.get("organization_id") or _only_org(me)
        membership = checks.membership_in(me.get("memberships"), org_id)
        if membership is None:
            oauth.revoke(token.get("refresh_token"))
            refuse(workspace, user, "Your Close user is not an active member of the organization you picked. "
                   "Ask a Close admin of that organization to invite you, then connect again.",
                   detail=f"{me.get('email')}: no active membership in {org_id}", no_account=True)
        permissions, role_name = checks.effective_permissions(client, membership)
        missing = checks.missing_permissions(permissions)
        if missing:
            oauth.revoke(token.get("refresh_token"))
            refuse(workspace, user, "Close was not connected: " + " ".join(checks.describe_missing(missing, role_name)),
                   detail=f"{me.get('email')} lacks {', '.join(missing)} (role {role_name})", missing=missing)
        org = client.organization(org_id)
    except CloseError as exc:
        oauth.revoke(token.get("refresh_token"))
        problem = "could not be reached" if isinstance(exc, CloseTransient) else "did not show your account details"
        refuse(workspace, user, f"Close {problem} while checking your account. Nothing was stored; "
               "try again in a minute.", detail=f"Close error during connect: {exc.message}")
    connection = CloseConnection(
        workspace_id=workspace.id, close_org_id=org_id, close_org_name=org.get("name") or "",
        close_user_id=me.get("id"), close_user_email=me.get("email") or "",
        close_user_name=" ".join(p for p in (me.get("first_name"), me.get("last_name")) if p),
        connected_by_id=user.id, last_validated_at=utcnow(), **token_columns(token))
    apply_org_cache(connection, org)
    db.session.add(connection)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent connect won the one-live-connection index
        db.session.rollback()
        oauth.revoke(token.get("refresh_token"))
        refuse(workspace, user, "This workspace is already connected to Close.")
    record_event(db.session, workspace.id, "connected",
                 f"{connection.close_org_name} ({org_id}) authorized by {connection.close_user_email}",
                 connection_id=connection.id, actor_id=user.id)
    db.session.commit()
    return connection


def _only_org(me):
    orgs = me.get("organizations") or []
    return orgs[0]["id"] if len(orgs) == 1 else None


def apply_org_cache(connection, org):
    """Cache what the sync engine needs from /organization/: lead statuses and email → Close user id."""
    connection.close_org_name = org.get("name") or connection.close_org_name
    connection.lead_statuses = [{"id": s["id"], "label": s.get("label", s["id"])}
                                for s in org.get("lead_statuses") or []]
    users = {}
    for membership in org.get("memberships") or []:
        email = membership.get("user_email") or (membership.get("user") or {}).get("email")
        if email and membership.get("user_id"):
            users[email.lower()] = membership["user_id"]
    connection.close_users = users
    status_ids = {s["id"] for s in connection.lead_statuses}
    if connection.new_lead_status_id and connection.new_lead_status_id not in status_ids:
        connection.new_lead_status_id = None  # the status was deleted in Close: fall back to Close's default


# --- disconnect ---------------------------------------------------------------------------------

def disconnect(connection, actor):
    """Disconnect by a person: tokens deleted locally at once, then revoked at Close (best effort)."""
    row = tokens.read_row(connection.id)  # the newest pair, even if a job just rotated it
    refresh_token = crypto.decrypt(row["refresh_token_enc"]) if row else None
    if not _end(db.session, connection.id, "user", actor.id):
        return False
    revoked = oauth.revoke(refresh_token) if refresh_token else False
    record_event(db.session, connection.workspace_id, "disconnected",
                 f"by {actor.name} ({actor.email}); " +
                 ("token revoked at Close" if revoked else "Close did not confirm the revocation; tokens deleted here"),
                 connection_id=connection.id, actor_id=actor.id)
    db.session.commit()
    db.session.refresh(connection)
    return True


def _end(session, connection_id, reason, actor_id=None):
    """Atomically end a live connection; False when someone else already did."""
    ended = session.execute(sa.update(CloseConnection).where(
        CloseConnection.id == connection_id, CloseConnection.disconnected_at.is_(None)).values(
        disconnected_at=utcnow(), disconnect_reason=reason, disconnected_by_id=actor_id,
        access_token_enc=None, refresh_token_enc=None)).rowcount
    session.commit()
    return ended == 1


def auto_disconnect(connection_id, reason, detail=""):
    """Disconnect on a definitive signal; records why and tells the owner and admins. Idempotent."""
    with own_session() as session:
        row = session.get(CloseConnection, connection_id)
        if row is None or row.disconnected_at is not None:
            return False
        refresh_token = crypto.decrypt(row.refresh_token_enc) if reason == "member_removed" else None
        if not _end(session, connection_id, reason):
            return False
        text = f"Close was disconnected automatically: {DISCONNECT_REASONS.get(reason, reason)}."
        record_event(session, row.workspace_id, "auto_disconnected",
                     f"{DISCONNECT_REASONS.get(reason, reason)}. {detail}".strip(), connection_id=connection_id)
        emails = notify.announce(session, row.workspace_id, text)
        session.commit()
    log.warning("Close connection %s auto-disconnected: %s", connection_id, reason)
    if refresh_token:  # the grant is still alive at Close only when the cause is on our side
        oauth.revoke(refresh_token)
    notify.send_email(emails, "Close CRM was disconnected", text)
    return True


def record_refresh_failure(connection_id, error):
    """A token refresh failed without a definitive answer: keep the connection, say so, tell managers once."""
    with own_session() as session:
        row = session.get(CloseConnection, connection_id)
        if row is None or row.disconnected_at is not None:
            return
        first = row.unreachable_since is None
        row.unreachable_since = row.unreachable_since or utcnow()
        row.last_error = error[:500]
        record_event(session, row.workspace_id, "refresh_failed", error, connection_id=connection_id)
        emails = []
        text = "Closeline could not refresh its access to Close; it keeps retrying. Sync may be delayed."
        if first:
            emails = notify.announce(session, row.workspace_id, text)
        session.commit()
    notify.send_email(emails, "Close CRM: token refresh failing", text)


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
    return db.session.scalar(sa.select(JobRun).where(JobRun.workspace_id == workspace_id)
                             .order_by(JobRun.id.desc()).limit(1))


# --- reactions to other features ----------------------------------------------------------------

def on_member_removed(membership, **_):
    connection = live_connection(membership.workspace_id)
    if connection is not None and connection.connected_by_id == membership.user_id:
        auto_disconnect(connection.id, "member_removed", f"{membership.user.name} ({membership.user.email}) "
                        "connected it and was removed from the workspace")


def on_subscription_changed(workspace, **_):
    """On renewal the card returns to connected by itself; held messages catch up if the setting is on."""
    connection = live_connection(workspace.id)
    if connection is None or not workspace.subscription_active or not connection.catch_up_held:
        return
    from webapp.sync.service import release_held  # at call time: the sync engine imports this module
    release_held(workspace.id, "subscription")
