"""Workspace API keys in `Authorization: Bearer <key>` (stored hashed; see ApiKey)."""
from datetime import timedelta
from functools import wraps

from flask import g, request

from webapp.core.errors import json_error as error
from webapp.models import ApiKey, utcnow

TOUCH_EVERY = timedelta(minutes=5)  # last_used_at is informative: don't write it on every call


def authenticate():
    """The active ApiKey row of this request, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
        return None
    key = ApiKey.find_active(token.strip())
    if key is not None and (key.last_used_at is None or utcnow() - key.last_used_at > TOUCH_EVERY):
        key.last_used_at = utcnow()  # committed with the request's write
    return key


def api_key_required(view):
    """401 without an active key; otherwise the key is `g.api_key` (its workspace is the caller's)."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        key = authenticate()
        if key is None:
            return error(401, "unauthorized", "Send a workspace API key as 'Authorization: Bearer <key>'.",
                         headers={"WWW-Authenticate": 'Bearer realm="closeline"'})
        g.api_key = key
        return view(*args, **kwargs)
    return wrapper
