"""Fixtures of the security tests: a hostile HTTP server on loopback (tests.helpers.hostile) and the
sync engine's fast settings."""
import pytest

from tests.helpers.hostile import HostileServer
from tests.helpers.messages import FAST


@pytest.fixture
def hostile():
    server = HostileServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def app_overrides():
    """The security tests drive the sync engine: its fast settings."""
    return dict(FAST)
