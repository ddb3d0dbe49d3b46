"""History import: a dry run, then the import itself, fed to the outbox in slices.

    request_plan(number, since, until, scope, user_id)  # the row (state "planning") and its dry-run job
    run_plan(history_import)                            # the job: plan() → counts on the row, "planned"
    plan(number, source, scope, client) -> dict         # reads the gateway and Close, writes nothing
    create(number, since, until, scope, user_id, plan)  # the import row (state "planned")
    store(history_import, source)                       # phase 1: every message stored, waiting
    feed(import_id) -> bool                             # phase 2: one slice to the outbox; True = more

Phase 1 goes through ingest.accept() (the one entry point: privacy, idempotency on the message
id) with `wait_reason=WAITING`: rows that would be queued wait as `held` instead. Phase 2 releases
the next slice of them (round-robin over chats, each chat in id order) only once the previous
slice has left the queue, so a live message waits for at most one slice. Both phases are
resumable: stored rows are the progress, a re-run stores nothing twice and Close sees each
message once.

A source is anything with `chats()` → [HistoryChat] and `messages(chat)` → [IncomingMessage]
(oldest first, within the period). The gateway adapter builds one from a linked number.
"""
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from webapp.clients.close.client import CloseError
from webapp.core.extensions import db
from webapp.core.phones import InvalidPhone, region_of, to_e164
from webapp.core.redis_conn import get_queue, job_alive
from webapp.messages import close_access, ingest, routing, scheduler
from webapp.messages import gate as privacy
from webapp.messages.totals import invalidate_totals
from webapp.models import Chat, HistoryImport, Message, utcnow

WAITING = "History import: waiting for its turn (live messages go first)."
FEED_WINDOW = 5000  # waiting rows a slice is chosen from (oldest first: whole chats, in id order)
SOURCE = "import"
SCOPES = ("all", "known")
PERIODS = (7, 30, 90)
STORE_CHUNK = 200
# Skip categories shown by the dry run (and recounted from the rows after the run).
SKIP_LABELS = {
    "already_stored": "already in Closeline (not imported again)",
    "excluded": "excluded chat or phone (privacy)",
    "group": "group chat not pinned to a lead",
    "not_in_close": "phone not in Close (scope: chats already in Close)",
    "allow_list": "phone not in Close (allow-list mode)",
    "auto_create_off": "phone not in Close and auto-create is off",
}


@dataclass
class HistoryChat:
    id: str
    kind: str = "direct"          # direct | group
    phone: str | None = None      # as the gateway gives it (read in the number's region)
    name: str = ""
    labels: tuple = ()


class NoHistory(RuntimeError):
    """No history can be read for this number; `str()` tells the user what to do."""


# The gateway side registers how to read a linked number's history (features.py wires it):
# factory(number, since, until, media=True) -> source, raising NoHistory when the number isn't
# linked. media=False: the dry run, which needs ids and chats only (no downloads).
_source_factory = None


def set_source_factory(factory):
    global _source_factory
    _source_factory = factory


def source_for(number, since, until, media=True):
    if _source_factory is None:
        raise NoHistory("History import needs the number linked through a WhatsApp gateway (WhatsApp page).")
    return _source_factory(number, since, until, media=media)


def _chat_row(number, chat):
    return db.session.scalar(sa.select(Chat).where(Chat.whatsapp_number_id == number.id,
                                                   Chat.external_id == chat.id))


def _e164(number, raw):
    try:
        return to_e164(raw, region_of(number.e164)) if raw else None
    except InvalidPhone:
        return None


def classify(number, chat, scope, connection, client, row=None):
    """(category, matched) for one chat: category None = its messages sync; matched = an existing
    Close lead gets them (False = a lead would be created)."""
    workspace_id = number.workspace_id
    row = row if row is not None else _chat_row(number, chat)
    phone = _e164(number, chat.phone)
    if privacy.exclusion_reason(workspace_id, row, phone, chat.labels):
        return "excluded", False
    if chat.kind == "group":
        return (None, True) if row is not None and row.pinned_lead_id else ("group", False)
    if row is not None:
        link = routing.find_link(row.id, connection.close_org_id)
        if link is not None and link.lead_id:
            return None, True
    if phone and routing.search(client, phone, region_of(number.e164)):
        return None, True
    if scope == "known":
        return "not_in_close", False
    if privacy.allow_list_only(workspace_id):
        return "allow_list", False
    if not connection.auto_create_lead:
        return "auto_create_off", False
    return None, False


PLAN_JOB = "jobs.history.plan_import"
PLAN_STALLED_AFTER = timedelta(seconds=30)  # a "planning" row whose job vanished is written off after this


def plan_job_id(import_id):
    return f"history-plan-{import_id}"


def request_plan(number, since, until, scope, user_id):
    """Ask for a dry run. What the page can answer at once is checked here (Close connected, the
    number linked); reading the gateway and Close can take minutes, so a job does it while the
    page polls the row."""
    if close_access.live_connection(number.workspace_id) is None:
        raise NoHistory("Connect Close first: the dry run looks up which chats are already there.")
    source_for(number, since, until, media=False)  # refuses an unlinked number now, not in the job
    row = create(number, since, until, scope, user_id, {}, state="planning")
    get_queue().enqueue(PLAN_JOB, row.id, job_id=plan_job_id(row.id), job_timeout=1800, result_ttl=60,
                        failure_ttl=24 * 3600, description=f"history import {row.id}: dry run")
    return row


def run_plan(history_import):
    """The dry run, in its job: the counts land on the row ("planned"), or the row says why the dry
    run could not finish and what to do ("plan_failed")."""
    number = history_import.number
    try:
        connection = close_access.live_connection(history_import.workspace_id)
        if connection is None:
            raise NoHistory("Close was disconnected before the dry run could ask it: reconnect Close, "
                            "then run the dry run again.")
        source = source_for(number, history_import.since, history_import.until, media=False)
        counts = plan(number, source, history_import.scope, connection,
                      close_access.client_for_connection(connection))
    except NoHistory as exc:
        return _plan_failed(history_import.id, str(exc))
    except CloseError as exc:
        return _plan_failed(history_import.id, f"Close could not be asked ({exc.message}); nothing was imported. "
                                               "Run the dry run again.")
    except Exception as exc:
        _plan_failed(history_import.id, f"The dry run stopped ({type(exc).__name__}); nothing was imported. "
                                        "Run it again, and tell your administrator if it keeps failing.")
        raise
    history_import.plan, history_import.state = counts, "planned"
    db.session.commit()
    return history_import.state


def _plan_failed(import_id, reason):
    db.session.rollback()
    row = db.session.get(HistoryImport, import_id)
    row.state, row.error = "plan_failed", reason
    db.session.commit()
    return row.state


def write_off_stalled_plan(history_import):
    """A dry run whose job is gone (worker killed, Redis flushed) must not spin forever."""
    if history_import.state == "planning" and history_import.created_at < utcnow() - PLAN_STALLED_AFTER \
            and not job_alive(plan_job_id(history_import.id)):
        _plan_failed(history_import.id, "The dry run stopped without reporting (a worker restarted?). Run it again.")


def plan(number, source, scope, connection, client):
    """The dry run: what the import would do. Reads the gateway and Close; writes nothing."""
    counts = {"messages": 0, "chats": 0, "match_existing": 0, "leads_to_create": 0,
              "skipped": {key: 0 for key in SKIP_LABELS}, "skipped_chats": {key: 0 for key in SKIP_LABELS}}
    for chat in source.chats():
        found = source.messages(chat)
        new = _new_messages(number.workspace_id, found)
        counts["skipped"]["already_stored"] += len(found) - len(new)
        if not new:
            continue
        category, matched = classify(number, chat, scope, connection, client)
        if category:
            counts["skipped"][category] += len(new)
            counts["skipped_chats"][category] += 1
            continue
        counts["messages"] += len(new)
        counts["chats"] += 1
        counts["match_existing" if matched else "leads_to_create"] += 1
    return counts


def _new_messages(workspace_id, items):
    ids = [item.message.id for item in items]
    known = set()
    for start in range(0, len(ids), 500):
        known |= set(db.session.scalars(sa.select(Message.external_id).where(
            Message.workspace_id == workspace_id, Message.external_id.in_(ids[start:start + 500]))))
    return [item for item in items if item.message.id not in known]


RUN_JOB, FEED_JOB = "jobs.history.run_import", "jobs.history.feed"


def start(history_import):
    """Confirmed by the user: the job stores, then feeds. Also resumes a stopped import."""
    if history_import.state in ("planned", "storing", "failed"):
        history_import.state, history_import.error = "storing", ""
        db.session.commit()
        get_queue().enqueue(RUN_JOB, history_import.id, job_timeout=3600, result_ttl=60,
                            description=f"history import {history_import.id}")
    elif history_import.state == "feeding":
        enqueue_feed(history_import.id, 0)


def enqueue_feed(import_id, delay=None):
    delay = current_app.config["SYNC_IMPORT_INTERVAL"] if delay is None else delay
    get_queue().enqueue_in(timedelta(seconds=delay), FEED_JOB, import_id, result_ttl=60,
                           description=f"history import {import_id}: next slice")


def create(number, since, until, scope, user_id, counts, state="planned"):
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    row = HistoryImport(workspace_id=number.workspace_id, whatsapp_number_id=number.id, created_by_id=user_id,
                        since=since, until=until, scope=scope, state=state, plan=counts,
                        progress={"chats_done": [], "stored": 0, "not_imported": 0})
    db.session.add(row)
    db.session.commit()
    return row


def store(history_import, source, connection, client):
    """Phase 1: store every message of every chat (in chat order), waiting. Resumable per chat."""
    number = history_import.number
    progress = dict(history_import.progress or {})
    done = set(progress.get("chats_done") or [])
    for chat in sorted(source.chats(), key=lambda c: c.id):
        if chat.id in done:
            continue
        items = source.messages(chat)
        category, _ = classify(number, chat, history_import.scope, connection, client) if items else (None, False)
        if category == "not_in_close":  # out of scope: not stored at all
            progress["not_imported"] = progress.get("not_imported", 0) + len(_new_messages(number.workspace_id, items))
        else:
            for start in range(0, len(items), STORE_CHUNK):
                results = ingest.accept(number.workspace_id, items[start:start + STORE_CHUNK], SOURCE,
                                        wait_reason=WAITING)
                progress["stored"] = progress.get("stored", 0) + sum(r.status == "created" for r in results)
        done.add(chat.id)
        progress["chats_done"] = sorted(done)
        history_import.progress = progress
        db.session.commit()
    history_import.state = "feeding"
    db.session.commit()


def feed(import_id):
    """Phase 2: release the next slice once the last one left the queue. True while rows wait."""
    history_import = db.session.get(HistoryImport, import_id)
    if history_import is None or history_import.state != "feeding":
        return False
    workspace_id = history_import.workspace_id
    base = (Message.workspace_id == workspace_id, Message.source == SOURCE)
    in_queue = db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
        *base, Message.state == "queued"))
    if in_queue:
        return True
    ids = _next_slice(base, current_app.config["SYNC_IMPORT_SLICE"])
    if not ids:
        history_import.state = "done"
        db.session.commit()
        return False
    now = utcnow()
    db.session.execute(sa.update(Message).where(Message.id.in_(ids), Message.state == "held")
                       .values(state="queued", reason="", queued_at=now, updated_at=now))
    db.session.commit()
    invalidate_totals(workspace_id)
    scheduler.kick(workspace_id)
    return True


def _next_slice(base, size):
    """The next `size` waiting rows, taken round-robin over their chats (each chat's oldest first,
    then each chat's second, ...) among the oldest FEED_WINDOW: a slice spreads over many chats,
    which the drain delivers in parallel, instead of being one chat's rows sent one by one."""
    window = (sa.select(Message.id, Message.chat_id)
              .where(*base, Message.state == "held", Message.reason == WAITING)
              .order_by(Message.id).limit(FEED_WINDOW).subquery())
    turn = sa.func.row_number().over(partition_by=window.c.chat_id, order_by=window.c.id).label("turn")
    ranked = sa.select(window.c.id, turn).subquery()
    return db.session.scalars(sa.select(ranked.c.id).order_by(ranked.c.turn, ranked.c.id).limit(size)).all()


def status(history_import):
    """Live progress for the page: {"stored", "waiting", "queued", "synced", "skipped", "failed", "done"}."""
    rows = db.session.execute(sa.select(Message.state, sa.func.count()).where(
        Message.workspace_id == history_import.workspace_id, Message.source == SOURCE,
        Message.whatsapp_number_id == history_import.whatsapp_number_id).group_by(Message.state)).all()
    by_state = dict(rows)
    waiting = by_state.pop("held", 0)
    result = {"stored": (history_import.progress or {}).get("stored", 0), "waiting": waiting,
              "queued": by_state.get("queued", 0), "synced": by_state.get("synced", 0),
              "skipped": by_state.get("skipped", 0), "failed": by_state.get("failed", 0) + by_state.get("dead", 0)}
    result["finished"] = history_import.state in ("done", "failed") and not result["queued"]
    return result

