"""Periodic validation of one connection: token, organization, connection owner, permissions.

Only definitive answers disconnect (see lifecycle.auto_disconnect); timeouts, 5xx, 429 and network
errors mark the connection "Close unreachable, retrying" and keep everything.
"""
from datetime import timedelta

from flask import current_app

from webapp.clients.close import checks, lifecycle, tokens
from webapp.clients.close.client import CloseError, CloseNotFound, CloseTransient
from webapp.close_connection import service
from webapp.core.extensions import db
from webapp.models import CloseConnection, utcnow


def validate(connection_id):
    """Returns "ok", "warning", "unreachable", "disconnected:<reason>" or "not_live"."""
    connection = db.session.get(CloseConnection, connection_id)
    if connection is None or not connection.is_live:
        return "not_live"
    # Refresh tokens that would expire before the next run (rotation keeps the grant warm too).
    horizon = timedelta(seconds=current_app.config["VALIDATION_INTERVAL"]) + tokens.REFRESH_MARGIN
    try:
        client = tokens.client_for(connection_id, rate_limited=False, min_valid=horizon)
        access = checks.verify_access(client, connection.close_org_id, user_id=connection.close_user_id)
        if access.membership is None:
            lifecycle.auto_disconnect(connection_id, "owner_gone",
                                      f"{connection.close_user_email} is no longer an active member of "
                                      f"{connection.close_org_name}")
            return "disconnected:owner_gone"
    except tokens.ConnectionLost as exc:
        return f"disconnected:{exc.reason}"
    except CloseNotFound:
        # The token's own organization is 404: Close documents no reason, so claim none.
        lifecycle.auto_disconnect(connection_id, "access_revoked", "Close no longer shows the organization")
        return "disconnected:access_revoked"
    except CloseTransient as exc:
        return _unreachable(connection_id, exc)
    except CloseError as exc:  # 400/403…: not definitive, keep trying
        return _unreachable(connection_id, exc)
    db.session.expire_all()  # tokens were saved on another connection
    connection = db.session.get(CloseConnection, connection_id)
    if connection is None or not connection.is_live:
        return "not_live"
    missing = access.missing
    connection.permission_warning = checks.permission_warning(
        missing, access.role_name, connection.close_user_email, connection.close_org_name)
    service.apply_org_cache(connection, access.source)
    connection.last_validated_at = utcnow()
    connection.unreachable_since = None
    connection.last_error = None
    db.session.commit()
    return "warning" if missing else "ok"


def _unreachable(connection_id, exc):
    db.session.rollback()
    connection = db.session.get(CloseConnection, connection_id)
    if connection is not None and connection.is_live:
        connection.unreachable_since = connection.unreachable_since or utcnow()
        connection.last_error = _describe(exc)
        db.session.commit()
    return "unreachable"


def _describe(exc):
    if isinstance(exc, CloseTransient) and exc.status == 429:
        return "Close rate limit reached; retrying."
    if isinstance(exc, CloseTransient) and exc.status:
        return f"Close answered HTTP {exc.status}; retrying."
    return f"{exc.message}; retrying."[:500]
