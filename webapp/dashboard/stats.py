"""What the dashboard counts: messages synced / skipped / failed / dead per hour, and each number's health.

One grouped query per figure (SQLite and PostgreSQL), read through indexes on the messages table.
"""
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from webapp.core import vocabulary
from webapp.core.extensions import db
from webapp.models import Message, WhatsAppNumber, utcnow

# Chart series → the message states they count. "failed" is still being retried; "dead" stopped
# retrying and waits for a person's Retry: its own series, so neither is counted as the other.
OUTCOMES = {"synced": ("synced",), "skipped": ("skipped",), "failed": ("failed",), "dead": ("dead",)}
SERIES = tuple(OUTCOMES)
HOUR_FORMAT = "%Y-%m-%d %H"


def _hour_key(column):
    """The UTC hour of a timestamp as 'YYYY-MM-DD HH' text, on either database."""
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD HH24")
    return sa.func.strftime(HOUR_FORMAT, column)  # SQLite stores UTC text


def _outcome_time():
    # A synced row's moment is synced_at; skips and failures happen when the row last changed.
    return sa.case((Message.state == "synced", sa.func.coalesce(Message.synced_at, Message.updated_at)),
                   else_=Message.updated_at)


def hour_floor(moment):
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hourly_outcomes(workspace_id, hours=7 * 24, now=None):
    """[{"hour": aware UTC datetime, "synced": n, "skipped": n, "failed": n, "dead": n}], oldest first,
    one entry per hour of the last `hours` hours (the current hour included)."""
    end = hour_floor(now or utcnow()) + timedelta(hours=1)
    start = end - timedelta(hours=hours)
    state_to_series = {state: name for name, states in OUTCOMES.items() for state in states}
    hour = _hour_key(_outcome_time()).label("hour")
    rows = db.session.execute(
        sa.select(hour, Message.state, sa.func.count())
        # updated_at >= synced_at, so this range holds every outcome of the window (index ws, updated_at).
        .where(Message.workspace_id == workspace_id, Message.updated_at >= start,
               Message.state.in_(state_to_series))
        .group_by(hour, Message.state)).all()
    buckets = {start + timedelta(hours=i): dict.fromkeys(SERIES, 0) for i in range(hours)}
    for key, state, count in rows:
        moment = datetime.strptime(key, HOUR_FORMAT).replace(tzinfo=UTC)
        if moment in buckets:
            buckets[moment][state_to_series[state]] += count
    return [{"hour": moment, **counts} for moment, counts in sorted(buckets.items())]


def numbers_health(workspace_id, link_states=None, close_key="connected"):
    """Each WhatsApp number of the workspace with what its messages are waiting for or failing on.
    `link_states` ({number id: gateway link state}) and `close_key` (a vocabulary.CLOSE key) make
    the Health badge the worst of the gateway, Close and the messages."""
    numbers = db.session.scalars(sa.select(WhatsAppNumber).where(WhatsAppNumber.workspace_id == workspace_id)
                                 .order_by(WhatsAppNumber.e164)).all()
    pending = {}
    for number_id, state, count in db.session.execute(
            sa.select(Message.whatsapp_number_id, Message.state, sa.func.count())
            .where(Message.workspace_id == workspace_id, Message.state.in_(("queued", "held", "failed", "dead")))
            .group_by(Message.whatsapp_number_id, Message.state)):
        pending.setdefault(number_id, {})[state] = count
    link_states = link_states or {}
    return [_health(number, pending.get(number.id, {}), link_states.get(number.id), close_key) for number in numbers]


def _health(number, counts, link_state, close_key):
    health = vocabulary.number_health(counts, number.last_synced_at, link_state, close_key)
    failing = counts.get("failed", 0) + counts.get("dead", 0)
    return {"number": number, "member": number.membership.user.name if number.membership else None,
            "last_synced_at": number.last_synced_at, "level": health.level, "label": health.label,
            "failing": failing, "held": counts.get("held", 0), "queued": counts.get("queued", 0)}
