"""Closeline over real HTTP + the WhatsApp sandbox in a thread + a real RQ worker."""
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import free_port, wait_for

MIA = "+14155550003"
JANE = "+14155550123"          # a customer with a plain phone chat
CHLOE = "+61412345678"         # seen by members only as @lid, resolvable
WEI = "+6591234567"            # seen only as @lid, the LID API does not know the phone


@pytest.fixture(scope="session")
def wa_server():
    from whatsapp_sandbox.testing import WhatsAppSandboxServer
    server = WhatsAppSandboxServer({"WEBHOOK_DELAY_SCALE": 0.02, "WAHA_STARTING_SECONDS": 0.2,
                                    "WAHA_WAIT_SECONDS": 2.0})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def wa(wa_server):
    wa_server.reset()
    wa_server.control("DELETE", "webhooks/faults")
    return wa_server


class Live:
    """Closeline served over HTTP on a fixed port; stop() and start() simulate a web restart."""

    def __init__(self, app):
        self.app, self.port = app, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = self.thread = None

    def start(self):
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def live(app):
    server = Live(app)
    app.config["PUBLIC_URL"] = server.url
    server.start()
    yield server
    if server.thread.is_alive():
        server.stop()


@pytest.fixture
def wa_gateway(app, demo, wa):
    from webapp.whatsapp import gateways_service
    return gateways_service.add_gateway(demo.acme.id, name="Sandbox WAHA", base_url=wa.waha_url,
                                        api_key=wa.app.config["WAHA_API_KEY"],
                                        created_by=demo.users["owner@acme.test"])


def missed_until_given_up(wa, count):
    """Every one of `count` webhook deliveries failed at least once (Closeline was down); then the
    gateway gives up on them, as it would after its last retry (minutes later on a real one)."""
    wait_for(lambda: len([e for e in wa.control("GET", "webhooks", outcome="retrying")["data"] if e["attempt"] == 1])
             >= count, timeout=60, interval=0.3, message=f"{count} failed deliveries")
    wa.control("POST", "webhooks/give-up")
    wait_for(lambda: wa.control("GET", "webhooks")["pending"] == 0, timeout=60, interval=0.3,
             message="the sandbox gave up delivering")


def fresh(row):
    from webapp.core.extensions import db
    db.session.expire_all()
    db.session.rollback()
    return db.session.get(type(row), row.id)


def wait_state(link, state, timeout=30):
    return wait_for(lambda: fresh(link).state == state, timeout=timeout, interval=0.2,
                    message=f"link state {state}")


def scan(wa, link, number=MIA):
    """What the member's phone does: scan the QR code the session currently shows."""
    from webapp.whatsapp import linking
    wait_for(lambda: linking.refresh(fresh(link)).state == "qr", timeout=30, interval=0.2, message="QR shown")
    session = fresh(link).session_name
    value = wa.control("GET", "state")["waha"]["sessions"]
    qr = next(s["qr"] for s in value if s["name"] == session)
    wa.control("POST", "scan", {"number": number, "qr": qr})


@pytest.fixture
def linked_mia(app, demo, live, wa, wa_gateway, worker):
    """Mia's WhatsApp linked through the sandbox (QR scanned), webhooks flowing to `live`."""
    from webapp.whatsapp import linking
    link = linking.start_link(wa_gateway, demo.memberships["member@acme.test"])
    scan(wa, link)
    wait_state(link, "linked")
    return fresh(link)
