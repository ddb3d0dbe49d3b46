"""WAHA gateway test material: a number link row, signed webhook envelopes and message payloads,
and the GatewayEvent rows Closeline records."""
import hashlib
import hmac
import itertools
import json
import time

GATEWAY_URL = "http://waha.test:3000"
MEMBER_PHONE = "+14155550003"
CUSTOMER = "14155550123"
_seq = itertools.count(1)


def make_link(demo, gateway, session="mia", email="member@acme.test", hmac_key="hook-secret"):
    """A linked NumberLink of the member's number through `gateway` (session `mia` by default)."""
    from webapp.core import crypto
    from webapp.core.extensions import db
    from webapp.models import NumberLink, utcnow
    membership = demo.memberships[email]
    number = membership.numbers[0] if membership.numbers else None
    row = NumberLink(workspace_id=demo.acme.id, gateway_id=gateway.id, membership_id=membership.id,
                     whatsapp_number_id=number.id if number else None, session_name=session, state="linked",
                     was_linked=True, hmac_key_enc=crypto.encrypt(hmac_key), linked_at=utcnow(),
                     me_id=(number.e164.lstrip("+") + "@c.us") if number else None)
    db.session.add(row)
    db.session.commit()
    return row


def sign(raw, key="hook-secret"):
    return hmac.new(key.encode(), raw, hashlib.sha512).hexdigest()


def envelope(event, payload, session="mia", me_phone=MEMBER_PHONE, timestamp_ms=None):
    """A WAHA webhook envelope, stamped now (Closeline refuses events outside its replay window)."""
    stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    return {"id": f"evt_{next(_seq):026d}", "timestamp": stamp, "event": event, "session": session,
            "me": {"id": me_phone.lstrip("+") + "@c.us", "pushName": "Mia"}, "payload": payload,
            "engine": "NOWEB"}


def text_message(short_id=None, chat=CUSTOMER + "@c.us", from_me=False, body="Hello from WhatsApp", ts=1753860011,
                 **extra):
    short_id = short_id or f"3A{next(_seq):018X}"
    payload = {"id": f"{'true' if from_me else 'false'}_{chat}_{short_id}", "timestamp": ts, "from": chat,
               "fromMe": from_me, "source": "app", "body": body, "hasMedia": False, "media": None,
               "ack": 2, "vCards": [], "replyTo": None, "_data": {"pushName": "Maria"}}
    payload.update(extra)
    return payload


def post_hook(client, gateway_id, body, key="hook-secret", headers=None):
    """POST a WAHA webhook body to Closeline, signed as the gateway signs it."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    sent = {"Content-Type": "application/json", "X-Webhook-Hmac": sign(raw, key),
            "X-Webhook-Hmac-Algorithm": "sha512"}
    sent.update(headers or {})
    return client.post(f"/api/webhooks/waha/{gateway_id}", data=raw, headers=sent)


def events(**filters):
    """Fresh GatewayEvent rows, oldest first."""
    import sqlalchemy as sa

    from webapp.core.extensions import db
    from webapp.models import GatewayEvent
    db.session.expire_all()
    query = sa.select(GatewayEvent).order_by(GatewayEvent.id)
    for key, value in filters.items():
        query = query.where(getattr(GatewayEvent, key) == value)
    return db.session.scalars(query).all()
