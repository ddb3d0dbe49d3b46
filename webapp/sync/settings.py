"""Tunables of the sync engine: app config first, then the environment (RQ workers read env)."""
import os

from flask import current_app

DEFAULTS = {
    "SYNC_BATCH_SIZE": 50,          # rows claimed per drain round
    "SYNC_DRAIN_BUDGET": 20.0,      # seconds a drain job works before re-enqueuing itself (fairness)
    "SYNC_LEASE_SECONDS": 120.0,    # a claimed row is retaken after this if its worker died
    "SYNC_MAX_ATTEMPTS": 12,        # then `dead` (~6 h of backoff at the defaults)
    "SYNC_RETRY_BASE": 10.0,        # backoff: base * 3^(n-1), capped
    "SYNC_RETRY_CAP": 3600.0,
    "SYNC_INLINE_RETRIES": 2,       # quick retries inside the job before `failed`
    "SYNC_FLAG_TTL": 90.0,          # "a drain is scheduled" flag; refreshed while a drain runs
    "SYNC_INDEX_GRACE": 300.0,      # seconds a lead another attempt may have created gets to show in search
    "SYNC_MAX_ATTACHMENT_BYTES": 25_000_000,  # Close's per-message total ("25 MB", decimal)
}


def setting(name):
    default = DEFAULTS[name]
    value = current_app.config.get(name)
    if value is None:
        value = os.environ.get(name)
    if value is None or value == "":
        return default
    return type(default)(value)
