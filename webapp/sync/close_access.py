"""The one seam between the sync engine and the Close connection (webapp/integrations/close/tokens.py).

A connection made through OAuth always has tokens. A connection row without tokens exists only in
development and benchmarks: it uses the API key in CLOSE_API_KEY (e.g. the sandbox's demo key).
"""
import logging
import os

from flask import current_app

from webapp.integrations.close import tokens
from webapp.integrations.close.client import CloseClient
from webapp.integrations.close.ratelimit import RedisRateLimiter
from webapp.redis_conn import get_redis

log = logging.getLogger(__name__)

live_connection = tokens.live_connection


class NoCredentials(RuntimeError):
    """A live connection without usable credentials (treated like a disconnect)."""


def client_for_connection(connection):
    if connection.access_token_enc:
        return tokens.client_for(connection)
    # Config first, then the environment (like the sync tunables: RQ workers and tests set env).
    api_key = current_app.config.get("CLOSE_API_KEY") or os.environ.get("CLOSE_API_KEY")
    if not api_key:
        raise NoCredentials("The Close connection has no usable credentials.")
    return CloseClient(current_app.config["CLOSE_API_URL"], api_key=api_key, org_id=connection.close_org_id,
                       timeout=float(current_app.config.get("CLOSE_TIMEOUT", 10.0)),
                       rate_limiter=RedisRateLimiter(get_redis()))


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
