"""Operational counters, shared by every process of a deployment.

Web and worker processes run in different containers (and gunicorn forks several of each), so a
counter kept in process memory would show one process's share. Every count goes into one Redis
hash instead (HINCRBY: atomic, one round trip), and `/metrics` reads the whole hash at scrape
time (webapp/operations/exposition.py). Only fixed, low-cardinality labels are used: outcomes and
reasons from short fixed lists, never a workspace, organization or message id.

Counting never gets in the way of the work: without an app context or with Redis away, a count is
dropped (and the sweeper-based design means losing Redis loses no message either).
"""
import functools
import logging
import time

from flask import has_app_context

log = logging.getLogger(__name__)

HASH_KEY = "closeline:metrics"

# name → (help text, label names). The exposition adds the `closeline_` prefix and `_total`.
COUNTERS = {
    "close_calls": ("Close API calls by outcome", ("outcome",)),
    "close_rate_limited": ("Close API answers with HTTP 429 (rate limited)", ()),
    "close_token_refreshes": ("Close OAuth token refreshes by outcome", ("outcome",)),
    "close_auto_disconnects": ("Close connections disconnected automatically, by reason", ("reason",)),
    "messages_drained": ("Messages the drain finished working, by resulting state", ("state",)),
    "gap_messages_found": ("Messages gap recovery found missing at a gateway", ()),
    "gap_messages_filled": ("Messages gap recovery stored", ()),
}
# name → (help text, bucket upper bounds in seconds).
HISTOGRAMS = {
    "close_call_seconds": ("Close API call latency", (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)),
}


def field(name, labels=()):
    """The hash field of one series: `name|key=value,key=value` (values are fixed words)."""
    return name + "|" + ",".join(f"{key}={value}" for key, value in labels)


def parse_field(raw):
    name, _, labels = raw.partition("|")
    return name, tuple(tuple(pair.split("=", 1)) for pair in labels.split(",") if pair)


def _redis():
    if not has_app_context():
        return None
    from webapp.core.redis_conn import get_redis
    return get_redis()


def _write(increments, float_increments=()):
    try:
        conn = _redis()
        if conn is None:
            return
        pipe = conn.pipeline(transaction=False)
        for key, amount in increments:
            pipe.hincrby(HASH_KEY, key, amount)
        for key, amount in float_increments:
            pipe.hincrbyfloat(HASH_KEY, key, amount)
        pipe.execute()
    except Exception:  # noqa: BLE001 - a lost count must never fail a sync or a request
        log.debug("metrics: a count was dropped", exc_info=True)


def count(name, amount=1, **labels):
    """Add `amount` to a counter of COUNTERS (labels as keyword arguments, fixed words only)."""
    if amount:
        _write([(field(name, sorted(labels.items())), int(amount))])


def observe(name, seconds, **labels):
    """One observation of a histogram of HISTOGRAMS: its bucket, the sum and the count."""
    bounds = HISTOGRAMS[name][1]
    bucket = next((str(bound) for bound in bounds if seconds <= bound), "+Inf")
    base = sorted(labels.items())
    _write([(field(name + "_bucket", base + [("le", bucket)]), 1), (field(name + "_count", base), 1)],
           [(field(name + "_sum", base), float(seconds))])


def read_all():
    """{field: number} of every series (for the exposition)."""
    conn = _redis()
    raw = conn.hgetall(HASH_KEY) if conn is not None else {}
    return {key.decode(): float(value) for key, value in raw.items()}


def close_call_outcome(status):
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "refused"
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    return "ok"


def timed_close_call(send):
    """Decorates the Close client's one send: counts the call by outcome, its latency, and 429s."""
    @functools.wraps(send)
    def timed(*args, **kwargs):
        started = time.monotonic()
        outcome = "network_error"  # timeouts and refused connections raise
        try:
            response = send(*args, **kwargs)
            outcome = close_call_outcome(response.status_code)
            return response
        finally:
            elapsed = time.monotonic() - started
            bounds = HISTOGRAMS["close_call_seconds"][1]
            bucket = next((str(bound) for bound in bounds if elapsed <= bound), "+Inf")
            increments = [(field("close_calls", [("outcome", outcome)]), 1),
                          (field("close_call_seconds_bucket", [("le", bucket)]), 1),
                          (field("close_call_seconds_count"), 1)]
            if outcome == "rate_limited":
                increments.append((field("close_rate_limited"), 1))
            _write(increments, [(field("close_call_seconds_sum"), elapsed)])
    return timed



def count_each(name, label, values):
    """One counter, labelled by each of `values` (e.g. every outcome state of a batch)."""
    tally = {}
    for value in values:
        tally[value] = tally.get(value, 0) + 1
    _write([(field(name, [(label, value)]), n) for value, n in sorted(tally.items())])


def counted(name):
    """Decorates a function: counts each call as outcome="ok" when it returns, "failed" when it raises."""
    def wrap(function):
        @functools.wraps(function)
        def counting(*args, **kwargs):
            try:
                result = function(*args, **kwargs)
            except Exception:
                count(name, outcome="failed")
                raise
            count(name, outcome="ok")
            return result
        return counting
    return wrap
