"""Closeline's gateways (WAHA, Evolution API) against the WhatsApp sandbox: the people's phones,
a member's phone scanning the QR code, and waiting on rows the worker writes."""
from tests.helpers.waiting import wait_for

MIA = "+14155550003"
JANE = "+14155550123"          # a customer with a plain phone chat
CHLOE = "+61412345678"         # seen by members only as @lid, resolvable
WEI = "+6591234567"            # seen only as @lid, the LID API does not know the phone


def fresh(row):
    """The row as the database has it now (the worker writes from another process)."""
    from webapp.core.extensions import db
    db.session.expire_all()
    db.session.rollback()
    return db.session.get(type(row), row.id)


def wait_state(link, state, timeout=30):
    return wait_for(lambda: fresh(link).state == state, timeout=timeout, interval=0.2,
                    message=f"link state {state}")


def missed_until_given_up(wa, count):
    """Every one of `count` webhook deliveries failed at least once (Closeline was down); then the
    gateway gives up on them, as it would after its last retry (minutes later on a real one)."""
    wait_for(lambda: len([e for e in wa.control("GET", "webhooks", outcome="retrying")["data"] if e["attempt"] == 1])
             >= count, timeout=60, interval=0.3, message=f"{count} failed deliveries")
    wa.control("POST", "webhooks/give-up")
    wait_for(lambda: wa.control("GET", "webhooks")["pending"] == 0, timeout=60, interval=0.3,
             message="the sandbox gave up delivering")


def scan(wa, link, number=MIA):
    """What the member's phone does: scan the QR code the WAHA session currently shows."""
    from webapp.whatsapp import linking
    wait_for(lambda: linking.refresh(fresh(link)).state == "qr", timeout=30, interval=0.2, message="QR shown")
    session = fresh(link).session_name
    value = wa.control("GET", "state")["waha"]["sessions"]
    qr = next(s["qr"] for s in value if s["name"] == session)
    wa.control("POST", "scan", {"number": number, "qr": qr})


def evo_instance(wa, name):
    return next((i for i in wa.control("GET", "state")["evolution"]["instances"] if i["name"] == name), None)


def scan_evo(wa, link, number=MIA):
    """The member's phone scans the QR code the Evolution instance currently shows."""
    from webapp.whatsapp import linking
    wait_for(lambda: linking.refresh(fresh(link)).state == "qr", timeout=30, interval=0.2, message="QR shown")
    qr = wait_for(lambda: (evo_instance(wa, fresh(link).session_name) or {}).get("qr"), timeout=30, interval=0.2,
                  message="instance QR")
    wa.control("POST", "scan", {"number": number, "qr": qr})


def evo_id(sent, from_me, peer_digits):
    """Closeline's external id of a sandbox message in a chat with `peer_digits`."""
    return f"{'true' if from_me else 'false'}_{peer_digits}@c.us_{sent['id']}"
