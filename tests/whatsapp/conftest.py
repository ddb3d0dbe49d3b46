"""Fixtures of the WhatsApp gateway tests: the fast sync settings, a WAHA gateway row with a linked
number and signed webhooks (tests.helpers.whatsapp), and, for the end-to-end runs, Closeline over
real HTTP with the WhatsApp sandbox in a thread, its gateways and Mia's number linked through them
(tests.helpers.gateway_sandbox)."""
import pytest

from tests.helpers.gateway_sandbox import MIA, fresh, scan, scan_evo, wait_state
from tests.helpers.messages import FAST
from tests.helpers.servers import Live
from tests.helpers.whatsapp import GATEWAY_URL, make_link, post_hook


@pytest.fixture
def app_overrides():
    return dict(FAST)


@pytest.fixture
def gateway(app, demo):
    from webapp.whatsapp import gateways_service
    return gateways_service.add_gateway(demo.acme.id, name="Office WAHA", base_url=GATEWAY_URL,
                                        api_key="waha-key", created_by=demo.users["owner@acme.test"])


@pytest.fixture
def link(app, demo, gateway):
    """Mia's number, linked through the gateway (session `mia`)."""
    return make_link(demo, gateway)


@pytest.fixture
def hook(app, gateway):
    client = app.test_client()
    return lambda body, **kw: post_hook(client, gateway.id, body, **kw)


@pytest.fixture
def process(app, gateway):
    """Run the gateway's inbox processing in-process (no worker): deterministic rule tests."""
    def _process():
        from webapp.whatsapp import inbox
        done = inbox.process_pending(gateway.id)
        inbox.finish(gateway.id)
        return done
    return _process


@pytest.fixture(autouse=True)
def gateway_hosts_resolve(monkeypatch):
    """Test gateway names (*.test) resolve to a private address, as a gateway beside the app would;
    other names resolve as usual. HTTP itself is mocked per test."""
    try:
        from webapp.core import outbound
    except ImportError:
        return
    real = outbound.resolve
    monkeypatch.setattr(outbound, "resolve",
                        lambda host, port: ["10.20.30.40"] if host.endswith(".test") else real(host, port))


# --- End to end: Closeline over real HTTP + the WhatsApp sandbox in a thread + a real RQ worker ---

@pytest.fixture(scope="session")
def wa_server():
    from whatsapp_sandbox.testing import WhatsAppSandboxServer
    server = WhatsAppSandboxServer({"WEBHOOK_DELAY_SCALE": 0.02, "WAHA_STARTING_SECONDS": 0.2,
                                    "WAHA_WAIT_SECONDS": 2.0})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def wa(wa_server, app):
    """The sandbox, reset; called from inside the app, whose GATEWAY_ALLOWED_HOSTS lets exactly it through."""
    wa_server.reset()
    wa_server.control("DELETE", "webhooks/faults")
    return wa_server


@pytest.fixture
def live(app):
    """Closeline over HTTP, where the sandbox's webhooks go (PUBLIC_URL); stop()/start() restart it."""
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


@pytest.fixture
def linked_mia(app, demo, live, wa, wa_gateway, worker):
    """Mia's WhatsApp linked through the sandbox's WAHA (QR scanned), webhooks flowing to `live`."""
    from webapp.whatsapp import linking
    link = linking.start_link(wa_gateway, demo.memberships["member@acme.test"])
    scan(wa, link, MIA)
    wait_state(link, "linked")
    return fresh(link)


@pytest.fixture
def evo_gateway(app, demo, wa):
    from webapp.whatsapp import gateways_service
    return gateways_service.add_gateway(demo.acme.id, name="Sandbox Evolution", base_url=wa.evolution_url,
                                        api_key=wa.app.config["EVOLUTION_API_KEY"], kind="evolution",
                                        created_by=demo.users["owner@acme.test"])


@pytest.fixture
def linked_mia_evo(app, demo, live, wa, evo_gateway, worker):
    """Mia's WhatsApp linked through the sandbox's Evolution API (QR scanned), webhooks flowing to `live`."""
    from webapp.whatsapp import linking
    link = linking.start_link(evo_gateway, demo.memberships["member@acme.test"])
    scan_evo(wa, link, MIA)
    wait_state(link, "linked")
    return fresh(link)
