"""Every route against every kind of visitor: anonymous, member, admin, another workspace, no CSRF."""
from tests.helpers.routes import PUBLIC_EXACT, PUBLIC_PREFIXES, acme_objects, route_url


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith(PUBLIC_PREFIXES) or rule.rule in PUBLIC_EXACT:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _min_role(app, endpoint):
    view = app.view_functions[endpoint]
    return getattr(view, "min_role", None)


def test_every_private_route_declares_a_role(app):
    # Anything signed-in only must go through workspace_role (or be a sign-in-only route listed here).
    signed_in_only = {"auth.logout", "auth.switch_workspace", "main.no_workspace", "account.profile"}
    unguarded = [r.endpoint for r, _ in _routes(app)
                 if _min_role(app, r.endpoint) is None and r.endpoint not in signed_in_only]
    assert unguarded == []


def test_anonymous_is_sent_to_sign_in(app, demo, browser):
    values = acme_objects(demo)
    for rule, method in _routes(app):
        if rule.endpoint == "auth.logout":
            continue
        url = route_url(rule, values)
        if method == "GET":
            response = browser.get(url)
            assert response.status_code == 302, (url, response.status_code)
            assert "/auth/login" in response.headers["Location"], url
            htmx = browser.get(url, headers={"HX-Request": "true"})
            assert htmx.status_code == 401, url
            assert "/auth/login" in htmx.headers["HX-Redirect"], url
        else:
            response = browser.post(url)
            assert response.status_code in (302, 401), (url, response.status_code)


def test_member_gets_403_on_owner_and_admin_actions(app, demo, login):
    values = acme_objects(demo)
    member = login("member@acme.test")
    checked = 0
    for rule, method in _routes(app):
        if _min_role(app, rule.endpoint) not in ("admin", "owner"):
            continue
        url = route_url(rule, values)
        response = member.get(url) if method == "GET" else member.post(url)
        assert response.status_code == 403, (method, url, response.status_code)
        checked += 1
    assert checked >= 5


def test_admin_gets_403_on_owner_actions(app, demo, login):
    values = acme_objects(demo)
    admin = login("admin@acme.test")
    for rule, method in _routes(app):
        if _min_role(app, rule.endpoint) != "owner":
            continue
        url = route_url(rule, values)
        response = admin.get(url) if method == "GET" else admin.post(url)
        assert response.status_code == 403, (method, url, response.status_code)


def test_other_workspace_gets_404_on_anything_of_acme(app, demo, login):
    values = acme_objects(demo)
    globex = login("owner@globex.test")
    checked = 0
    for rule, method in _routes(app):
        if not rule.arguments:
            continue
        url = route_url(rule, values)
        response = globex.get(url) if method == "GET" else globex.post(url)
        assert response.status_code == 404, (method, url, response.status_code)
        checked += 1
    assert checked >= 5


def test_post_without_csrf_token_is_refused(app, demo, login):
    values = acme_objects(demo)
    owner = login("owner@acme.test")
    for rule, method in _routes(app):
        if method == "GET":
            continue
        url = route_url(rule, values)
        response = owner.post(url, csrf=False)
        assert response.status_code == 400, (url, response.status_code)
        htmx = owner.post(url, csrf=False, headers={"HX-Request": "true"})
        assert htmx.status_code == 400, (url, htmx.status_code)
