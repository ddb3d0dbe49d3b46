"""Fixtures of the history import tests: the sync engine's fast settings and a history source."""
import pytest

from tests.helpers.history import ListSource, history_chat
from tests.helpers.messages import FAST


@pytest.fixture
def app_overrides():
    return dict(FAST)


@pytest.fixture
def history_source(app):
    """A gateway's history as plain data: 3 messages of a chat with a known lead, 2 of a new one."""
    from webapp.history_import import service as history
    source = ListSource([history_chat("chat-+14155550101", 3, "+14155550101"),
                         history_chat("chat-new", 2, "+14155550142")])
    history.set_source_factory(lambda number, since, until, media=True: source)
    yield source
    history.set_source_factory(None)
