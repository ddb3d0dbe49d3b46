"""The one place a CloseClient is built: URL, timeout and the shared rate limiter come from config."""
from flask import current_app

from webapp.clients.close.client import CloseClient
from webapp.clients.close.ratelimit import RedisRateLimiter
from webapp.core.redis_conn import get_redis


def new_client(access_token=None, api_key=None, org_id=None, token_refresher=None, rate_limited=True,
               client_class=CloseClient, **extra):
    """rate_limited=False: a 429 raises CloseTransient at once instead of waiting (validation, connect)."""
    return client_class(current_app.config["CLOSE_API_URL"], access_token=access_token, api_key=api_key,
                        org_id=org_id, token_refresher=token_refresher,
                        timeout=float(current_app.config["CLOSE_TIMEOUT"]),
                        rate_limiter=RedisRateLimiter(get_redis()) if rate_limited else None, **extra)
