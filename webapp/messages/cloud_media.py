"""Files of WhatsApp Cloud API messages: the webhook gives only a media id, resolved here through the
Graph API with the access token of the Cloud API number the message arrived on.

A Graph outage (or a refused token) raises `MediaSourceDown`: the message stays `failed` with that
reason and is retried, never synced without its file. Media that no longer exists, or a number
without a token, is synced with a note saying so.
"""
import sqlalchemy as sa
from flask import current_app

from webapp.clients import graph
from webapp.core import crypto
from webapp.core.extensions import db
from webapp.models import CloudApiNumber

NO_TOKEN = ("WhatsApp media can't be downloaded (no Graph API access configured: an owner/admin adds the "
            "number's access token under Settings → WhatsApp Cloud API)")


class MediaSourceDown(Exception):
    """The file exists but can't be fetched now: retry the whole message later."""


def token_for(number_id):
    row = db.session.scalar(sa.select(CloudApiNumber).where(CloudApiNumber.whatsapp_number_id == number_id,
                                                            CloudApiNumber.access_token_enc.is_not(None)))
    return crypto.decrypt(row.access_token_enc) if row is not None else None


def fetch(number_id, media_id, *, max_bytes, deadline):
    """(bytes, None) or (None, note for the activity). Raises MediaSourceDown."""
    token = token_for(number_id)
    if not token:
        return None, NO_TOKEN
    client = graph.GraphClient(current_app.config["GRAPH_API_URL"], token)
    try:
        data, _ = client.media_bytes(media_id, max_bytes=max_bytes, deadline=deadline)
    except graph.GraphAuthError:
        raise MediaSourceDown("WhatsApp media could not be fetched: the Graph API refused the access token. "
                              "Update it under Settings → WhatsApp Cloud API; the message is retried.") from None
    except graph.GraphUnavailable as exc:
        raise MediaSourceDown(f"WhatsApp media could not be fetched: {exc.message}. The message is retried.") \
            from None
    except graph.GraphMediaGone as exc:
        return None, exc.message
    return data, None
