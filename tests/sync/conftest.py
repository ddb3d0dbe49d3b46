"""Fixtures of the sync engine tests: fast sync settings (through create_app's config; the worker
launcher passes them on to the worker process), a connected Acme workspace (a CloseConnection row driven by the
sandbox API key through webapp/messages/close_access.py), an API key, and body builders."""
import itertools
import os
from datetime import UTC, datetime, timedelta

import psutil
import pytest
import sqlalchemy as sa

SANDBOX_KEY = "api_demo_dana_acme_sales"
FAST = {
    "CLOSE_API_KEY": SANDBOX_KEY,
    "SYNC_RETRY_BASE": 0.3,
    "SYNC_RETRY_CAP": 2.0,
    "SYNC_INLINE_RETRIES": 2,
    "SYNC_LEASE_SECONDS": 4.0,
    "SYNC_FLAG_TTL": 4.0,
    "SYNC_DRAIN_BUDGET": 5.0,
    "CLOSE_TIMEOUT": 3.0,
    "SYNC_INDEX_GRACE": 5.0,  # the sandbox's index is instant unless a test delays it (and raises this)
}
_ids = itertools.count(1)


@pytest.fixture
def app_overrides():
    return dict(FAST)


def sandbox_ids():
    from close_sandbox import world
    return type("Ids", (), {
        "org": world.org_id("sales"), "support_org": world.org_id("support"),
        "dana": world.user_id("dana"), "rep": world.user_id("rep"),
        "bluth": world.lead_id("bluth"), "gob": world.contact_id("gob"),
        "dunder": world.lead_id("dunder"), "michael": world.contact_id("michael"),
        "initech": world.lead_id("initech"), "globex": world.lead_id("globex"),
        "piedpiper": world.lead_id("piedpiper"), "hooli": world.lead_id("hooli"),
    })


@pytest.fixture
def ids():
    return sandbox_ids()


@pytest.fixture
def connect(app, demo):
    """connect(workspace=acme, **settings) → a live CloseConnection row for the sandbox's Acme Sales."""
    from webapp.core.extensions import db
    from webapp.models import CloseConnection
    ids = sandbox_ids()

    def _connect(workspace=None, **settings):
        workspace = workspace or demo.acme
        row = CloseConnection(workspace_id=workspace.id, close_org_id=ids.org, close_org_name="Acme Sales",
                              close_user_id=ids.dana, close_user_email="dana@acme.test",
                              connected_by_id=demo.users["owner@acme.test"].id,
                              close_users={"owner@acme.test": ids.dana, "admin@acme.test": ids.rep})
        for key, value in settings.items():
            setattr(row, key, value)
        db.session.add(row)
        db.session.commit()
        return row
    return _connect


@pytest.fixture
def connected(connect):
    return connect()


@pytest.fixture
def api_key(app, demo):
    from webapp.core.extensions import db
    from webapp.models import ApiKey
    row, plaintext = ApiKey.generate(demo.acme, "tests")
    db.session.add(row)
    db.session.commit()
    return plaintext


def sent(offset=0):
    base = datetime(2025, 6, 1, 9, 0, tzinfo=UTC) + timedelta(seconds=next(_ids) + offset)
    return base.isoformat().replace("+00:00", "Z")


def body(message_id=None, phone="+14155550101", chat_id=None, number="+14155550001", direction="incoming",
         text="Hello", kind="direct", name="Customer", reply_to=None, attachments=None):
    message = {"id": message_id or f"m-{next(_ids)}", "direction": direction, "sent_at": sent(), "text": text}
    if reply_to:
        message["reply_to"] = reply_to
    if attachments is not None:
        message["attachments"] = attachments
    chat = {"id": chat_id or f"chat-{phone}", "type": kind, "name": name}
    if phone is not None:
        chat["phone"] = phone
    return {"whatsapp_number": number, "chat": chat, "message": message}


class Api:
    def __init__(self, client, key):
        self.client, self.key = client, key

    def post(self, payload, path="/api/v1/messages", key=None, **kwargs):
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return self.client.post(path, json=payload, headers=headers, **kwargs)

    def get(self, message_id, key=None):
        return self.client.get(f"/api/v1/messages/{message_id}", headers={"Authorization": f"Bearer {key or self.key}"})


@pytest.fixture
def api(app, api_key):
    return Api(app.test_client(), api_key)


def messages(**filters):
    """Fresh Message rows (the worker writes from another process)."""
    from webapp.core.extensions import db
    from webapp.models import Message
    db.session.expire_all()
    db.session.rollback()
    query = sa.select(Message).order_by(Message.id)
    for key, value in filters.items():
        query = query.where(getattr(Message, key) == value)
    return db.session.scalars(query).all()


def all_settled(expected):
    rows = messages()
    return len(rows) >= expected and all(m.state not in ("queued", "received", "failed") for m in rows)


def activities(sandbox, external_id=None, lead_id=None):
    params = []
    if external_id:
        params.append(f"external_whatsapp_message_id={external_id}")
    if lead_id:
        params.append(f"lead_id={lead_id}")
    return sandbox.control("GET", "/_sandbox/activities" + ("?" + "&".join(params) if params else ""))["data"]


@pytest.fixture
def drain_now(app):
    """Run the workspace's drain in-process (no worker): deterministic tests of the rules."""
    def _drain(workspace_id):
        from webapp.messages import drain
        while drain.drain_workspace(workspace_id):
            pass
    return _drain


class Workers:
    """Real `rq worker` processes we can SIGKILL (the shared `worker` fixture starts only one)."""

    def __init__(self, app, database_url, redis_url):
        self.app, self.database_url, self.redis_url, self.procs = app, database_url, redis_url, []

    def start(self):
        from tests.conftest import start_worker
        proc = start_worker(self.app, self.database_url, self.redis_url)
        self.procs.append(proc)
        return proc

    def kill(self, proc):
        """SIGKILL the worker and its work horse (RQ forks the horse into its own session)."""
        import signal
        for pid in [proc.pid] + descendants(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=30)

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                for pid in descendants(proc.pid):
                    try:
                        os.kill(pid, 9)
                    except ProcessLookupError:
                        pass
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except Exception:
                    proc.kill()


def descendants(pid):
    """Pids of a worker's children (RQ's work horse runs in its own session)."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@pytest.fixture
def workers(app, database_url, redis_url):
    pool = Workers(app, database_url, redis_url)
    yield pool
    pool.stop_all()


@pytest.fixture
def history_source(app):
    """A gateway's history as plain data: 3 messages of a chat with a known lead, 2 of a new one."""
    from tests.sync.test_history_import import ListSource, _chat
    from webapp.history_import import service as history
    source = ListSource([_chat("chat-+14155550101", 3, "+14155550101"), _chat("chat-new", 2, "+14155550142")])
    history.set_source_factory(lambda number, since, until, media=True: source)
    yield source
    history.set_source_factory(None)
