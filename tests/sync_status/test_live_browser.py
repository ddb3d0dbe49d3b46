"""Live pages in a real Chromium: a message that arrives while the sync status page (or the
dashboard) is open appears without a reload, and after Retry the badges follow the message to
synced — nothing to reload by hand."""
import pytest

from tests.helpers.browser import new_page, sign_in
from tests.helpers.messages import body, messages

pytestmark = pytest.mark.browser


def _watched(chromium, base, errors):
    page = new_page(chromium)
    page.on("console", lambda msg: msg.type == "error" and errors.append(f"{page.url}: {msg.text}"))
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    return sign_in(page, base, "admin@acme.test")


def test_a_new_message_appears_on_open_pages_without_reload(live_app, chromium, api, sandbox_connection,
                                                              close_sandbox, demo, drain_now):
    from playwright.sync_api import expect
    errors = []
    status = _watched(chromium, live_app, errors)
    status.goto(f"{live_app}/sync/")
    expect(status.locator("#sync-log-table")).to_contain_text("No messages")
    dashboard = _watched(chromium, live_app, errors)
    expect(dashboard.locator("#count-queued .count")).to_have_text("0")
    navigations = []
    status.on("framenavigated", lambda frame: frame == status.main_frame and navigations.append(frame.url))

    api.post(body("live-browser-1", phone="+14155550101", text="hello from a new customer"))  # no worker: queued
    row = status.locator("#sync-log-table tr.sync-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("hello from a new customer")
    expect(row.locator(".state-badge")).to_have_text("queued")
    expect(status.locator('#sync-totals [data-state="queued"] .count')).to_have_text("1")
    expect(dashboard.locator("#count-queued .count")).to_have_text("1")

    # Failed, then Retry: the badges follow the message to synced on their own.
    from webapp.core.extensions import db
    [message] = messages()
    message.state, message.reason, message.attempts = "failed", "Close unreachable", 3
    db.session.commit()
    expect(row.locator(".state-badge")).to_have_text("failed")
    row.get_by_role("button", name="Retry").click()
    expect(row.locator(".state-badge")).to_have_text("queued")
    drain_now(demo.acme.id)
    expect(row.locator(".state-badge")).to_have_text("synced")
    expect(status.locator('#sync-totals [data-state="synced"] .count')).to_have_text("1")
    expect(status.locator('#sync-totals [data-state="queued"] .count')).to_have_text("0")
    expect(dashboard.locator("#count-synced .count")).to_have_text("1")
    assert navigations == [], navigations  # never reloaded
    assert errors == [], errors
