"""What /readyz checks: the database answers, Redis answers, at least one RQ worker is alive on
Closeline's queue (its heartbeat key has not expired), and the database schema is at the newest
migration. Each check says only ready or not: the probe is public, so it tells nothing else."""
import logging
import os

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from rq import Queue, Worker

from webapp.core.extensions import db
from webapp.core.redis_conn import get_redis

log = logging.getLogger(__name__)


def database_ready():
    db.session.execute(sa.text("SELECT 1"))
    return True


def redis_ready():
    return bool(get_redis().ping())


def worker_ready():
    """A worker registers itself and refreshes a key with a TTL while it lives; RQ drops a worker
    whose key expired from Worker.all()."""
    queue = Queue(current_app.config["RQ_QUEUE"], connection=get_redis())
    return len(Worker.all(queue=queue)) > 0


def migration_heads():
    """The newest revisions of the migrations shipped with this code (read once per process)."""
    heads = current_app.extensions.get("closeline_migration_heads")
    if heads is None:
        directory = current_app.extensions["migrate"].directory
        script = ScriptDirectory(os.path.abspath(directory))
        heads = current_app.extensions["closeline_migration_heads"] = frozenset(script.get_heads())
    return heads


def database_heads():
    with db.engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


def migrations_ready():
    return database_heads() == migration_heads()


CHECKS = {
    "database": database_ready,
    "redis": redis_ready,
    "worker": worker_ready,
    "migrations": migrations_ready,
}

DEPENDS_ON = {"worker": "redis", "migrations": "database"}


def not_ready():
    """Names of the dependencies that are not ready, in CHECKS order (empty: ready)."""
    failing = []
    for name, check in CHECKS.items():
        if DEPENDS_ON.get(name) in failing:
            continue  # cannot be told without what it reads; the answer names the cause only
        try:
            ok = check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", logged for the operator
            log.warning("readiness: %s is not ready (%s)", name, type(exc).__name__)
            ok = False
        if not ok:
            failing.append(name)
    if "database" in failing:
        db.session.rollback()
    return failing
