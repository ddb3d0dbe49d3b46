"""Every page Closeline serves, opened in a real Chromium as the owner: none logs a console error
or an uncaught exception, and none scrolls sideways on a 390 px phone. The Content-Security-Policy
refuses inline styles and scripts, and a refused one only shows up here (a progress bar whose width
never applied, a handler never run)."""
import pytest

from tests.helpers.browser import new_page, sign_in
from tests.helpers.routes import PUBLIC_PREFIXES, acme_objects, route_url

pytestmark = pytest.mark.browser

# Not pages: the OAuth hand-offs leave for Close, logout signs out, the rest answer JSON, files or images.
NOT_PAGES = ("/integrations/close/connect", "/integrations/close/callback", "/auth/logout")


def _pages(app, values):
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint == "static" or rule.rule.startswith(NOT_PAGES):
            continue
        if rule.rule.startswith(PUBLIC_PREFIXES) and not rule.rule.startswith("/auth/login"):
            continue
        yield route_url(rule, values)


PHONE = {"width": 390, "height": 844}
MAIN_PAGES = ("/dashboard", "/sync/", "/privacy/", "/team/", "/whatsapp/", "/integrations/close/",
              "/settings/api-keys", "/settings/whatsapp-cloud", "/history/", "/notifications")


def _whole_pages(page, base, paths):
    """The paths that answer a whole HTML page to this signed-in page's cookies."""
    for path in paths:
        fetched = page.request.get(base + path)
        if fetched.ok and fetched.text().lstrip().lower().startswith("<!doctype html"):
            yield path


def test_no_page_logs_a_console_error(app, live_app, chromium, demo, fake_connection):
    values = acme_objects(demo)
    page = new_page(chromium)
    errors, visited = [], []
    page.on("console", lambda msg: msg.type == "error" and errors.append(f"{page.url}: {msg.text}"))
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    sign_in(page, live_app, "owner@acme.test")
    for path in sorted(set(_pages(app, values))):
        # Fetched first with the page's cookies: only whole pages are opened (an htmx fragment opened
        # alone would make Chromium ask for /favicon.ico, and an image is no page).
        fetched = page.request.get(live_app + path)
        if not fetched.ok or not fetched.text().lstrip().lower().startswith("<!doctype html"):
            continue
        page.goto(live_app + path)
        page.wait_for_load_state("load")
        visited.append(path)
    main = {"/dashboard", "/sync/", "/privacy/", "/team/", "/whatsapp/", "/integrations/close/",
            f"/history/{values['import_id']}", f"/whatsapp/links/{values['link_id']}", "/settings/api-keys"}
    assert main <= set(visited), sorted(main - set(visited))  # the sweep really went through the app's pages
    assert errors == [], "console errors:\n" + "\n".join(errors)


def _too_wide(page):
    """scrollWidth of the document, and the elements sticking out beyond the viewport (to say which)."""
    return page.evaluate("""() => {
      const width = document.documentElement.clientWidth;
      const wide = [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > width + 1)
        .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + [...e.classList].join('.'));
      return [document.documentElement.scrollWidth, wide];
    }""")


@pytest.mark.parametrize("email", ["owner@acme.test", "member@acme.test"])
def test_every_page_fits_a_390_px_phone(app, live_app, chromium, demo, fake_connection, email):
    values = acme_objects(demo)
    page = new_page(chromium, viewport=PHONE)
    sign_in(page, live_app, email)
    paths = sorted(set(_pages(app, values)))
    visited, wide = [], {}
    for path in _whole_pages(page, live_app, paths):
        page.goto(live_app + path)
        page.wait_for_load_state("load")
        visited.append(path)
        width, culprits = _too_wide(page)
        if width > PHONE["width"]:
            wide[path] = (width, culprits)
    if email == "owner@acme.test":
        assert set(MAIN_PAGES) <= set(visited), sorted(set(MAIN_PAGES) - set(visited))
    assert wide == {}, "pages wider than 390 px: " + "; ".join(f"{p} {w} px ({c})" for p, (w, c) in wide.items())
