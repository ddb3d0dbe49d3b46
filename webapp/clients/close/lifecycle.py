"""Connection lifecycle bookkeeping shared by tokens.py (refresh failures) and service.py
(disconnects): end a connection, auto-disconnect on a definitive signal, record refresh trouble,
write history entries.

Auto-disconnects and refresh bookkeeping run in their own short session, because they are
reached from deep inside other work (a sync job's token refresh, a member removal) and must be
committed whatever that work does next.
"""
import logging
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.orm import Session

from webapp import notify
from webapp.clients.close import oauth
from webapp.core import crypto, metrics
from webapp.core.extensions import db
from webapp.models import CloseConnection, ConnectionEvent, User, utcnow
from webapp.models.close import DISCONNECT_REASONS

log = logging.getLogger(__name__)


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


def end_connection(session, connection_id, reason, actor_id=None):
    """Atomically end a live connection; False when someone else already did."""
    ended = session.execute(sa.update(CloseConnection).where(
        CloseConnection.id == connection_id, CloseConnection.disconnected_at.is_(None)).values(
        disconnected_at=utcnow(), disconnect_reason=reason, disconnected_by_id=actor_id,
        access_token_enc=None, refresh_token_enc=None)).rowcount
    session.commit()
    return ended == 1


# What the owner and admins are told, per reason ({org}, {user}: the Close organization and user;
# {member}: the workspace member who connected). The Close CRM page explains each in full.
NOTICES = {
    "access_revoked": ("Close no longer accepts Closeline's connection to {org} (Close user {user}), so it was "
                       "disconnected automatically. Close does not say why: access was revoked in Close, {user} "
                       "was removed from {org}, or {org} was deleted. The Close CRM page says how to tell which "
                       "and what to do about each."),
    "member_removed": ("{member}, who connected Close, was removed from the workspace, so Closeline disconnected "
                       "{org} (Close user {user}) and withdrew its access at Close. An owner or admin can "
                       "reconnect with their own Close account on the Close CRM page."),
    "owner_gone": ("Close lists {user} as no longer an active member of {org}, so Closeline disconnected it. "
                   "Reconnect with an active Close user of {org} on the Close CRM page."),
}
HELD = "Messages are held until someone reconnects."


def notice(reason, org, user, member=""):
    text = NOTICES.get(reason) or ("Close was disconnected automatically from {org} (Close user {user}): "
                                   + DISCONNECT_REASONS.get(reason, reason) + ".")
    return text.format(org=org, user=user, member=member) + " " + HELD


def auto_disconnect(connection_id, reason, detail="", actor_id=None):
    """Disconnect on a definitive signal; records why and tells the owner and admins. Idempotent.
    actor_id: the person whose action caused it (who removed the connecting member), if any."""
    with own_session() as session:
        row = session.get(CloseConnection, connection_id)
        if row is None or row.disconnected_at is not None:
            return False
        refresh_token = crypto.decrypt(row.refresh_token_enc) if reason == "member_removed" else None
        if not end_connection(session, connection_id, reason, actor_id):
            return False
        org, user = row.close_org_name or "the Close organization", row.close_user_email or "unknown"
        member = session.get(User, row.connected_by_id) if row.connected_by_id else None
        text = notice(reason, org, user, f"{member.name} ({member.email})" if member else "The member")
        record_event(session, row.workspace_id, "auto_disconnected",
                     f"{org} (Close user {user}): {DISCONNECT_REASONS.get(reason, reason)}. {detail}".strip(),
                     connection_id=connection_id, actor_id=actor_id)
        emails = notify.announce(session, row.workspace_id, text)
        session.commit()
    log.warning("Close connection %s auto-disconnected: %s", connection_id, reason)
    metrics.count("close_auto_disconnects", reason=reason)
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
