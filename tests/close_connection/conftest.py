"""Fixtures of the Close connection tests: the sandbox (knowing our live server's callback URL),
Closeline served on that port, a one-call "connect as" and Acme connected by its owner. The plain
helpers (consent driver, connection rows and events) are in tests.helpers.close_connection."""
import pytest

from tests.helpers.close_connection import DEFAULT_CALLBACK, callback_path, close_consent, live_connections
from tests.helpers.servers import free_port, served
from tests.helpers.web import text_of


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


@pytest.fixture
def connect_as(close_sandbox):
    """connect_as(browser, "dana@acme.test") → the page shown after the callback (follows redirects)."""

    def run(browser, email="dana@acme.test", org_name="Acme Sales", action="allow", tamper=None):
        start = browser.post("/integrations/close/connect")
        assert start.status_code == 302, start.get_data(as_text=True)[:500]
        location = close_consent(start.headers["Location"], email, org_name, action)
        path = callback_path(tamper(location) if tamper else location)
        response = browser.get(path, follow_redirects=True)
        response.callback_path = path
        return response

    return run


@pytest.fixture
def owner_connected(app, demo, login, connect_as):
    """Acme connected to "Acme Sales" by the owner as dana; returns (owner browser, connection)."""
    owner = login("owner@acme.test")
    response = connect_as(owner)
    assert "Connected to the Close organization Acme Sales" in text_of(response)
    (connection,) = live_connections(demo.acme.id)
    return owner, connection
