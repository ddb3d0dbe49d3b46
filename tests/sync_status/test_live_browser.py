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


def test_the_message_a_close_activity_links_to_is_highlighted(live_app, chromium, demo, fake_connection):
    from playwright.sync_api import expect

    from tests.helpers.outcomes import add_outcomes
    rows = add_outcomes(demo, [("synced", 60 - i) for i in range(60)], name="Gob Bluth")  # more than a page
    errors = []
    page = _watched(chromium, live_app, errors)
    highlighted = "rgb(255, 243, 205)"
    for target in (rows[-2], rows[0]):  # on the first page, and one older than the first page
        page.goto(f"{live_app}/sync/?chat={target.chat_id}#message-{target.id}")
        row = page.locator(f"#message-{target.id}")
        expect(row).to_be_visible()
        expect(row.locator("td").first).to_have_css("background-color", highlighted)
        assert page.evaluate("location.hash") == f"#message-{target.id}"
        expect(page.locator("#chat-heading")).to_contain_text("Chat with Gob Bluth")
        if target is rows[-2]:  # its neighbour on the page is not highlighted
            other = page.locator(f"#message-{rows[-1].id} td").first
            assert other.evaluate("e => getComputedStyle(e).backgroundColor") != highlighted
    assert errors == [], errors
