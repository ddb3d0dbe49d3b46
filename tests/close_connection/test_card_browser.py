"""The Close card in a real Chromium: the outage banner appears and clears, a re-route to a lead that doesn't
exist is refused (and the picker finds leads by name), a reconnect keeps the settings, the previous
connection's test-sync result is gone, "Check connection now" shows its result in the history without a
reload, and no page logs a console error. Takes the Close card's
screenshots (`make screenshots` refreshes them in docs/screenshots/)."""
import pytest

from tests.helpers.browser import new_page, sign_in
from tests.helpers.close_connection import add_messages, close_sign_in

pytestmark = pytest.mark.browser


def _watch(page, errors, base):
    """Console errors of Closeline's pages (the sandbox's sign-in pages are not ours to judge)."""
    ours = lambda: page.url.startswith(base)  # noqa: E731
    page.on("console", lambda msg: msg.type == "error" and ours() and errors.append(f"{page.url}: {msg.text}"))
    page.on("pageerror", lambda exc: ours() and errors.append(f"{page.url}: {exc}"))


def _connect(page, base):
    page.goto(f"{base}/integrations/close/")
    page.click("#close-connect")
    if page.locator("#email").count():
        close_sign_in(page, "dana@acme.test")
    page.select_option("#organization_id", label="Acme Sales")
    page.click("#allow")
    page.wait_for_url(f"{base}/integrations/close/")


def _queued(demo, count, remote="+14155550102"):
    """Queued messages of a second chat (ids distinct from add_messages')."""
    from webapp.core.extensions import db
    chat, rows = add_messages(demo, count, remote=remote, kind="group")
    chat.kind = "direct"
    for row in rows:
        row.external_id, row.state = f"wamid.outage.{row.id}", "queued"
    db.session.commit()
    return chat


def _drain(demo):
    from webapp.core.extensions import db
    from webapp.messages.drain import drain_workspace
    db.session.expire_all()
    drain_workspace(demo.acme.id)


def test_card_shows_outages_reroutes_and_reconnects(live_app, chromium, demo, worker, close_sandbox, app, screenshots):
    from playwright.sync_api import expect

    from webapp.core.extensions import db
    base, errors = live_app, []
    app.config["SYNC_INLINE_RETRIES"] = 0
    owner = new_page(chromium)
    _watch(owner, errors, base)
    sign_in(owner, base, "owner@acme.test")
    _connect(owner, base)
    expect(owner.locator("#close-summary")).to_contain_text("Connected to Acme Sales as dana@acme.test since")
    expect(owner.locator("#close-state")).to_have_text("connected")
    assert "orga_" not in owner.locator("#close-card").inner_text()

    # Check connection now: the job's result lands in the history below without a reload.
    expect(owner.locator('#close-history tr.close-event[data-kind="check"]')).to_have_count(0)
    owner.click("#close-check-now")
    expect(owner.locator('#close-history tr.close-event[data-kind="check"]')).to_have_count(1)
    expect(owner.locator("#close-check-now")).to_have_text("Check connection now")

    # Settings to keep across a reconnect.
    owner.select_option("#new_lead_status_id", label="Qualified")
    owner.click("#close-settings [type=submit]")
    expect(owner.locator("#close-notice")).to_contain_text("Status of new leads: Close default → Qualified")

    # A test sync on this connection (of messages waiting to sync, as the live sync would send them).
    add_messages(demo, 2, state="queued")
    owner.click("#close-test-sync")
    expect(owner.locator("#close-job-status")).to_have_text("finished")
    expect(owner.locator("#close-job-items a.lead-link").first).to_have_text("Bluth Company")

    # Outage: every Close call answers 503 → the sync's own results raise the amber banner.
    chat = _queued(demo, 3)
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0, "error_status": 503})
    _drain(demo)
    owner.reload()
    banner = owner.locator("#close-unreachable")
    expect(banner).to_contain_text("Close unreachable since")
    expect(banner).to_contain_text("3 messages waiting")
    expect(owner.locator("#close-state")).to_have_text("needs attention")
    owner.screenshot(path=str(screenshots / "close-outage.png"), full_page=True)
    close_sandbox.control("DELETE", "/_sandbox/faults")
    db.session.execute(db.text("UPDATE messages SET state = 'queued', next_attempt_at = NULL WHERE state = 'failed'"))
    db.session.commit()
    _drain(demo)
    owner.reload()
    expect(owner.locator("#close-unreachable")).to_have_count(0)
    expect(owner.locator("#close-state")).to_have_text("connected")

    # Re-route: a lead that doesn't exist is refused; the picker finds a real one by name.
    owner.goto(f"{base}/sync/?chat={chat.id}")
    owner.fill("#reroute-lead", "lead_doesnotexist")
    owner.click("#reroute-submit")
    expect(owner.locator(".alert-danger")).to_contain_text("There is no lead lead_doesnotexist in Acme Sales")
    # The alert is parsed before htmx (end of body) runs: typing earlier would go unheard by the picker.
    owner.wait_for_load_state("load")
    owner.fill("#reroute-search", "Bluth")
    expect(owner.locator("#lead-choices .lead-choice").first).to_have_text("Bluth Company")
    owner.click("#reroute-submit")
    expect(owner.locator(".alert-success")).to_contain_text("now goes to the lead Bluth Company")

    # Disconnect, reconnect: the settings are kept, the old test-sync result is gone.
    owner.goto(f"{base}/integrations/close/")
    owner.click("#close-disconnect")
    owner.click("#close-disconnect-yes")
    expect(owner.locator("#close-state")).to_have_text("not connected")
    expect(owner.locator("#close-job")).to_have_count(0)
    expect(owner.locator('#close-checklist [data-ok="yes"]')).to_have_count(1)  # only the workspace role
    _connect(owner, base)
    expect(owner.locator("#close-state")).to_have_text("connected")
    expect(owner.locator("#new_lead_status_id option:checked")).to_have_text("Qualified")
    expect(owner.locator("#close-job")).to_have_count(0)
    owner.locator("#close-history").scroll_into_view_if_needed()
    owner.screenshot(path=str(screenshots / "close.png"), full_page=True)

    # A member: read-only, no alarm, and who can change it.
    member = new_page(chromium)
    _watch(member, errors, base)
    sign_in(member, base, "member@acme.test")
    member.goto(f"{base}/integrations/close/")
    expect(member.locator("#close-readonly")).to_contain_text("Olivia Owner (owner)")
    expect(member.locator('#close-checklist [data-ok="no"]')).to_have_count(0)
    assert errors == [], "console errors:\n" + "\n".join(errors)
