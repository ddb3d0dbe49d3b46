"""The sync engine's test material: fast sync settings, the Close sandbox's ids, ingestion bodies,
fresh Message rows, the activities the sandbox received, and waiting until every row is settled."""
import collections
import itertools
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from tests.helpers.waiting import wait_for

SANDBOX_KEY = "api_demo_dana_acme_sales"
# Fast sync settings, passed through create_app's config (`app_overrides`) and on to the worker process.
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


def sandbox_ids():
    """Ids of the Close sandbox's seeded world (organizations, users, leads, contacts)."""
    from close_sandbox import world
    return type("Ids", (), {
        "org": world.org_id("sales"), "support_org": world.org_id("support"),
        "dana": world.user_id("dana"), "rep": world.user_id("rep"),
        "bluth": world.lead_id("bluth"), "gob": world.contact_id("gob"),
        "dunder": world.lead_id("dunder"), "michael": world.contact_id("michael"),
        "initech": world.lead_id("initech"), "globex": world.lead_id("globex"),
        "piedpiper": world.lead_id("piedpiper"), "hooli": world.lead_id("hooli"),
    })


def sales_users():
    """The active users of the sandbox's Acme Sales, as a connection caches them."""
    from close_sandbox import world
    members = [user for user, _ in world.ORGS["sales"][1]]
    return [{"id": world.user_id(key), "email": email, "name": f"{first} {last}"}
            for key, email, first, last in world.USERS if key in members]


def sent(offset=0):
    base = datetime(2025, 6, 1, 9, 0, tzinfo=UTC) + timedelta(seconds=next(_ids) + offset)
    return base.isoformat().replace("+00:00", "Z")


def body(message_id=None, phone="+14155550101", chat_id=None, number="+14155550001", direction="incoming",
         text="Hello", kind="direct", name="Customer", reply_to=None, attachments=None):
    """One message as the ingestion API takes it."""
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
    """The ingestion API through the test client, with a bearer API key."""

    def __init__(self, client, key):
        self.client, self.key = client, key

    def post(self, payload, path="/api/v1/messages", key=None, **kwargs):
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return self.client.post(path, json=payload, headers=headers, **kwargs)

    def get(self, message_id, key=None):
        return self.client.get(f"/api/v1/messages/{message_id}", headers={"Authorization": f"Bearer {key or self.key}"})


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


def activities(sandbox, external_id=None, lead_id=None):
    """The WhatsApp activities the Close sandbox holds (optionally of one message or one lead)."""
    params = []
    if external_id:
        params.append(f"external_whatsapp_message_id={external_id}")
    if lead_id:
        params.append(f"lead_id={lead_id}")
    return sandbox.control("GET", "/_sandbox/activities" + ("?" + "&".join(params) if params else ""))["data"]


def settle(ids, timeout, sweep_every=1.0, states=("synced",)):
    """Wait until every row is synced, running the sweeper as `rq cron` would."""
    from webapp.messages.sweeper import sweep
    next_sweep = [0.0]

    def settled():
        rows = messages()
        if len(rows) == len(ids) and all(m.state in states for m in rows):
            return rows
        if time.monotonic() > next_sweep[0]:
            sweep()
            next_sweep[0] = time.monotonic() + sweep_every
        return None

    try:
        return wait_for(settled, timeout=timeout, interval=0.2, message="every row to be synced")
    except AssertionError:
        states = collections.Counter((m.state, m.reason[:60]) for m in messages())
        raise AssertionError(f"not all synced: {states}") from None


def exactly_once(sandbox, ids):
    """Each message id is one activity in Close; returns the lead creations Close took."""
    counts = collections.Counter(a["external_whatsapp_message_id"] for a in activities(sandbox))
    assert set(counts) == set(ids), set(ids) - set(counts)
    duplicated = {k: v for k, v in counts.items() if v != 1}
    assert not duplicated, duplicated
    # A lead exists in Close when its POST was answered 200 or written and its answer lost.
    leads_created = [r for r in sandbox.control("GET", "/_sandbox/requests")["data"]
                     if r["method"] == "POST" and r["path"] == "/api/v1/lead/"
                     and (r["status"] == 200 or r["fault"] == "response_lost")]
    return leads_created
