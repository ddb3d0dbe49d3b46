"""Rules for WhatsApp Cloud API numbers: an owner/admin registers Meta's phone_number_id for a
workspace, proving with the number's Graph token that the workspace may use it; one id belongs to
one workspace in the whole deployment."""
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from webapp.clients import graph
from webapp.core import crypto
from webapp.core.extensions import db
from webapp.core.input_guard import char_problem
from webapp.models import CloudApiNumber, WhatsAppNumber


class AlreadyRegistered(Exception):
    pass


class NotProven(Exception):
    """Meta did not confirm that the access token may use this phone number id; `str()` says why."""


TAKEN = ("This phone number ID is already registered in another Closeline workspace. Each Cloud API number "
         "can feed one workspace only; ask its owner to remove it there first.")
NOT_PROVEN = ("Meta did not confirm this phone number ID with this access token. Give the number's "
              "phone_number_id and a system-user token of the WhatsApp Business account that owns it.")


def registered(workspace_id):
    return db.session.scalars(sa.select(CloudApiNumber).where(CloudApiNumber.workspace_id == workspace_id)
                              .order_by(CloudApiNumber.id)).all()


def set_token(row, token):
    """Store (or with an empty token, forget) the number's Graph access token, encrypted. Commits."""
    token = (token or "").strip()
    row.access_token_enc = crypto.encrypt(token) if token else None
    db.session.commit()


def prove(phone_number_id, e164, access_token):
    """The workspace shows it owns the number: a Graph read of the id succeeds with its token and
    names the same phone. Raises NotProven (one answer whether or not another workspace has it)."""
    if not (access_token or "").strip():
        raise NotProven(NOT_PROVEN)
    client = graph.GraphClient(current_app.config["GRAPH_API_URL"], access_token.strip())
    try:
        record = client.phone_number(phone_number_id)
    except graph.GraphUnavailable as exc:
        raise NotProven(f"Meta could not be asked ({exc}); nothing was saved. Try again in a minute.") from None
    except graph.GraphError:
        raise NotProven(NOT_PROVEN) from None
    if "".join(ch for ch in record["display_phone_number"] if ch.isdigit()) != e164.lstrip("+"):
        raise NotProven(f"Meta says this phone number ID belongs to {record['display_phone_number']}, "
                        f"not {e164}. Check the number and the id.")


def register(workspace_id, phone_number_id, e164, user, access_token=None, operator_seed=False):
    """Registers the id once the workspace proved it (see prove), and the business number in the
    workspace when it is new. Commits. `operator_seed`: the operator's own demo seed (`flask
    seed-demo`, before the sandbox runs), which no workspace admin can reach, skips the proof."""
    if not operator_seed:
        prove(phone_number_id, e164, access_token)
    if db.session.scalar(sa.select(CloudApiNumber.id).where(CloudApiNumber.phone_number_id == phone_number_id)):
        raise AlreadyRegistered(TAKEN)
    number = db.session.scalar(sa.select(WhatsAppNumber).where(
        WhatsAppNumber.workspace_id == workspace_id, WhatsAppNumber.e164 == e164))
    if number is None:
        number = WhatsAppNumber(workspace_id=workspace_id, e164=e164, label="Cloud API")
        db.session.add(number)
    row = CloudApiNumber(workspace_id=workspace_id, phone_number_id=phone_number_id, number=number,
                         registered_by_id=user.id,
                         access_token_enc=crypto.encrypt(access_token.strip()) if (access_token or "").strip()
                         else None)
    db.session.add(row)
    try:
        db.session.commit()
    except IntegrityError:   # registered by someone else in the same instant
        db.session.rollback()
        raise AlreadyRegistered(TAKEN) from None
    return row


def for_webhook(phone_number_id):
    """The registration Meta's metadata.phone_number_id names, or None."""
    if not isinstance(phone_number_id, str) or not phone_number_id or len(phone_number_id) > 40 \
            or char_problem(phone_number_id):   # NUL would fail the query on PostgreSQL
        return None
    return db.session.scalar(sa.select(CloudApiNumber).where(CloudApiNumber.phone_number_id == phone_number_id))
