"""The link flow in a real Chromium: QR shown and refreshed by polling, scanned on the simulated
phone, linked with the number recorded, then a customer's message reaches the Close sandbox. Takes
the WhatsApp page's screenshots (`make screenshots` refreshes them in docs/screenshots/)."""
import pytest

from tests.helpers.browser import new_page, sign_in
from tests.helpers.gateway_sandbox import JANE, MIA
from tests.helpers.messages import activities
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.browser


def _shot(page, folder, name):
    page.screenshot(path=str(folder / f"whatsapp-{name}.png"), full_page=True)


def test_member_links_whatsapp_by_qr_and_a_customer_message_reaches_close(
        app, demo, live, wa, wa_gateway, worker, sandbox_connection, close_sandbox, chromium, screenshots):
    from playwright.sync_api import expect
    page = sign_in(new_page(chromium), live.url, "member@acme.test")
    page.click("nav >> text=WhatsApp")
    _shot(page, screenshots, "page-empty")
    page.click("#link-form button[type=submit]")

    # The QR code is shown (a real PNG from the gateway) and the page keeps polling.
    qr = page.locator("img#qr")
    expect(qr).to_be_visible()
    wait_for(lambda: page.evaluate("document.querySelector('img#qr') && document.querySelector('img#qr').naturalWidth")
             or 0, timeout=60, message="QR image loaded")
    expect(page.locator("#link-status")).to_have_attribute("hx-trigger", "every 2s")
    _shot(page, screenshots, "qr")

    # The member scans it with the simulated phone (the WhatsApp sandbox's phone page).
    sessions = wa.control("GET", "state")["waha"]["sessions"]
    [session] = [s for s in sessions if s["status"] == "SCAN_QR_CODE"]
    phone = new_page(chromium)
    phone.goto(f"{wa.url}/phones/{MIA.lstrip('+')}")
    phone.select_option("#pending", value=f"waha:{session['name']}")
    phone.click("#scan-button")
    expect(phone.locator("#links")).to_contain_text("WORKING")

    expect(page.locator("#linked")).to_contain_text(f"Linked: {MIA}")
    expect(page.locator("#link-status")).not_to_have_attribute("hx-trigger", "every 2s")  # polling stopped
    _shot(page, screenshots, "linked")

    # A customer writes (typed on the phone page as the customer) and the message reaches Close.
    phone.goto(f"{wa.url}/phones/{MIA.lstrip('+')}/chats/{JANE.lstrip('+')}")
    phone.select_option("#as", value="them")
    phone.fill("#text", "Hello from the browser test")
    phone.click("#send-button")
    [sent] = [m for m in wa.control("GET", "messages", number=MIA)["data"] if m["text"] == "Hello from the browser test"]
    external_id = sent["ids"]["waha"][MIA]
    wait_for(lambda: activities(close_sandbox, external_id=external_id), timeout=40, interval=0.3,
             message="the customer's message in Close")
    page.goto(f"{live.url}/whatsapp/")
    expect(page.locator("#numbers")).to_contain_text(MIA)
    expect(page.locator("#numbers .health")).to_have_text("linked")
    _shot(page, screenshots, "page-linked")

    # The member removes the linked device on the phone: the page says so and offers relinking.
    wa.control("POST", f"sessions/{session['name']}/logout", {})
    wait_for(lambda: "failed (needs relinking)" in page.goto(f"{live.url}/whatsapp/").text(), timeout=60,
             interval=0.5, message="failed state on the WhatsApp page")
    _shot(page, screenshots, "page-failed")
    page.click("#numbers >> text=Open")
    expect(page.locator("#link-status")).to_contain_text("Relink (new QR code)")
    _shot(page, screenshots, "link-failed")
