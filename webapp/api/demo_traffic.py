"""`flask demo traffic`: realistic WhatsApp conversations posted through the ingestion API over HTTP,
so people trying Closeline watch messages sync into the Close sandbox.

Customers are the sandbox's seeded contacts typed the way people type numbers (national formats,
dots, dashes), the two leads sharing +1 415 555 0199 (→ review queue), a UK customer, new
customers (→ auto-created leads, or skipped when auto-create is off) and a group chat (→ skipped).
"""
import base64
import random
import time
from datetime import UTC, datetime, timedelta

import click
import requests
import sqlalchemy as sa
from flask import current_app

from webapp.core.extensions import db
from webapp.models import ApiKey, WhatsAppNumber, Workspace, utcnow

KEY_NAME = "demo traffic"
# A 1×1 PNG: enough to show an attachment on the sandbox lead page.
PIXEL_PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e221bc330000000049454e44ae426082")).decode()

KNOWN_CUSTOMERS = [
    ("Gob Bluth", "(415) 555-0101"),
    ("Michael Scott", "415.555.0102"),
    ("Peter Gibbons", "4155550103"),
    ("Hank Scorpio", "+44 20 7946 0958"),
    ("Richard or Gavin?", "415-555-0199"),
]
LINES = [
    ("incoming", "Hi! Do you have a minute to talk about the *renewal*?"),
    ("outgoing", "Of course — what would you like to change?"),
    ("incoming", "We'd like 5 more seats starting next month."),
    ("outgoing", "Great, I'll send the updated quote today."),
    ("incoming", "Thanks 🙏"),
]


def build_conversations(numbers, run_id, new_customers=2, rng=None):
    """Message bodies for POST /api/v1/messages, in sending order (pure: testable)."""
    rng = rng or random.Random(run_id)
    customers = list(KNOWN_CUSTOMERS)
    for i in range(new_customers):
        customers.append((f"New prospect {run_id[-4:]}-{i + 1}", f"+1 415 555 01{rng.randint(50, 89)}"))
    start = datetime.now(UTC) - timedelta(minutes=len(customers) * len(LINES))
    bodies, clock = [], start
    for c_index, (name, phone) in enumerate(customers):
        number = numbers[c_index % len(numbers)]
        chat_id = f"demo-{number.lstrip('+')}-{''.join(ch for ch in phone if ch.isdigit())}"
        previous = None
        for l_index, (direction, text) in enumerate(LINES[:rng.randint(3, len(LINES))]):
            clock += timedelta(seconds=rng.randint(20, 90))
            message_id = f"demo-{run_id}-{c_index}-{l_index}"
            message = {"id": message_id, "direction": direction, "sent_at": clock.isoformat(), "text": text}
            if direction == "outgoing" and previous:
                message["reply_to"] = previous
            if c_index == 0 and l_index == 2:
                message["attachments"] = [{"filename": "seats.png", "content_type": "image/png", "data": PIXEL_PNG}]
            bodies.append({"whatsapp_number": number,
                           "chat": {"id": chat_id, "type": "direct", "phone": phone, "name": name},
                           "message": message})
            previous = message_id
    group_number = numbers[0]
    bodies.append({"whatsapp_number": group_number,
                   "chat": {"id": f"demo-group-{run_id}", "type": "group", "name": "Team lunch"},
                   "message": {"id": f"demo-{run_id}-group", "direction": "incoming",
                               "sent_at": (clock + timedelta(seconds=30)).isoformat(), "text": "Pizza at 1?"}})
    return bodies


def demo_api_key(workspace):
    """A fresh key for this run (plaintext is never stored); earlier demo keys are revoked."""
    db.session.execute(sa.update(ApiKey).where(ApiKey.workspace_id == workspace.id, ApiKey.name == KEY_NAME,
                                               ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow()))
    row, plaintext = ApiKey.generate(workspace, KEY_NAME)
    db.session.add(row)
    db.session.commit()
    return plaintext


def post_all(base_url, key, bodies, pause=0.0, echo=print):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    counts = {}
    for body in bodies:
        response = session.post(f"{base_url.rstrip('/')}/api/v1/messages", json=body, timeout=10)
        counts[response.status_code] = counts.get(response.status_code, 0) + 1
        if response.status_code >= 400:
            echo(f"  {body['message']['id']}: HTTP {response.status_code} {response.text[:200]}")
        if pause:
            time.sleep(pause)
    return counts


@click.group("demo", help="Demo helpers.")
def demo_group():
    pass


@demo_group.command("traffic", help="Post realistic WhatsApp conversations through the ingestion API.")
@click.option("--workspace", "workspace_ref", default="Acme Inc", show_default=True)
@click.option("--url", default=None, help="Closeline base URL (default PUBLIC_URL).")
@click.option("--new-customers", default=2, show_default=True)
@click.option("--pause", default=0.2, show_default=True, help="Seconds between messages.")
def traffic(workspace_ref, url, new_customers, pause):
    query = sa.select(Workspace).where(Workspace.id == int(workspace_ref)) if workspace_ref.isdigit() \
        else sa.select(Workspace).where(Workspace.name == workspace_ref)
    workspace = db.session.scalar(query)
    if workspace is None:
        raise click.ClickException(f"No workspace {workspace_ref!r} (run `flask seed-demo`).")
    numbers = db.session.scalars(sa.select(WhatsAppNumber.e164).where(WhatsAppNumber.workspace_id == workspace.id)
                                 .order_by(WhatsAppNumber.id)).all()
    if not numbers:
        raise click.ClickException("The workspace has no WhatsApp numbers; register one on the Team page.")
    key = demo_api_key(workspace)
    run_id = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    bodies = build_conversations(numbers, run_id, new_customers)
    base_url = url or current_app.config["PUBLIC_URL"]
    click.echo(f"Posting {len(bodies)} messages to {base_url}/api/v1/messages for {workspace.name}…")
    try:
        counts = post_all(base_url, key, bodies, pause, click.echo)
    except requests.ConnectionError:
        raise click.ClickException(f"Closeline is not answering at {base_url} (is `make run` up?).")
    click.echo("Answers: " + ", ".join(f"HTTP {k}: {v}" for k, v in sorted(counts.items())))
    click.echo("Follow them on the Sync status page (/sync/).")
