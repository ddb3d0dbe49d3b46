"""Fixtures of the sync engine tests: the fast sync settings (through create_app's config; the worker
launcher passes them on to the worker process) and real workers a test can SIGKILL. The engine's
fixtures every feature shares (ids, connect, sandbox_connection, api, drain_now) are in tests/conftest.py."""
import pytest

from tests.helpers.messages import FAST
from tests.helpers.workers import Workers


@pytest.fixture
def app_overrides():
    return dict(FAST)


@pytest.fixture
def workers(app, database_url, redis_url):
    pool = Workers(app, database_url, redis_url)
    yield pool
    pool.stop_all()
