"""The history import page in a real Chromium: dry run → confirm → live progress that stops polling by
itself when the import is done. No page logs a console error."""
import re

import pytest

from tests.helpers.browser import watched_page
from tests.helpers.workers import run_queued

pytestmark = pytest.mark.browser


def test_history_import_dry_run_confirm_and_live_progress(live_app, chromium, demo, sandbox_connection, close_sandbox,
                                                         history_source, drain_now):
    from playwright.sync_api import expect

    from jobs import history as jobs
    from webapp.history_import import service as history
    base, errors = live_app, []
    admin = watched_page(chromium, base, "admin@acme.test", errors)
    admin.goto(f"{base}/history/")
    admin.select_option("#number_id", value=str(demo.memberships["owner@acme.test"].numbers[0].id))
    admin.select_option("#period", value="7")
    admin.get_by_role("button", name="Dry run").click()
    expect(admin.locator("#dry-run-running")).to_contain_text("Dry run in progress")
    # The worker's part, run here; the page's poll brings the counts without a reload.
    assert run_queued("jobs.history.plan_import") == ["planned"]
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
