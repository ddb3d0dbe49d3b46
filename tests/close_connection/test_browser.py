"""The whole click path in a real Chromium: Closeline served over HTTP, the sandbox's own pages, a real
RQ worker for the test sync."""
import pytest

from tests.helpers.browser import new_page, sign_in
from tests.helpers.close_connection import add_messages, close_sign_in

pytestmark = pytest.mark.browser


def test_connect_test_sync_member_view_disconnect_and_refusal(live_app, chromium, demo, worker, close_sandbox):
    from playwright.sync_api import expect
    base = live_app
    add_messages(demo, 2, state="queued")
    owner = new_page(chromium)
    sign_in(owner, base, "owner@acme.test")
    owner.click("text=Close CRM")
    expect(owner.locator("#close-state")).to_have_text("not connected")
    expect(owner.locator('[data-check="close_permissions"]')).to_contain_text("Checked when you connect")

    # Connect → sandbox sign-in as dana → pick Acme Sales → Allow
    owner.click("#close-connect")
    close_sign_in(owner, "dana@acme.test")
    owner.select_option("#organization_id", label="Acme Sales")
    owner.click("#allow")
    owner.wait_for_url(f"{base}/integrations/close/")
    expect(owner.locator(".alert-success")).to_contain_text("Connected to the Close organization Acme Sales")
    expect(owner.locator("#close-state")).to_have_text("connected")
    expect(owner.locator("#close-details")).to_contain_text("Dana Scully")
    expect(owner.locator("#close-details")).to_contain_text("Olivia Owner")

    # Run test sync → live progress (polling) → result with lead links
    owner.click("#close-test-sync")
    expect(owner.locator("#close-job")).to_be_visible()
    expect(owner.locator("#close-job-status")).to_have_text("finished")
    expect(owner.locator("#close-job-message")).to_contain_text("Test sync done: 2 sent to Close now")
    links = owner.locator("#close-job-items a.lead-link")
    expect(links).to_have_count(2)
    assert links.first.get_attribute("href").startswith(f"{close_sandbox.url}/lead/lead_")
    expect(owner.locator("#close-card")).not_to_have_attribute("hx-trigger", "every 1s")

    # A member sees the card, without any button
    member = new_page(chromium)
    sign_in(member, base, "member@acme.test")
    member.goto(f"{base}/integrations/close/")
    expect(member.locator("#close-details")).to_contain_text("Acme Sales")
    expect(member.locator("#close-readonly")).to_be_visible()
    for button in ("#close-connect", "#close-test-sync", "#close-disconnect", "#close-settings"):
        expect(member.locator(button)).to_have_count(0)

    # Disconnect → confirmation → not connected
    owner.click("#close-disconnect")
    expect(owner.locator("#close-disconnect-confirm")).to_be_visible()
    owner.click("#close-disconnect-yes")
    expect(owner.locator("#close-state")).to_have_text("not connected")
    expect(owner.locator("#close-history-table")).to_contain_text("Disconnected")

    # The same as rep@acme.test (no Lead Visibility = All Leads) ends in the refusal
    owner.goto(f"{close_sandbox.url}/logout/")
    owner.goto(f"{base}/integrations/close/")
    owner.click("#close-connect")
    close_sign_in(owner, "rep@acme.test")
    owner.click("#allow")
    owner.wait_for_url(f"{base}/integrations/close/")
    alert = owner.locator(".alert-danger").first
    expect(alert).to_contain_text("Close was not connected")
    expect(alert).to_contain_text("Lead Visibility is not set to “All Leads”")
    expect(owner.locator('[data-check="close_permissions"]')).to_have_attribute("data-ok", "no")
    expect(owner.locator("#close-state")).to_have_text("not connected")
