"""The outbox (the messages table) as a work queue: leasing rows and recording results.

A claim is one UPDATE (lease + attempts+1, committed). Results of a batch are written in one
short transaction by primary key. No write transaction is open while Close is called.
"""
from datetime import timedelta

import sqlalchemy as sa

from webapp.core import metrics
from webapp.core.extensions import db
from webapp.messages import totals
from webapp.models import Message, WhatsAppNumber, utcnow


def lease_is_free(now):
    """The one "nobody works on this row right now" predicate."""
    return sa.or_(Message.lease_until.is_(None), Message.lease_until < now)


def is_due(now):
    """Queued, or failed with its retry time reached."""
    return sa.or_(Message.state == "queued", sa.and_(Message.state == "failed", Message.next_attempt_at <= now))


def claim_batch(workspace_id, size, lease_seconds, own=()):
    """Lease up to `size` due rows, oldest first. Safe against concurrent drains (row-level claim).
    A row waits while its chat has a row leased by someone else (another drain, or a worker that
    died): a chat's messages reach Close in order even across crashes and several drains. `own`:
    the ids this drain holds; its lanes keep their chats in order, so its own leases don't hold
    back the next rows of those chats (in a backlog these are most of the due rows)."""
    now = utcnow()
    ws, free = Message.workspace_id == workspace_id, lease_is_free(now)
    busy = _chats_leased_by_others(now, own)
    turn = Message.chat_id.not_in(busy) if busy else sa.true()
    queued = sa.select(Message.id).where(ws, Message.state == "queued", free, turn) \
        .order_by(Message.id).limit(size).with_for_update(skip_locked=True)
    ids = list(db.session.scalars(queued))
    if len(ids) < size:
        due = sa.select(Message.id).where(ws, Message.state == "failed", Message.next_attempt_at <= now, free,
                                          turn) \
            .order_by(Message.id).limit(size - len(ids)).with_for_update(skip_locked=True)
        ids += list(db.session.scalars(due))
    if not ids:
        db.session.rollback()
        return []
    return sorted(_lease(now, lease_seconds, Message.id.in_(ids), free, Message.state.in_(("queued", "failed"))))


def _chats_leased_by_others(now, own):
    """Chats with a row under a live lease that is not ours. Read from ix_messages_chat_leased (only
    leased rows are in it: a few hundred at most), once per claim, not probed for every due row."""
    leased = db.session.execute(sa.select(Message.id, Message.chat_id).where(
        Message.lease_until.is_not(None), Message.lease_until >= now)).all()
    return sorted({chat_id for message_id, chat_id in leased if message_id not in own})


def claim_one(message_id, lease_seconds):
    """Lease one row in any unsynced state (test sync, manual actions)."""
    now = utcnow()
    return bool(_lease(now, lease_seconds, Message.id == message_id, Message.state != "synced", lease_is_free(now)))


def _lease(now, lease_seconds, *conditions):
    """Take the lease on the rows matching `conditions`; returns the ids actually taken (committed)."""
    claimed = db.session.execute(
        sa.update(Message).where(*conditions)
        .values(lease_until=now + timedelta(seconds=lease_seconds), attempts=Message.attempts + 1,
                updated_at=now)
        .returning(Message.id)).scalars().all()
    db.session.commit()
    return claimed


def renew_lease(ids, lease_seconds):
    db.session.execute(sa.update(Message).where(Message.id.in_(ids))
                       .values(lease_until=utcnow() + timedelta(seconds=lease_seconds)))
    db.session.commit()


def has_due(workspace_id):
    now = utcnow()
    return db.session.scalar(sa.select(Message.id).where(
        Message.workspace_id == workspace_id, is_due(now), lease_is_free(now)).limit(1)) is not None


def load(ids):
    return db.session.scalars(sa.select(Message).where(Message.id.in_(ids)).order_by(Message.id)).all()


def record(outcomes, org_id):
    """Write the results [(message, Outcome)] of a batch in one short transaction (by primary key)."""
    if not outcomes:
        return
    now = utcnow()
    synced, others = [], []
    for message, outcome in outcomes:
        row = {"id": message.id, "state": outcome.state, "reason": outcome.reason[:2000],
               "next_attempt_at": outcome.next_attempt_at, "updated_at": now,
               "lease_until": now + timedelta(seconds=2) if outcome.retry_soon else None}
        if outcome.state == "synced":
            row.update(close_org_id=org_id, close_lead_id=outcome.lead_id, synced_at=now,
                       close_activity_id=outcome.activity_id,
                       attachments=outcome.attachments if outcome.attachments is not None
                       else _without_data(message.attachments))
            synced.append(row)
        else:
            others.append(row)
    numbers = {m.whatsapp_number_id for m, o in outcomes if o.state == "synced"}
    deltas = {}
    for message, outcome in outcomes:
        if message.state != outcome.state:
            deltas[message.state] = deltas.get(message.state, 0) - 1
            deltas[outcome.state] = deltas.get(outcome.state, 0) + 1
    workspace_id = outcomes[0][0].workspace_id
    db.session.rollback()  # drop anything half-done; rows are written by primary key below
    for rows in (synced, others):
        if rows:
            db.session.execute(sa.update(Message), rows)
    if numbers:
        db.session.execute(sa.update(WhatsAppNumber).where(WhatsAppNumber.id.in_(numbers))
                           .values(last_synced_at=now))
    db.session.commit()
    totals.count_changes(workspace_id, deltas)
    metrics.count_each("messages_drained", "state", (outcome.state for _, outcome in outcomes))


def _without_data(attachments):
    # Base64 bodies are only needed until Close has the file; keep the metadata for the log.
    if not attachments or not any("data" in a for a in attachments):
        return attachments
    return [{k: v for k, v in a.items() if k != "data"} for a in attachments]


def release(ids, untried=False):
    """Give rows back untouched (credentials died or Close went down mid-batch). `untried`: no call
    was made for them, so their claim does not count as an attempt (an attempt counted would make
    the next one look its activity up in Close first, for nothing)."""
    if ids:
        db.session.rollback()
        values = {"lease_until": None}
        if untried:
            values["attempts"] = sa.case((Message.attempts > 0, Message.attempts - 1), else_=0)
        db.session.execute(sa.update(Message).where(Message.id.in_(ids)).values(**values))
        db.session.commit()


def hold_pending(workspace_id, reason):
    """No Close to talk to: queued/failed rows become held (visible, released later)."""
    db.session.rollback()
    count = db.session.execute(
        sa.update(Message).where(Message.workspace_id == workspace_id,
                                 Message.state.in_(("queued", "failed", "received")))
        .values(state="held", reason=reason, lease_until=None, next_attempt_at=None,
                updated_at=utcnow())).rowcount
    db.session.commit()
    if count:
        totals.invalidate_totals(workspace_id)
    return count
