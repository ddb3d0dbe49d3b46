"""Short-lived secrets kept on the server (Redis), never in the client-readable session cookie:
the session holds only a random handle. Used for the OAuth PKCE verifier."""
import json
import secrets

from webapp.core.redis_conn import get_redis

PREFIX = "closeline:secret:"


def keep(value, ttl=900):
    """Store a JSON-able value for `ttl` seconds; returns the random handle to put in the session."""
    handle = secrets.token_urlsafe(24)
    get_redis().set(PREFIX + handle, json.dumps(value), ex=ttl)
    return handle


def take(handle):
    """The value once (then it is gone), or None when unknown or expired."""
    if not isinstance(handle, str) or not handle:
        return None
    pipe = get_redis().pipeline()
    pipe.get(PREFIX + handle)
    pipe.delete(PREFIX + handle)
    raw, _ = pipe.execute()
    return json.loads(raw) if raw else None
