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


def validate(connection_id, checklist=None):
    """Returns "ok", "warning", "unreachable", "disconnected:<reason>" or "not_live".

    `checklist`, when given, receives one {"label", "ok"} per check as it is made (the card shows
    them after "Check connection now", which runs this same validation once)."""
    note = checklist.append if checklist is not None else (lambda item: None)
    connection = db.session.get(CloseConnection, connection_id)
    if connection is None or not connection.is_live:
        return "not_live"
    checked = f"{connection.close_user_email or 'the connected Close user'} in {connection.close_org_name or 'Close'}"
    # Refresh tokens that would expire before the next run (rotation keeps the grant warm too).
    horizon = timedelta(seconds=current_app.config["VALIDATION_INTERVAL"]) + tokens.REFRESH_MARGIN
    try:
        client = tokens.client_for(connection_id, rate_limited=False, min_valid=horizon)
        access = checks.verify_access(client, connection.close_org_id, user_id=connection.close_user_id)
        note({"label": "Close is reachable and accepts Closeline's access", "ok": True})
        if access.membership is None:
            note({"label": f"{checked}: active member", "ok": False})
            lifecycle.auto_disconnect(connection_id, "owner_gone",
                                      f"{connection.close_user_email} is no longer an active member of "
                                      f"{connection.close_org_name}")
            return "disconnected:owner_gone"
    except tokens.ConnectionLost as exc:
        note({"label": "Close accepts Closeline's access", "ok": False})
        return f"disconnected:{exc.reason}"
    except CloseNotFound:
        # The token's own organization is 404: Close documents no reason, so claim none.
        note({"label": "Close shows the organization", "ok": False})
        lifecycle.auto_disconnect(connection_id, "access_revoked", "Close no longer shows the organization")
        return "disconnected:access_revoked"
    except CloseTransient as exc:
        note({"label": "Close is reachable", "ok": False})
        return _unreachable(connection_id, exc)
    except CloseError as exc:  # 400/403…: not definitive, keep trying
        note({"label": "Close accepts Closeline's access", "ok": False})
        return _unreachable(connection_id, exc)
    note({"label": f"{checked}: active member", "ok": True})
    for permission in checks.REQUIRED:
        note({"label": checks.PERMISSION_LABELS[permission], "ok": permission not in access.missing})
    db.session.expire_all()  # tokens were saved on another connection
    connection = db.session.get(CloseConnection, connection_id)
    if connection is None or not connection.is_live:
        return "not_live"
    told = service.set_permission_state(connection, access)
    service.apply_org_cache(connection, access.source)
    connection.last_validated_at = utcnow()
    connection.unreachable_since = None
    connection.last_error = None
    db.session.commit()
    service.send_email(told)
    return "warning" if access.missing else "ok"


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
