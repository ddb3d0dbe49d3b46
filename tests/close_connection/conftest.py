"""Fixtures of the Close connection tests: the sandbox (knowing our live server's callback URL) and
Closeline served on that port ("connect as" and Acme connected by its owner are in tests/conftest.py).
The plain helpers (consent driver, connection rows and events) are in tests.helpers.close_connection."""
import pytest

from tests.helpers.close_connection import DEFAULT_CALLBACK
from tests.helpers.servers import free_port, served


@pytest.fixture(scope="session")
def live_port():
    return free_port()


@pytest.fixture(scope="session")
def sandbox(live_port):
    """Overrides the shared one: the browser tests' live server callback is a registered redirect URI."""
    from close_sandbox.testing import SandboxServer
    server = SandboxServer(config={"STRICT": True, "REDIRECT_URIS": [
        DEFAULT_CALLBACK, f"http://127.0.0.1:{live_port}/integrations/close/callback"]})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def live_app(app, close_sandbox, live_port):
    """Overrides the shared one: Closeline on the port the sandbox knows as a redirect URI (CSRF and
    cookies as in production)."""
    app.config["CLOSE_REDIRECT_URI"] = f"http://127.0.0.1:{live_port}/integrations/close/callback"
    with served(app, live_port) as base:
        yield base
