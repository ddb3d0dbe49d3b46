"""History import: the dry run's counts are what the run then does, a re-run creates nothing,
an out-of-scope chat is not stored, and 2,000 messages go beside live traffic in per-chat order."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.helpers.history import T0, ListSource, history_chat
from tests.helpers.messages import activities, body, messages
from tests.helpers.waiting import wait_for


def _fixture_history():
    return ListSource([
        history_chat("chat-+14155550101", 5, "+14155550101", name="Gob"),          # in Close (Bluth)
        history_chat("chat-new", 4, "+14155550142", name="Newton"),                # a lead would be created
        history_chat("chat-private", 3, "+14155550143", name="Doctor"),            # on the exclusion list
        history_chat("grp-1", 2, kind="group", name="Family"),                     # group, not pinned
        history_chat("chat-+14155550102", 3, "415 555 0102", name="Michael"),      # in Close; one already stored
    ])


def _run_to_the_end(row, source, sandbox_connection, drain_now):
    from webapp.core.extensions import db
    from webapp.history_import import service as history
    from webapp.messages import close_access
    history.store(row, source, sandbox_connection, close_access.client_for_connection(sandbox_connection))
    while history.feed(row.id):
        drain_now(row.workspace_id)
    drain_now(row.workspace_id)
    db.session.expire_all()


CATEGORY = {"Excluded chat": "excluded", "Phone on the workspace exclusion list": "excluded",
            "Group chat": "group", "Allow-list mode": "allow_list"}


def _outcome(workspace_id, since):
    rows = [m for m in messages() if m.source == "import"]
    skipped = {}
    for m in rows:
        if m.state == "skipped":
            key = next(v for k, v in CATEGORY.items() if m.reason.startswith(k))
            skipped[key] = skipped.get(key, 0) + 1
    synced = [m for m in rows if m.state == "synced"]
    found, created = _links_created_since(workspace_id, since)
    return {"messages": len(synced), "chats": len({m.chat_id for m in synced}), "match_existing": found,
            "leads_to_create": created, "skipped": skipped}


def _links_created_since(workspace_id, moment):
    """ChatLinks routing made after `moment`: (found or ambiguous, created)."""
    from webapp.core.extensions import db
    from webapp.models import ChatLink
    by_source = dict(db.session.execute(sa.select(ChatLink.source, sa.func.count()).where(
        ChatLink.workspace_id == workspace_id, ChatLink.created_at >= moment).group_by(ChatLink.source)).all())
    return by_source.get("found", 0) + by_source.get("ambiguous", 0), by_source.get("created", 0)


def test_dry_run_counts_are_what_the_run_does_and_a_rerun_creates_nothing(
        app, api, sandbox_connection, close_sandbox, drain_now, demo, login):
    from webapp.core.extensions import db
    from webapp.history_import import service as history
    from webapp.messages import close_access
    from webapp.messages import gate as privacy
    from webapp.models import WhatsAppNumber, utcnow
    privacy.add_entry(demo.acme.id, "phone", "+14155550143")
    api.post(body("chat-+14155550102-0", phone="415 555 0102", chat_id="chat-+14155550102"))  # live, earlier
    number = db.session.scalar(sa.select(WhatsAppNumber).where(WhatsAppNumber.e164 == "+14155550001"))
    source, client = _fixture_history(), close_access.client_for_connection(sandbox_connection)
    close_sandbox.control("DELETE", "/_sandbox/requests")

    counts = history.plan(number, source, "all", sandbox_connection, client)
    writes = [r for r in close_sandbox.control("GET", "/_sandbox/requests")["data"] if r.get("method") != "GET"
              and "/data/search/" not in r.get("path", "")]
    assert writes == []                                         # the dry run touches nothing in Close
    assert messages()[0].external_id == "chat-+14155550102-0" and len(messages()) == 1  # nor our outbox
    assert counts["messages"] == 11 and counts["chats"] == 3
    assert counts["match_existing"] == 2 and counts["leads_to_create"] == 1
    assert {k: v for k, v in counts["skipped"].items() if v} == {"already_stored": 1, "excluded": 3, "group": 2}

    started = utcnow()
    row = history.create(number, T0, T0 + timedelta(days=1), "all", demo.users["owner@acme.test"].id, counts)
    _run_to_the_end(row, source, sandbox_connection, drain_now)
    outcome = _outcome(demo.acme.id, started)
    assert outcome == {"messages": counts["messages"], "chats": counts["chats"],
                       "match_existing": counts["match_existing"], "leads_to_create": counts["leads_to_create"],
                       "skipped": {k: v for k, v in counts["skipped"].items() if v and k != "already_stored"}}
    assert len(activities(close_sandbox)) == 11 + 1             # + the live one
    private = [m for m in messages() if m.chat.remote_phone == "+14155550143"]
    assert private and all(m.text == "" for m in private)
    assert history.status(db.session.get(type(row), row.id))["finished"]

    # A re-run: the dry run sees everything stored, the run creates no row and no Close activity.
    again = history.plan(number, source, "all", sandbox_connection, client)
    assert again["messages"] == 0 and again["skipped"]["already_stored"] == 17
    before_rows, before_close = len(messages()), len(activities(close_sandbox))
    row2 = history.create(number, T0, T0 + timedelta(days=1), "all", None, again)
    _run_to_the_end(row2, source, sandbox_connection, drain_now)
    assert len(messages()) == before_rows and len(activities(close_sandbox)) == before_close


def test_scope_known_chats_only_stores_nothing_of_the_others(app, sandbox_connection, close_sandbox, drain_now, demo):
    from webapp.core.extensions import db
    from webapp.history_import import service as history
    from webapp.messages import close_access
    from webapp.models import WhatsAppNumber
    number = db.session.scalar(sa.select(WhatsAppNumber).where(WhatsAppNumber.e164 == "+14155550001"))
    source = ListSource([history_chat("chat-+14155550101", 2, "+14155550101"), history_chat("chat-new", 4, "+14155550142")])
    counts = history.plan(number, source, "known", sandbox_connection, close_access.client_for_connection(sandbox_connection))
    assert counts["messages"] == 2 and counts["skipped"]["not_in_close"] == 4 and counts["leads_to_create"] == 0
    row = history.create(number, T0, T0 + timedelta(days=1), "known", None, counts)
    _run_to_the_end(row, source, sandbox_connection, drain_now)
    assert sorted(m.external_id for m in messages()) == ["chat-+14155550101-0", "chat-+14155550101-1"]
    assert db.session.get(type(row), row.id).progress["not_imported"] == 4


@pytest.fixture
def app_overrides():
    from tests.helpers.messages import FAST
    return dict(FAST, SYNC_IMPORT_SLICE=250, SYNC_IMPORT_INTERVAL=0.2)   # SYNC_* reach the worker too


def _import_count(*states):
    from webapp.core.extensions import db
    from webapp.models import Message
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
        Message.source == "import", Message.state.in_(states)))


@pytest.mark.timeout(2400)
def test_two_thousand_messages_beside_live_traffic(app, api, sandbox_connection, close_sandbox, demo, worker):
    from webapp.core.extensions import db
    from webapp.history_import import service as history
    from webapp.messages import close_access
    from webapp.models import Message, WhatsAppNumber
    number = db.session.scalar(sa.select(WhatsAppNumber).where(WhatsAppNumber.e164 == "+14155550001"))
    source = ListSource([history_chat(f"bulk-{c:02d}", 40, f"+1415555{c + 1200:04d}", name=f"Bulk {c}")
                         for c in range(50)])
    row = history.create(number, T0, T0 + timedelta(days=1), "all", None, {})
    history.store(row, source, sandbox_connection, close_access.client_for_connection(sandbox_connection))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(Message.source == "import")) == 2000
    history.enqueue_feed(row.id, 0)

    for i in range(5):   # live messages arrive while the import runs, and are synced before it ends
        assert api.post(body(f"live-{i}", phone="+14155550101")).status_code == 202
        wait_for(lambda i=i: messages(external_id=f"live-{i}")[0].state == "synced", timeout=300,
                 message=f"live message {i} to sync")
        assert _import_count("held", "queued") > 0, "the import finished first: live messages were not interleaved"

    wait_for(lambda: _import_count("synced") == 2000, timeout=1800, interval=2.0, message="the import to finish")
    def finished():
        db.session.rollback()   # a fresh read: the worker writes the import row
        return history.status(db.session.get(type(row), row.id))["finished"]
    wait_for(finished, timeout=300, message="the import to be done")
    # Per-chat order: in each chat, Close received the messages in the order they were sent.
    for c in (0, 17, 49):
        lead_id = messages(external_id=f"bulk-{c:02d}-0")[0].close_lead_id
        got = activities(close_sandbox, lead_id=lead_id)
        created = [a["external_whatsapp_message_id"] for a in sorted(got, key=lambda a: a["date_created"])]
        assert created == [f"bulk-{c:02d}-{i}" for i in range(40)]
