"""The privacy page in a real Chromium: a member excludes a chat from the sync log and lets it sync
again, an admin saves redaction and edits the exclusion list (a bad entry is refused with its
reason). No page logs a console error."""
import pytest

from tests.helpers.browser import watched_page
from tests.helpers.outcomes import add_outcomes

pytestmark = pytest.mark.browser


def test_privacy_page_and_never_sync_from_the_log(live_app, chromium, demo, sandbox_connection):
    from playwright.sync_api import expect
    base, errors = live_app, []
    add_outcomes(demo, [("synced", 1)], email="member@acme.test", remote="+14155550104", name="Ann Perkins")

    member = watched_page(chromium, base, "member@acme.test", errors)
    member.goto(f"{base}/sync/")
    never = member.get_by_role("button", name="Never sync this chat")
    member.once("dialog", lambda dialog: dialog.dismiss())  # asked first; "Cancel" changes nothing
    never.click()
    expect(never).to_be_visible()
    member.once("dialog", lambda dialog: dialog.accept())
    never.click()
    expect(member.locator(".alert-success")).to_contain_text("Ann Perkins is never synced again")
    member.goto(f"{base}/privacy/")
    expect(member.locator("#excluded-chats .excluded-chat")).to_contain_text("Ann Perkins")
    member.locator("#excluded-chats").get_by_role("button", name="Sync again").click()
    expect(member.locator(".alert-success")).to_contain_text("syncs again from its next message")
    expect(member.locator("#excluded-chats")).to_contain_text("No excluded chats.")
    expect(member.locator("#privacy-settings")).to_have_count(0)  # workspace settings are the admins'

    admin = watched_page(chromium, base, "admin@acme.test", errors)
    admin.goto(f"{base}/privacy/")
    admin.check("#redact_codes")
    admin.locator("#privacy-settings [type=submit]").click()
    expect(admin.locator("#redact_codes")).to_be_checked()
    form = admin.locator("#exclusion-form")
    form.locator("input[name=value]").fill("hello")
    form.locator("[type=submit]").click()
    expect(admin.locator(".alert-danger")).to_be_visible()
    expect(admin.locator(".exclusion-entry")).to_have_count(0)  # nothing half-saved
    form.locator("input[name=value]").fill("+1 (415) 555-0199")
    form.locator("[type=submit]").click()
    expect(admin.locator(".exclusion-entry")).to_contain_text("+14155550199")
    admin.locator(".exclusion-entry").get_by_role("button", name="Remove").click()
    expect(admin.locator(".exclusion-entry")).to_have_count(0)
    assert errors == [], "console errors:\n" + "\n".join(errors)
