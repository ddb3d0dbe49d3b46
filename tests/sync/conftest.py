"""Fixtures of the sync engine tests: the fast sync settings (through create_app's config; the worker
launcher passes them on to the worker process), real workers a test can SIGKILL, and a history
source. The engine's shared fixtures (ids, connect, connected, api, drain_now) are in tests/conftest.py."""
import pytest

from tests.helpers.history import ListSource, history_chat
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


@pytest.fixture
def history_source(app):
    """A gateway's history as plain data: 3 messages of a chat with a known lead, 2 of a new one."""
    from webapp.history_import import service as history
    source = ListSource([history_chat("chat-+14155550101", 3, "+14155550101"),
                         history_chat("chat-new", 2, "+14155550142")])
    history.set_source_factory(lambda number, since, until, media=True: source)
    yield source
    history.set_source_factory(None)
