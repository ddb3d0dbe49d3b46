"""Test sync and catch-up: user-started runs of the sync engine whose state lives on a JobRun row.

The web request only creates the row and enqueues (deterministic job id, so a second click finds
the running job); the job checks token and permissions, then syncs the latest direct-chat
messages one by one, reporting each outcome on the row for the Close card to poll.
"""
import logging
from datetime import timedelta

import sqlalchemy as sa

from webapp.clients.close import checks, tokens
from webapp.clients.close.client import CloseAuthError, CloseError, CloseTransient
from webapp.clients.close.lifecycle import record_event
from webapp.close_connection import service, validation
from webapp.close_connection.wording import JOB_LABELS
from webapp.core.extensions import db
from webapp.core.redis_conn import get_queue, get_redis, job_alive
from webapp.messages import close_access
from webapp.messages.actions import count_held, release_held
from webapp.messages.close_access import lead_url
from webapp.messages.drain import sync_message_now
from webapp.models import Chat, ChatLink, CloseConnection, JobRun, Message, utcnow

log = logging.getLogger(__name__)

TEST_SYNC_LIMIT = 10
SENDABLE = ("queued", "failed")  # what the live sync would send now; other states are reported, never sent
LOST_AFTER = timedelta(seconds=30)  # a queued row whose RQ job vanished is marked failed after this
JOB_IDS = {"test_sync": "test-sync-{}", "catch_up": "catch-up-{}", "check": "check-connection-{}"}
RUN_JOB = "jobs.connection.run_job"


class NotStartable(Exception):
    """The run can't start now; the message tells the user why."""


def blocker(workspace, kind):
    """Why a test sync / catch-up can't run for this workspace now, or None (checked on start and in the job)."""
    if tokens.live_connection(workspace.id) is None:
        return "Connect Close first." if kind in ("test_sync", "check") else \
            "Held messages can be synced once Close is connected and the subscription is active."
    if kind == "check":  # a read-only check works whatever the subscription
        return None
    if not workspace.subscription_active:
        return "The subscription is inactive: test sync is paused until renewal." if kind == "test_sync" else \
            "Held messages can be synced once Close is connected and the subscription is active."
    return None


def running_job(workspace_id):
    """The workspace's unfinished JobRun, after writing off runs whose RQ job is gone."""
    run = db.session.scalar(sa.select(JobRun).where(JobRun.workspace_id == workspace_id, JobRun.kind.in_(JOB_LABELS),
                                                    JobRun.status.in_(("queued", "running")))
                            .order_by(JobRun.id.desc()).limit(1))
    if run is None or run.created_at > utcnow() - LOST_AFTER:
        return run
    if job_alive(run.rq_job_id):
        return run
    _finish(run, "failed", "The job stopped without reporting (worker restarted?). Run it again.")
    return None


def start(workspace, user, kind):
    """Enqueue a test sync or catch-up unless one is running; returns the (new or running) JobRun.
    Raises NotStartable when the workspace can't run it now."""
    problem = blocker(workspace, kind)
    if problem:
        raise NotStartable(problem)
    with get_redis().lock(f"closeline:job-start:{workspace.id}", timeout=10, blocking_timeout=10):
        run = running_job(workspace.id)
        if run is not None:
            return run
        job_id = JOB_IDS[kind].format(workspace.id)
        connection = tokens.live_connection(workspace.id)
        run = JobRun(workspace_id=workspace.id, kind=kind, rq_job_id=job_id, status="queued",
                     connection_id=connection.id if connection is not None else None,
                     started_by_id=user.id, message="Waiting for a worker…")
        db.session.add(run)
        db.session.commit()  # before enqueueing: the worker must find the row
        get_queue().enqueue(RUN_JOB, run.id, job_id=job_id, job_timeout=600, result_ttl=300, failure_ttl=3600)
        return run


def _finish(run, status, message, result=None):
    run.status = status
    run.message = message
    if result is not None:
        run.result = result
    run.finished_at = utcnow()
    label = JOB_LABELS.get(run.kind, run.kind)
    record_event(db.session, run.workspace_id, run.kind, f"{label} {status}: {message}",
                 connection_id=run.connection_id, actor_id=run.started_by_id)
    db.session.commit()


def _progress(run, done=None, total=None, message=None, result=None):
    if done is not None:
        run.progress_done = done
    if total is not None:
        run.progress_total = total
    if message is not None:
        run.message = message
    if result is not None:
        run.result = dict(result)
    db.session.commit()


def execute(run_id):
    run = db.session.get(JobRun, run_id)
    if run is None or run.status not in ("queued", "running"):
        return "gone"
    run.status = "running"
    _progress(run, message="Checking the connection…")
    try:
        {"test_sync": test_sync, "catch_up": catch_up, "check": check}[run.kind](run)
    except Exception as exc:  # the card must never spin forever
        db.session.rollback()
        log.exception("%s %s failed", run.kind, run_id)
        _finish(db.session.get(JobRun, run_id), "failed", f"The job failed: {type(exc).__name__}.")
        raise
    return run.status


def _check_connection(run, result):
    """Token + permissions, read-only. Returns False (run finished) when the connection is unusable.
    Each check is listed once; what it learns is written to the connection (the card's one state)."""
    connection = tokens.live_connection(run.workspace_id)
    if connection is None:
        _finish(run, "failed", "The workspace is not connected to Close.", result)
        return False
    if run.kind != "check" and not connection.workspace.subscription_active:
        _finish(run, "failed", "The subscription is inactive: sync is paused until renewal.", result)
        return False
    checked = f"{connection.close_user_email or 'the connected Close user'} in {connection.close_org_name or 'Close'}"
    try:
        client = tokens.client_for(connection)
        access = checks.verify_access(client, connection.close_org_id)
    except tokens.ConnectionLost as exc:
        result["checks"].append({"label": "Close accepts Closeline's access", "ok": False})
        _finish(run, "failed", f"Close refused the connection of {checked}: {exc.message}.", result)
        return False
    except CloseTransient as exc:
        close_access.note_reachability(connection.id, False, f"Close unreachable: {exc.message}")
        result["checks"].append({"label": "Close is reachable", "ok": False})
        _finish(run, "failed", "Close could not be reached; nothing could be checked. Closeline keeps retrying; "
                "try again later.", result)
        return False
    except CloseError as exc:
        result["checks"].append({"label": "Close accepts Closeline's access", "ok": False})
        _finish(run, "failed", f"Close did not show the account details of {checked} ({exc.message}).", result)
        return False
    close_access.note_reachability(connection.id, True)
    result["checks"].append({"label": "Close is reachable and accepts Closeline's access", "ok": True})
    if access.membership is None:
        result["checks"].append({"label": f"{checked}: active member", "ok": False})
        _finish(run, "failed", f"{checked}: the Close user is no longer an active member.", result)
        return False
    for permission in checks.REQUIRED:
        result["checks"].append({"label": checks.PERMISSION_LABELS[permission], "ok": permission not in access.missing})
    record_permissions(connection.id, access)
    if access.missing:  # the card's permission warning says what and how (one warning, not two)
        _finish(run, "failed", "A permission is missing in Close: see the warning on the card.", result)
        return False
    return True


def record_permissions(connection_id, access):
    """What Close just said about the permissions becomes the connection's state (one source)."""
    connection = db.session.get(CloseConnection, connection_id)
    if connection is not None and connection.is_live:
        told = service.set_permission_state(connection, access)
        db.session.commit()
        service.send_email(told)


CHECK_OUTCOMES = {
    "ok": ("finished", "Close answered: the connection works and the permissions are in place."),
    "warning": ("failed", "A permission is missing in Close: see the warning on the card."),
    "unreachable": ("failed", "Close could not be reached; nothing could be checked. Closeline keeps retrying; "
                              "try again later."),
    "not_live": ("failed", "The workspace is not connected to Close."),
}
CHECK_DISCONNECTED = ("failed", "Close refused the connection; it was disconnected (see the card).")


def check(run):
    """Check connection now: the periodic validation, on demand (one access check), shown on the card."""
    result = {"checks": []}
    connection = tokens.live_connection(run.workspace_id)
    outcome = validation.validate(connection.id, checklist=result["checks"]) if connection else "not_live"
    status, message = CHECK_OUTCOMES.get(outcome, CHECK_DISCONNECTED)
    _finish(db.session.get(JobRun, run.id), status, message, result)


def latest_direct_messages(workspace_id, limit=TEST_SYNC_LIMIT):
    return db.session.scalars(sa.select(Message).join(Chat, Chat.id == Message.chat_id).where(
        Message.workspace_id == workspace_id, Chat.kind == "direct")
        .order_by(Message.sent_at.desc(), Message.id.desc()).limit(limit)).all()


def test_sync(run):
    """The latest direct-chat messages, through the live sync's own rules: a message the live sync
    would send now is sent, one already in Close is not sent again, and one the rules skipped or
    held stays as it is. The card says which was which."""
    result = {"checks": [], "items": []}
    if not _check_connection(run, result):
        return
    messages = latest_direct_messages(run.workspace_id)
    if not messages:
        _finish(run, "finished", "No messages yet: the token and permissions checks passed, nothing to sync.",
                result)
        return
    ids = [m.id for m in messages]
    _progress(run, 0, len(ids), f"Looking at the {len(ids)} latest messages…", result)
    for done, message_id in enumerate(ids, start=1):
        try:
            result["items"].append(_test_one(message_id))
        except CloseAuthError:
            db.session.rollback()
            _finish(db.session.get(JobRun, run.id), "failed",
                    "Close refused the connection during the test sync; see the card.", result)
            return
        run = db.session.get(JobRun, run.id)
        _progress(run, done, message=f"{done} of {len(ids)} done…", result=result)
    status, summary = _test_summary(result["items"])
    _finish(run, status, summary, result)


def _test_summary(items):
    """(status, sentence): what was sent now, what already was in Close, what stayed out and why."""
    by_outcome = {}
    for item in items:
        by_outcome.setdefault(item["outcome"], []).append(item)
    parts = [f"{len(by_outcome.get('sent', []))} sent to Close now"]
    if by_outcome.get("already"):
        parts.append(f"{len(by_outcome['already'])} already in Close (not sent again)")
    if by_outcome.get("not_sent"):
        parts.append(f"{len(by_outcome['not_sent'])} not sent, as the live sync would not send them")
    if by_outcome.get("failed"):
        parts.append(f"{len(by_outcome['failed'])} could not be synced (see each one's reason)")
    return ("failed" if by_outcome.get("failed") else "finished"), "Test sync done: " + ", ".join(parts) + "."


def _test_one(message_id):
    message = db.session.get(Message, message_id)
    if message.state == "synced":
        return _item(message, "already")
    if message.state not in SENDABLE:
        return _item(message, "not_sent")
    error = None
    try:
        sync_message_now(message_id)
    except CloseAuthError:
        raise
    except Exception as exc:  # reported per message; the test sync goes on
        db.session.rollback()
        log.warning("test sync of message %s failed: %s", message_id, type(exc).__name__)
        error = f"error: {type(exc).__name__}"
    db.session.expire_all()
    message = db.session.get(Message, message_id)
    return _item(message, "sent" if message.state == "synced" and not error else "failed", error)


OUTCOME_WORDS = {"sent": "sent now", "already": "already in Close", "not_sent": "not sent", "failed": "not synced"}


def _item(message, outcome, error=None):
    """One line of the card's table. No message text: the card links to the message in the log."""
    return {"message_id": message.id, "chat": message.chat.display_name or message.chat.remote_phone or "",
            "direction": message.direction, "sent_at": message.sent_at.strftime("%Y-%m-%d %H:%M"),
            "outcome": outcome, "state": OUTCOME_WORDS[outcome],
            "reason": error or (message.reason if outcome in ("not_sent", "failed") else "") or "",
            "lead_id": message.close_lead_id, "lead_name": _lead_name(message),
            "lead_url": lead_url(message.close_lead_id)}


def _lead_name(message):
    if not message.close_lead_id:
        return ""
    return db.session.scalar(sa.select(ChatLink.lead_name).where(
        ChatLink.chat_id == message.chat_id, ChatLink.lead_id == message.close_lead_id).limit(1)) or ""


def catch_up(run):
    """Sync the messages held while disconnected (the sync engine releases them in order)."""
    result = {"checks": [], "items": []}
    if not _check_connection(run, result):
        return
    total = count_held(run.workspace_id, "disconnected")
    _progress(run, 0, total, f"Releasing {total} held messages…", result)
    count = release_held(run.workspace_id, "disconnected")
    _finish(run, "finished", f"{count} held messages were queued for sync; follow them on the Sync status page.",
            dict(result, released=count))
    run.progress_done = run.progress_total
    db.session.commit()
