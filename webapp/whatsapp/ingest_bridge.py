"""The one call from the WhatsApp gateways into the sync pipeline: `ingest.accept`.

`submit()` takes items in the generic ingestion API's shape (the body of POST /api/v1/messages,
built by messages.to_item), validates them with the ingestion schema and hands them to
`ingest.accept`, which stores them idempotently on their message id, commits, counts and wakes
the drain. There is no other path from a gateway into the outbox.
"""
import logging

from pydantic import ValidationError

from webapp.messages import ingest
from webapp.messages.schema import IncomingMessage, field_errors

log = logging.getLogger(__name__)


def submit(workspace_id, number_id, items, source="waha"):
    """Store items for one workspace. Returns {"stored", "duplicates", "invalid", "errors"}.

    Commits. `number_id` is the WhatsAppNumber the items belong to (their `whatsapp_number`);
    it only names the number in the log when an item is refused. `source` is the gateway kind,
    recorded on each message."""
    counts = {"stored": 0, "duplicates": 0, "invalid": 0, "errors": []}
    valid = []
    for item in items:
        try:
            valid.append(IncomingMessage.model_validate(item))
        except ValidationError as exc:
            _refused(counts, item, number_id, field_errors(exc))
    for item, result in zip(valid, ingest.accept(workspace_id, valid, source) if valid else []):
        if result.status == "created":
            counts["stored"] += 1
        elif result.status == "duplicate":
            counts["duplicates"] += 1
        else:
            _refused(counts, item.model_dump(mode="json"), number_id, result.errors)
    return counts


def _refused(counts, item, number_id, errors):
    counts["invalid"] += 1
    counts["errors"].append(errors)
    log.warning("gateway message %r for number %s refused: %s",
                (item.get("message") or {}).get("id"), number_id, errors)


# -- messages of chats whose number WhatsApp hides (known only by LID) ---------------------------------

def show_hidden_number(link, message, stand_in_id):
    """The member and admins see at once that a message arrived and waits for the customer's number."""
    ingest.hold_without_number(link.whatsapp_number_id, message.chat_jid,
                               "" if message.from_me else message.sender_name, stand_in_id,
                               "outgoing" if message.from_me else "incoming", message.sent_at)


def hidden_number_resolved(link, stand_in_id):
    ingest.drop_without_number(link.workspace_id, stand_in_id)


def hidden_number_given_up(link, stand_in_id):
    ingest.skip_without_number(link.workspace_id, stand_in_id)
