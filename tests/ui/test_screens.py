"""The main screens in a real Chromium (Debian's): the dashboard chart renders, the sync log at 390 px
shows state and reason, reloading the API key page makes no second key, and no page logs a console
error. Screenshots of the main screens go to the `screenshots` folder (`make screenshots`: docs/screenshots/,
embedded in the README)."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.helpers.browser import new_page, sign_in
from tests.helpers.outcomes import LINES, add_outcomes
from webapp.core.extensions import db
from webapp.models import ApiKey, ConnectionEvent, utcnow

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


class Visitor:
    """One signed-in browser context that records every console error and uncaught exception."""

    def __init__(self, browser, base, email, shots, viewport=DESKTOP):
        self.base, self.shots, self.errors = base, shots, []
        self.page = new_page(browser, viewport=viewport)
        self.context = self.page.context
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"{self.page.url}: {msg.text}"))
        self.page.on("pageerror", lambda exc: self.errors.append(f"{self.page.url}: {exc}"))
        sign_in(self.page, base, email)

    def visit(self, path):
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("load")
        return self.page

    def shot(self, name, full_page=True):
        self.page.screenshot(path=str(self.shots / name), full_page=full_page)

    def close(self):
        self.context.close()
        assert self.errors == [], "console errors:\n" + "\n".join(self.errors)


def _a_week_of_traffic(demo):
    """Working-hours traffic over 7 days on the three Acme numbers, a few skips and failures."""
    owner, admin = [], []
    for hours_ago in range(0, 7 * 24):
        hour = (utcnow() - timedelta(hours=hours_ago)).hour
        if 8 <= hour <= 18:
            owner += [("synced", hours_ago)] * (2 + (hours_ago * 7) % 5)
            admin += [("synced", hours_ago)] * ((hours_ago * 3) % 4)
            if hours_ago % 9 == 0:
                owner.append(("skipped", hours_ago))
            if hours_ago % 31 == 0:
                admin.append(("failed", hours_ago))
    add_outcomes(demo, owner, texts=LINES)
    add_outcomes(demo, admin, email="admin@acme.test", remote="+14155550102", name="Michael Scott",
                 reason="Close answered 503 (service unavailable); retrying", texts=LINES[2:])
    add_outcomes(demo, [("skipped", 0)], email="member@acme.test", remote="+14155550103", name="Team lunch",
                 reason="Group chats are not synced to Close")


def _history(demo, fake_connection):
    owner = demo.users["owner@acme.test"]
    rows = [("connected", "Acme Sales as dana@acme.test", owner.id),
            ("settings_changed", "Status of new leads: Close default → Potential", owner.id),
            ("test_sync", "Test sync done: 2 of 2 messages synced", owner.id)]
    for i, (kind, detail, actor) in enumerate(rows):
        db.session.add(ConnectionEvent(workspace_id=demo.acme.id, connection_id=fake_connection.id, kind=kind,
                                       detail=detail, actor_id=actor,
                                       created_at=utcnow() - timedelta(minutes=30 - i)))
    db.session.commit()


def test_dashboard_chart_and_main_screens(live_app, chromium, demo, fake_connection, screenshots):
    from playwright.sync_api import expect
    _a_week_of_traffic(demo)
    _history(demo, fake_connection)
    owner = Visitor(chromium, live_app, "owner@acme.test", screenshots)
    page = owner.visit("/dashboard")
    chart = page.locator("#hourly-chart")
    expect(chart).to_be_visible()
    assert chart.bounding_box()["width"] > 600
    assert page.locator('#hourly-chart rect[data-series="synced"]').count() > 30
    expect(page.locator('#hourly-chart rect[data-series="failed"]').first).to_be_attached()
    expect(page.locator("#dashboard-close-headline")).to_have_text("Connected to Acme Sales as dana@acme.test")
    expect(page.locator('#dashboard-numbers-table tr[data-number="+14155550002"] .number-health')).to_contain_text("failing")
    owner.shot("dashboard.png")
    owner.visit("/integrations/close/")
    expect(page.locator("#close-history-table")).to_contain_text("Settings")
    # close.png is taken by tests/close_connection/test_card_browser.py, on a real connection
    owner.visit("/sync/")
    expect(page.locator("#sync-log-table .sync-row").first).to_be_visible()
    owner.shot("sync-status.png", full_page=False)
    owner.visit("/team/")
    expect(page.locator("#number-region-hint")).to_contain_text("read as United States numbers")
    owner.shot("team.png")
    for path in ("/subscription", "/notifications", "/api/docs"):
        owner.visit(path)
    owner.shot("api-docs.png", full_page=False)
    owner.close()


def _inside_viewport(locator, width):
    box = locator.bounding_box()
    return box is not None and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5


def test_sync_log_and_history_at_390px_show_state_and_reason(live_app, chromium, demo, fake_connection, screenshots):
    from playwright.sync_api import expect
    add_outcomes(demo, [("synced", 0), ("synced", 0)])
    add_outcomes(demo, [("failed", 0)], email="admin@acme.test", remote="+14155550102", name="Michael Scott",
                 reason="Close answered 503 (service unavailable); retrying")
    add_outcomes(demo, [("skipped", 0)], email="member@acme.test", remote="+14155550103", name="Peter Gibbons",
                 reason="No Close contact has this phone and auto-create is off")
    _history(demo, fake_connection)
    phone = Visitor(chromium, live_app, "owner@acme.test", screenshots, viewport=PHONE)
    page = phone.visit("/sync/")
    for state, reason in (("failed", "Close answered 503"), ("skipped", "No Close contact has this phone")):
        row = page.locator(f'#sync-log-table .sync-row[data-state="{state}"]').first
        badge, why = row.locator(".state-badge"), row.locator(".sync-reason")
        expect(badge).to_be_visible()
        expect(why).to_contain_text(reason)
        assert _inside_viewport(badge, PHONE["width"]) and _inside_viewport(why, PHONE["width"])
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1  # no sideways scroll
    page.locator("#sync-log").scroll_into_view_if_needed()
    phone.shot("sync-log-mobile.png", full_page=False)

    # The search is in the URL: shareable, and the back button returns to the unfiltered log.
    page.fill('#sync-filter input[name="q"]', "message 0")
    page.select_option('#sync-filter select[name="state"]', "skipped")
    page.locator('#sync-filter [type="submit"]').click()
    page.wait_for_url(lambda url: "q=message" in url)
    assert "number=" not in page.url  # empty fields are left out
    expect(page.locator("#sync-log-table .sync-row")).to_have_count(1)
    page.go_back()
    page.wait_for_url(f"{live_app}/sync/")
    expect(page.locator("#sync-log-table .sync-row")).to_have_count(4)

    page = phone.visit("/dashboard")
    expect(page.locator("#hourly-chart")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1
    phone.shot("dashboard-mobile.png")

    page = phone.visit("/integrations/close/")
    event = page.locator('#close-history-table .close-event[data-kind="settings_changed"]')
    for cell in (event.locator("td").nth(1), event.locator("td").nth(2)):
        expect(cell).to_be_visible()
        assert _inside_viewport(cell, PHONE["width"])
    phone.close()


def test_reloading_the_new_api_key_page_creates_no_second_key(live_app, chromium, demo, screenshots):
    from playwright.sync_api import expect
    admin = Visitor(chromium, live_app, "admin@acme.test", screenshots)
    page = admin.visit("/settings/api-keys")
    page.fill("#name", "WhatsApp bridge")
    page.click("#api-key-form [type=submit]")
    expect(page.locator("#new-key")).to_contain_text("cl_")
    admin.shot("api-keys.png", full_page=False)
    page.reload()
    expect(page.locator("#new-key")).to_have_count(0)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiKey)) == 1

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#api-keys-table button:has-text('Revoke')")
    expect(page.locator(".alert-success")).to_contain_text("API key “WhatsApp bridge”")
    expect(page.locator("#api-keys-table")).to_contain_text("revoked")
    page.click("#api-docs-link")
    expect(page.locator("#schema-IncomingMessage")).to_be_visible()
    admin.close()
