"""An Evolution API gateway on the WhatsApp sandbox, and Mia's number linked through it."""
import pytest

from tests.conftest import wait_for
from tests.whatsapp.sandbox_fixtures import MIA, fresh, wait_state


@pytest.fixture
def evo_gateway(app, demo, wa):
    from webapp.whatsapp import gateways_service
    return gateways_service.add_gateway(demo.acme.id, name="Sandbox Evolution", base_url=wa.evolution_url,
                                        api_key=wa.app.config["EVOLUTION_API_KEY"], kind="evolution",
                                        created_by=demo.users["owner@acme.test"])


def evo_instance(wa, name):
    return next((i for i in wa.control("GET", "state")["evolution"]["instances"] if i["name"] == name), None)


def scan_evo(wa, link, number=MIA):
    """The member's phone scans the QR code the instance currently shows."""
    from webapp.whatsapp import linking
    wait_for(lambda: linking.refresh(fresh(link)).state == "qr", timeout=30, interval=0.2, message="QR shown")
    qr = wait_for(lambda: (evo_instance(wa, fresh(link).session_name) or {}).get("qr"), timeout=30, interval=0.2,
                  message="instance QR")
    wa.control("POST", "scan", {"number": number, "qr": qr})


@pytest.fixture
def linked_mia_evo(app, demo, live, wa, evo_gateway, worker):
    from webapp.whatsapp import linking
    link = linking.start_link(evo_gateway, demo.memberships["member@acme.test"])
    scan_evo(wa, link)
    wait_state(link, "linked")
    return fresh(link)


def evo_id(sent, from_me, peer_digits):
    """Closeline's external id of a sandbox message in a chat with `peer_digits`."""
    return f"{'true' if from_me else 'false'}_{peer_digits}@c.us_{sent['id']}"
