"""The link flow through an Evolution API gateway in a real Chromium: QR shown by polling, scanned on
the simulated phone, linked with the number recorded, a customer's message in the Close sandbox, and
the failed state after the device is removed."""
import pytest

from tests.helpers.browser import new_page, sign_in
from tests.helpers.gateway_sandbox import JANE, MIA, evo_id
from tests.helpers.messages import activities
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.browser


def test_member_links_whatsapp_through_evolution_and_a_customer_message_reaches_close(
        app, demo, live, wa, evo_gateway, worker, sandbox_connection, close_sandbox, chromium):
    from playwright.sync_api import expect
    page = sign_in(new_page(chromium), live.url, "member@acme.test")
    page.click("nav >> text=WhatsApp")
    expect(page.locator("#link-form select[name=gateway_id]")).to_contain_text("Sandbox Evolution")
    page.click("#link-form button[type=submit]")

    qr = page.locator("img#qr")
    expect(qr).to_be_visible()
    wait_for(lambda: page.evaluate("document.querySelector('img#qr') && document.querySelector('img#qr').naturalWidth")
             or 0, timeout=60, message="QR image loaded")
    expect(page.locator("#link-status")).to_have_attribute("hx-trigger", "every 2s")

    [instance] = [i for i in wa.control("GET", "state")["evolution"]["instances"] if i["qr"]]
    wa.control("POST", "scan", {"number": MIA, "qr": instance["qr"]})
    expect(page.locator("#linked")).to_contain_text(f"Linked: {MIA}")
    expect(page.locator("#link-status")).not_to_have_attribute("hx-trigger", "every 2s")

    sent = wa.send(JANE, MIA, "Hello through Evolution")
    wait_for(lambda: activities(close_sandbox, external_id=evo_id(sent, False, JANE.lstrip("+"))), timeout=40,
             interval=0.3, message="the customer's message in Close")
    page.goto(f"{live.url}/whatsapp/")
    expect(page.locator("#numbers")).to_contain_text(MIA)
    expect(page.locator("#numbers")).to_contain_text("Sandbox Evolution")
    expect(page.locator("#numbers .health")).to_have_text("linked")

    wa.control("POST", f"evolution/instances/{instance['name']}/logout", {})
    wait_for(lambda: "failed (needs relinking)" in page.goto(f"{live.url}/whatsapp/").text(), timeout=60,
             interval=0.5, message="failed state on the WhatsApp page")
    page.click("#numbers >> text=Open")
    expect(page.locator("#link-status")).to_contain_text("Relink (new QR code)")
