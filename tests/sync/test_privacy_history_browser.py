"""The privacy and history-import pages in a real Chromium: a member excludes a chat from the sync
log and lets it sync again, an admin saves redaction and edits the exclusion list (a bad entry is
refused with its reason), and a history import goes dry run → confirm → live progress that stops
polling by itself when the import is done. No page logs a console error."""
import re

import pytest

from tests.helpers.browser import new_page, sign_in
from tests.helpers.outcomes import add_outcomes

pytestmark = pytest.mark.browser


def _watched(browser, base, email, errors):
    page = new_page(browser)
    page.on("console", lambda msg: msg.type == "error" and errors.append(f"{page.url}: {msg.text}"))
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    return sign_in(page, base, email)


def test_privacy_page_and_never_sync_from_the_log(live_app, chromium, demo, connected):
    from playwright.sync_api import expect
    base, errors = live_app, []
    add_outcomes(demo, [("synced", 1)], email="member@acme.test", remote="+14155550104", name="Ann Perkins")

    member = _watched(chromium, base, "member@acme.test", errors)
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

    admin = _watched(chromium, base, "admin@acme.test", errors)
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


def test_history_import_dry_run_confirm_and_live_progress(live_app, chromium, demo, connected, close_sandbox,
                                                         history_source, drain_now):
    from playwright.sync_api import expect

    from jobs import history as jobs
    from webapp.history_import import service as history
    base, errors = live_app, []
    admin = _watched(chromium, base, "admin@acme.test", errors)
    admin.goto(f"{base}/history/")
    admin.select_option("#number_id", value=str(demo.memberships["owner@acme.test"].numbers[0].id))
    admin.select_option("#period", value="7")
    admin.get_by_role("button", name="Dry run").click()
    expect(admin.locator("#dry-run .plan-messages")).to_have_text("5")
    import_id = int(re.search(r"/history/(\d+)", admin.url).group(1))

    admin.get_by_role("button", name="Import 5 message(s)").click()
    expect(admin.locator(".alert-success")).to_contain_text("Import started")
    expect(admin.locator("#import-progress")).to_have_attribute("hx-trigger", "every 2s")
    # The worker's part, run here: the page is not reloaded, its progress poll shows the outcome.
    assert jobs.run_import(import_id) == "stored"
    while history.feed(import_id):
        drain_now(demo.acme.id)
    drain_now(demo.acme.id)
    progress = admin.locator("#import-progress")
    expect(progress).to_contain_text("Import finished")
    expect(progress).to_contain_text("5 synced")
    expect(admin.locator("#import-bar")).to_have_attribute("value", "5")  # the bar is full, not a stuck 0
    expect(progress).not_to_have_attribute("hx-trigger", "every 2s")  # polling stopped by itself
    assert errors == [], "console errors:\n" + "\n".join(errors)
