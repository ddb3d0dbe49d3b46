"""Fixtures of the operations tests: the fast sync settings (messages flow in the metrics tests),
a database stamped at a migration revision (tests build the schema with create_all), and a worker
registered in Redis the way a live `rq worker` registers itself."""
import os
import uuid

import pytest
import redis
import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tests.helpers.messages import FAST


@pytest.fixture
def app_overrides():
    return dict(FAST, METRICS_TOKEN="metrics-test-token")


@pytest.fixture
def stamp(app):
    """stamp("heads") or stamp(<revision>): the schema's alembic_version, as `flask db upgrade` leaves it."""
    from webapp.core.extensions import db
    script = ScriptDirectory(os.path.abspath(app.extensions["migrate"].directory))

    def _stamp(revision):
        with db.engine.begin() as conn:
            MigrationContext.configure(conn).stamp(script, revision)
        return script
    yield _stamp
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture
def registered_worker(app, redis_url):
    """A worker's registration and heartbeat in Redis (what /readyz reads), without a process."""
    from rq import Queue, Worker
    connection = redis.Redis.from_url(redis_url)
    worker = Worker([Queue(app.config["RQ_QUEUE"], connection=connection)], connection=connection,
                    name=f"probe-{uuid.uuid4().hex[:8]}")
    worker.register_birth()
    worker.heartbeat()
    yield worker
    worker.register_death()
