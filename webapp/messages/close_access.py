"""The one seam between the sync engine and the Close connection (clients/close/tokens.py).

A connection made through OAuth always has tokens. A connection row without tokens exists only in
development and benchmarks: it uses the API key in CLOSE_API_KEY (e.g. the sandbox's demo key).
"""
import logging

import sqlalchemy as sa
from flask import current_app

from webapp.clients.close import tokens
from webapp.clients.close.factory import new_client
from webapp.core.extensions import db
from webapp.models import CloseConnection, utcnow

log = logging.getLogger(__name__)

live_connection = tokens.live_connection


class NoCredentials(RuntimeError):
    """A live connection without usable credentials (treated like a disconnect)."""


def client_for_connection(connection):
    if connection.access_token_enc:
        return tokens.client_for(connection)
    api_key = current_app.config["CLOSE_API_KEY"]
    if not api_key:
        raise NoCredentials("The Close connection has no usable credentials.")
    return new_client(api_key=api_key, org_id=connection.close_org_id)


def report_auth_failure(connection, exc):
    """Credentials died mid-sync: let the connection logic decide on an auto-disconnect."""
    try:
        tokens.handle_auth_failure(connection, exc)
    except Exception:  # never let the bookkeeping lose the batch
        log.exception("handle_auth_failure failed for connection %s", connection.id)


def lead_url(lead_id):
    if not lead_id:
        return None
    return f"{current_app.config['CLOSE_APP_URL'].rstrip('/')}/lead/{lead_id}/"


def note_reachability(connection_id, reached, error=""):
    """The sync's own verdict on Close, kept on the connection row (the card's outage banner):
    a call that failed for lack of Close starts "unreachable since"; one that Close answered ends it."""
    live = sa.and_(CloseConnection.id == connection_id, CloseConnection.disconnected_at.is_(None))
    if reached:
        db.session.execute(sa.update(CloseConnection).where(live, CloseConnection.unreachable_since.is_not(None))
                           .values(unreachable_since=None, last_error=None))
    else:
        db.session.execute(sa.update(CloseConnection).where(live).values(
            unreachable_since=sa.func.coalesce(CloseConnection.unreachable_since, utcnow()),
            last_error=(error or "Close did not answer")[:500]))
    db.session.commit()
