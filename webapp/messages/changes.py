"""Has anything in the message log changed? A short token the live pages compare.

A message row gets a new `updated_at` whenever its state, reason or content changes, and a new
message a higher id, so the newest of both (two index lookups) moves with every change a page
shows. Pages poll this token, slowing down while nothing changes, and reload their lists only
when it moves (sync_status/partials/_watch.html).
"""
import sqlalchemy as sa

from webapp.core.extensions import db
from webapp.messages.gate import visible_number_ids
from webapp.models import Message

# Seconds between polls: quick after a change, slower while the log is quiet (never slower than
# the last step, so a new message shows within seconds even after a long quiet spell).
POLL_STEPS = (2, 3, 5, 8, 10)


def token(workspace_id, number_ids=None):
    """The log's change token; `number_ids`: only these numbers' rows (what a member may read)."""
    query = sa.select(sa.func.max(Message.id), sa.func.max(Message.updated_at)).where(
        Message.workspace_id == workspace_id)
    if number_ids is not None:
        query = query.where(Message.whatsapp_number_id.in_(number_ids or [-1]))
    newest_id, newest_change = db.session.execute(query).one()
    return f"{newest_id or 0}-{newest_change or 0}"


def next_step(step, changed):
    """Index into POLL_STEPS of the next poll: back to the start after a change, else one slower."""
    return 0 if changed else min(step + 1, len(POLL_STEPS) - 1)


def watch(membership, step=0, token_now=None):
    """What a watcher element needs: this person's token (only what they may read), the step and
    its delay in seconds."""
    if token_now is None:
        token_now = token(membership.workspace_id, visible_number_ids(membership))
    return {"token": token_now, "step": step, "delay": POLL_STEPS[step]}
