"""The one seam between the sync engine and the Close connection.

Prefers the connection module (`webapp/integrations/close/tokens.py`: OAuth tokens, refresh,
auto-disconnect). Without OAuth tokens it falls back to a Close API key from CLOSE_API_KEY
(config or environment): that is how tests and benchmarks drive the sandbox, and it also lets
an operator run against a real Close API key.
"""
import importlib
import importlib.util
import logging

import sqlalchemy as sa
from flask import current_app

from webapp.extensions import db
from webapp.models import CloseConnection

log = logging.getLogger(__name__)


class NoCredentials(RuntimeError):
    """A live connection without usable credentials (treated like a disconnect)."""


def _tokens():
    # Guarded import: the connection module may not be installed in every build.
    if importlib.util.find_spec("webapp.integrations.close.tokens") is None:
        return None
    return importlib.import_module("webapp.integrations.close.tokens")


def live_connection(workspace_id):
    tokens = _tokens()
    if tokens is not None and hasattr(tokens, "live_connection"):
        return tokens.live_connection(workspace_id)
    return db.session.scalar(sa.select(CloseConnection).where(
        CloseConnection.workspace_id == workspace_id, CloseConnection.disconnected_at.is_(None)))


def client_for_connection(connection):
    tokens = _tokens()
    if tokens is not None and connection.access_token_enc:
        return tokens.client_for(connection)
    api_key = current_app.config.get("CLOSE_API_KEY") or _env("CLOSE_API_KEY")
    if not api_key:
        raise NoCredentials("The Close connection has no usable credentials.")
    from webapp.integrations.close.client import CloseClient
    from webapp.integrations.close.ratelimit import RedisRateLimiter
    from webapp.redis_conn import get_redis
    return CloseClient(current_app.config["CLOSE_API_URL"], api_key=api_key,
                       org_id=connection.close_org_id,
                       timeout=float(current_app.config.get("CLOSE_TIMEOUT", 10.0)),
                       rate_limiter=RedisRateLimiter(get_redis()))


def report_auth_failure(connection, exc):
    """Credentials died mid-sync: let the connection logic decide on an auto-disconnect."""
    tokens = _tokens()
    if tokens is not None and hasattr(tokens, "handle_auth_failure"):
        try:
            tokens.handle_auth_failure(connection, exc)
        except Exception:  # never let the bookkeeping lose the batch
            log.exception("handle_auth_failure failed for connection %s", connection.id)
    else:
        log.warning("Close rejected the credentials of connection %s: %s", connection.id, exc)


def lead_url(lead_id):
    if not lead_id:
        return None
    return f"{current_app.config['CLOSE_APP_URL'].rstrip('/')}/lead/{lead_id}/"


def _env(name):
    import os
    return os.environ.get(name)
