"""The one call from the WhatsApp gateways into the sync pipeline.

`submit()` takes items in the generic ingestion API's shape (the body of POST /api/v1/messages)
and stores them idempotently on their message id, then wakes the drain. When the single ingest
entry point lands, this function is the only place that changes.
"""
import logging

from webapp.extensions import db
from webapp.sync import close_access, ingest, service

log = logging.getLogger(__name__)


def submit(workspace_id, number_id, items, source="waha"):
    """Store items for one workspace. Returns {"stored", "duplicates", "invalid", "errors"}.

    Commits. `number_id` is the WhatsAppNumber the items belong to (their `whatsapp_number`);
    `source` is the gateway kind, recorded on each message."""
    live = close_access.live_connection(workspace_id) is not None
    counts = {"stored": 0, "duplicates": 0, "invalid": 0, "errors": []}
    created = {}
    for item in items:
        try:
            incoming = ingest.validate(item, workspace_id)
        except ingest.Invalid as exc:
            counts["invalid"] += 1
            counts["errors"].append(exc.errors)
            log.warning("gateway message %r for number %s refused: %s",
                        (item.get("message") or {}).get("id"), number_id, exc.errors)
            continue
        message, is_new = ingest.store(incoming, source, live)
        if is_new:
            counts["stored"] += 1
            created[message.state] = created.get(message.state, 0) + 1
        else:
            counts["duplicates"] += 1
    db.session.commit()
    if created:
        service.count_changes(workspace_id, created)
    if created.get("queued"):
        service.kick(workspace_id)
    return counts
