"""What every browser test shares: Debian's Chromium driven by Playwright (never a downloaded
browser), pages that wait patiently on a busy machine, and the demo sign-in. The `chromium`
fixture is registered once from tests/conftest.py (`pytest_plugins`); test modules ask for it by
name and import only the plain helpers below."""
import os

import pytest

CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 120_000  # a busy machine (a second suite beside this one) may need far longer than playwright's 5 s
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def chromium():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (.ci/run installs Debian's package)")
    from playwright.sync_api import expect, sync_playwright
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def new_page(browser, **context_options):
    """A page in a fresh context (own cookies) that waits patiently for elements and navigations."""
    context = browser.new_context(**context_options)
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    return context.new_page()


def sign_in(page, base, email):
    """Signs a demo user in through the form; returns once the dashboard has loaded (htmx included)."""
    page.goto(f"{base}/auth/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", "closeline-demo")
    page.click("form [type=submit]")
    page.wait_for_url(f"{base}/dashboard")
    return page


def watched_page(browser, base, email, errors):
    """A signed-in page that appends every console error and uncaught exception to `errors`."""
    page = new_page(browser)
    page.on("console", lambda msg: msg.type == "error" and errors.append(f"{page.url}: {msg.text}"))
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    return sign_in(page, base, email)
