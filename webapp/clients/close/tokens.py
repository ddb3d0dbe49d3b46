"""The one door to a workspace's Close credentials.

Every caller (web, validation, sync jobs) gets its access token from fresh_access_token() or a
ready client from client_for(). Refreshing is serialized per connection with a Redis lock, so
however many workers find the token expired at once, exactly one token request reaches Close;
the others wait, re-read the row and use the rotated token. The new pair is saved with a
compare-and-set on token_version, in its own transaction (the caller's session is untouched).

Token bookkeeping runs on its own connection/session: call client_for() before writing in the
caller's transaction (SQLite allows one writer at a time).
"""
import logging
from datetime import timedelta

import sqlalchemy as sa
from redis.exceptions import LockError

from webapp.clients.close import lifecycle, oauth
from webapp.clients.close.client import CloseAuthError, CloseClient, CloseError, CloseTransient
from webapp.clients.close.factory import new_client
from webapp.core import crypto, metrics
from webapp.core.extensions import db
from webapp.core.redis_conn import get_redis
from webapp.models import CloseConnection, utcnow

log = logging.getLogger(__name__)

REFRESH_MARGIN = timedelta(minutes=2)  # refresh this long before Close's expiry
LOCK_SLACK = 15  # seconds on top of the token call's own timeouts (DB reads and writes around it)


def lock_ttl():
    """The refresh lock outlives the slowest token call (connect + read timeouts): were it to
    expire mid-call, a second worker would refresh with a token Close already rotated."""
    return int(2 * oauth.token_call_timeout() + LOCK_SLACK)


_T = CloseConnection.__table__


CONFIG_ERROR = ("Close refused Closeline's OAuth app credentials (invalid_client): the server operator must "
                "check CLOSE_CLIENT_ID and CLOSE_CLIENT_SECRET. The connection is kept; sync resumes once fixed.")


class ConnectionLost(CloseAuthError):
    """The connection is (now) disconnected; `reason` is a DISCONNECT_REASONS key or None."""

    def __init__(self, message, reason=None):
        super().__init__(message, status=401)
        self.reason = reason


def live_connection(workspace_id):
    return db.session.scalar(sa.select(CloseConnection).where(
        CloseConnection.workspace_id == workspace_id, CloseConnection.disconnected_at.is_(None)))


def read_row(connection_id):
    # A fresh connection: never an identity-map copy or a stale snapshot.
    with db.engine.connect() as conn:
        return conn.execute(sa.select(_T).where(_T.c.id == connection_id)).mappings().first()


def _needs_refresh(row, min_valid, stale_version):
    if stale_version is not None:
        return row["token_version"] == stale_version  # our token got a 401 and nobody rotated since
    expires = row["token_expires_at"]
    return expires is None or expires - utcnow() < min_valid


def fresh_access_token(connection_id, min_valid=REFRESH_MARGIN, stale_version=None):
    """A usable access token of a live connection, refreshing it when needed.

    Raises ConnectionLost (disconnected, or Close refused the refresh: auto-disconnects),
    CloseTransient (Close unreachable: nothing changed, try again later).
    """
    token, _ = _fresh(connection_id, min_valid, stale_version)
    return token


def _fresh(connection_id, min_valid, stale_version):
    row = read_row(connection_id)
    _ensure_live(row)
    if not _needs_refresh(row, min_valid, stale_version):
        return crypto.decrypt(row["access_token_enc"]), row["token_version"]
    lock = get_redis().lock(f"closeline:token-refresh:{connection_id}", timeout=lock_ttl(),
                            blocking_timeout=lock_ttl() + 5)
    if not lock.acquire():
        raise CloseTransient("Another token refresh of this connection is taking too long")
    try:
        row = read_row(connection_id)  # someone may have rotated it while we waited
        _ensure_live(row)
        if not _needs_refresh(row, min_valid, stale_version):
            return crypto.decrypt(row["access_token_enc"]), row["token_version"]
        return refresh_locked(row)
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("Token refresh lock of connection %s expired before release", connection_id)


def _ensure_live(row):
    if row is None or row["disconnected_at"] is not None or not row["refresh_token_enc"]:
        raise ConnectionLost("The workspace is not connected to Close",
                             reason=row["disconnect_reason"] if row is not None else None)


@metrics.counted("close_token_refreshes")
def refresh_locked(row):
    """Refresh row's pair; the caller holds the connection's refresh lock. Returns (token, version)."""
    connection_id = row["id"]
    try:
        token = oauth.refresh(crypto.decrypt(row["refresh_token_enc"]))
    except oauth.OAuthRejected as exc:
        if exc.error == "invalid_grant":
            current = read_row(connection_id)
            if current is not None and current["token_version"] != row["token_version"]:
                # Someone rotated the pair while we called Close: our token was merely superseded.
                _ensure_live(current)
                return crypto.decrypt(current["access_token_enc"]), current["token_version"]
            # invalid_grant names no cause at Close: one honest reason for all of them.
            lifecycle.auto_disconnect(connection_id, "access_revoked",
                                      "Close refused to renew Closeline's access (invalid_grant)")
            raise ConnectionLost("Close refused the token refresh", reason="access_revoked") from None
        # invalid_client and friends: our OAuth app's configuration, not the user's grant. Keep the
        # connection and tell the operator what to fix instead of retrying silently.
        message = CONFIG_ERROR if exc.error == "invalid_client" else \
            f"Close refused the token refresh ({exc.error})"
        log.error("Close token refresh of connection %s refused: %s", connection_id, exc.error)
        lifecycle.record_refresh_failure(connection_id, message)
        raise CloseError(message) from None
    except oauth.OAuthUnavailable as exc:
        lifecycle.record_refresh_failure(connection_id, str(exc))
        raise CloseTransient(str(exc)) from None
    return store_rotated(row, token), row["token_version"] + 1


def store_rotated(row, token):
    """Compare-and-set: only the holder of the version we read may write the next one."""
    values = token_columns(token)
    values.update(token_version=_T.c.token_version + 1, unreachable_since=None, last_error=None)
    with db.engine.begin() as conn:
        updated = conn.execute(sa.update(_T).where(
            _T.c.id == row["id"], _T.c.token_version == row["token_version"],
            _T.c.disconnected_at.is_(None)).values(**values)).rowcount
    if updated != 1:
        # Lost a race (a disconnect, or a lock that expired anyway): the row wins, drop ours. Never
        # revoke it: revoking ends the whole grant at Close, and another worker may be using it.
        current = read_row(row["id"])
        _ensure_live(current)
        return crypto.decrypt(current["access_token_enc"])
    return token["access_token"]


def token_columns(token):
    """Encrypted column values of a token endpoint answer."""
    expires_in = int(token.get("expires_in") or 3600)
    return {"access_token_enc": crypto.encrypt(token["access_token"]),
            "refresh_token_enc": crypto.encrypt(token.get("refresh_token")),
            "token_expires_at": utcnow() + timedelta(seconds=expires_in)}


class ConnectionClient(CloseClient):
    """A CloseClient bound to a connection: a 401 after a refresh means access was revoked."""

    def __init__(self, *args, connection_id, **kwargs):
        super().__init__(*args, **kwargs)
        self.connection_id = connection_id

    def request(self, method, path, params=None, json=None):
        try:
            return super().request(method, path, params=params, json=json)
        except ConnectionLost:
            raise
        except CloseAuthError as exc:
            raise handle_auth_failure(self.connection_id, exc) from None


def client_for(connection, rate_limited=True, min_valid=REFRESH_MARGIN):
    """A ready CloseClient for a live connection (row or id); refreshes the token if near expiry.

    rate_limited=False: a 429 raises CloseTransient at once instead of waiting (validation).
    """
    connection_id = connection if isinstance(connection, int) else connection.id
    token, version = _fresh(connection_id, min_valid, None)
    state = {"version": version}

    def refresher():
        # Called by the client once on a 401: rotate unless someone already did since our token.
        new_token, state["version"] = _fresh(connection_id, REFRESH_MARGIN, state["version"])
        return new_token

    row = read_row(connection_id)
    return new_client(access_token=token, org_id=row["close_org_id"], token_refresher=refresher,
                      rate_limited=rate_limited, client_class=ConnectionClient, connection_id=connection_id)


def handle_auth_failure(connection, exc):
    """A 401 that survived a token refresh: access was revoked. Disconnects; returns ConnectionLost."""
    if isinstance(exc, ConnectionLost):
        return exc
    connection_id = connection if isinstance(connection, int) else connection.id
    lifecycle.auto_disconnect(connection_id, "access_revoked",
                              "Close refused even freshly renewed access (401)")
    return ConnectionLost("Access to Close was revoked", reason="access_revoked")
