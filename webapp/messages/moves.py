"""Moving a re-routed chat's activities. Close can't change an activity's lead_id, so each one is
re-created on the new lead (same external id) and the old one deleted. Idempotent and resumable:
a row is only updated after both steps, and a re-run first looks for the copy on the new lead.

The rows say what is left to move; the RQ job (one per chat, deterministic id) says whether a move
is under way or stopped, and why. The chat's sync log shows both (`move_status`)."""
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from rq import Retry, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job

from webapp.clients.close.client import CloseNotFound, CloseRejected
from webapp.core.extensions import db
from webapp.core.redis_conn import get_queue, get_redis
from webapp.messages import close_access, deliver, routing
from webapp.messages.payload import build_payload
from webapp.models import Chat, ChatLink, Message

log = logging.getLogger(__name__)

MOVE_JOB = "jobs.sync.move_chat"
UNDER_WAY = ("queued", "started", "deferred", "scheduled")


@dataclass
class MoveStatus:
    left: int            # synced messages whose activity is still on another lead
    lead_name: str
    state: str           # "moving", "stopped" (the job failed for good), "done" or "idle"
    error: str = ""


def _job_id(chat_id):
    return f"move-chat-{chat_id}"


def _job(chat_id):
    try:
        return Job.fetch(_job_id(chat_id), connection=get_redis())
    except NoSuchJobError:
        return None


def enqueue_move(chat_id):
    """Start moving the chat's activities unless a move is already under way. Close outages are
    retried by RQ (the job resumes where it stopped); a move that still fails says why."""
    job = _job(chat_id)
    if job is not None and job.get_status(refresh=True) in UNDER_WAY:
        return job
    return get_queue().enqueue(MOVE_JOB, chat_id, job_id=_job_id(chat_id), job_timeout=1800,
                               retry=Retry(max=3, interval=[30, 120, 600]), result_ttl=3600,
                               failure_ttl=7 * 86400)


def move_status(chat):
    """What is left to move for this chat and what the move job is doing; None without a lead."""
    _, link = _current_link(chat)
    if link is None:
        return None
    left = db.session.scalar(sa.select(sa.func.count()).select_from(Message).where(
        *_still_elsewhere(chat.id, link)))
    lead = link.lead_name or link.lead_id
    job = _job(chat.id)
    status = job.get_status(refresh=True) if job is not None else None
    if status in UNDER_WAY:  # "scheduled": waiting for its next try after a failure
        return MoveStatus(left, lead, "moving", _why_it_failed(job) if status == "scheduled" else "")
    if status == "failed" and left:
        return MoveStatus(left, lead, "stopped", _why_it_failed(job))
    return MoveStatus(left, lead, "done" if status == "finished" else "idle")


def remember_failure(exc):
    """Inside the move job: keep why this try failed on the job (RQ keeps no traceback of a try
    that it retries), so the page can say why the move is not done yet."""
    job = get_current_job()
    if job is not None:
        job.meta["error"] = (getattr(exc, "message", None) or str(exc) or type(exc).__name__)[:300]
        job.save_meta()


def _why_it_failed(job):
    return job.meta.get("error") or "the job stopped without a reason (worker restarted?)"


def _current_link(chat):
    """(live connection, the chat's link to a lead in its organization); None for what is missing."""
    connection = close_access.live_connection(chat.workspace_id)
    if connection is None:
        return None, None
    link = db.session.scalar(sa.select(ChatLink).where(ChatLink.chat_id == chat.id,
                                                       ChatLink.close_org_id == connection.close_org_id))
    return connection, link if link is not None and link.lead_id else None


def _still_elsewhere(chat_id, link):
    return (Message.chat_id == chat_id, Message.state == "synced", Message.close_org_id == link.close_org_id,
            Message.close_lead_id != link.lead_id)


def move_chat_activities(chat_id):
    chat = db.session.get(Chat, chat_id)
    if chat is None:
        return 0
    connection, link = _current_link(chat)
    if link is None:
        return 0
    client = close_access.client_for_connection(connection)
    ctx = deliver.Context(connection, client)
    if not link.contact_id:
        link.contact_id = routing.contact_on_lead(client, link.lead_id, chat.remote_phone)
        db.session.commit()
    route = routing.Route(link.lead_id, link.contact_id, link)
    messages = db.session.scalars(sa.select(Message).where(*_still_elsewhere(chat_id, link))
                                  .order_by(Message.id)).all()
    moved = 0
    for message in messages:
        new_id = deliver.find_copy(client, message.external_id, route.lead_id)
        if new_id is None:
            # The files uploaded for the old copy are attached again: nothing is downloaded twice.
            built = build_payload(message, ctx, route, reuse_uploads=True)
            try:
                new_id = _create_copy(ctx, built.payload)["id"]
            except CloseRejected as exc:  # e.g. its Close user has left since the first sync
                new_id = deliver.create_without_refused_fields(ctx, built, exc, create=_create_copy)["id"]
                message.reason = "; ".join(filter(None, [message.reason, *built.notes]))
        ctx.activity_ids[message.external_id] = new_id
        if message.close_activity_id and message.close_activity_id != new_id:
            try:
                client.delete_whatsapp_activity(message.close_activity_id)
            except CloseNotFound:
                pass
        message.close_activity_id, message.close_lead_id = new_id, route.lead_id
        db.session.commit()
        moved += 1
    return moved


def _create_copy(ctx, payload):
    """A moved activity was in Close's Inbox already, if ever: its copy is created without it."""
    return ctx.client.create_whatsapp_activity(payload)
