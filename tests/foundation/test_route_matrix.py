"""Every route against every kind of visitor: anonymous, member, admin, another workspace, no CSRF."""
import re

from webapp.core.extensions import db
from webapp.models import ApiKey, Invitation

# Routes anyone may reach (sign-in, invite links, health, static files, the machine API).
PUBLIC_PREFIXES = ("/auth/login", "/auth/invite/", "/healthz", "/static/", "/bootstrap/", "/api/")
PUBLIC_EXACT = {"/"}


def _acme_objects(demo):
    """Ids of real Acme rows for every URL parameter a route can take."""
    acme = demo.acme
    member = demo.memberships["member@acme.test"]
    inv, _ = Invitation.create(acme, "new@acme.test", "member", demo.users["owner@acme.test"])
    key, _ = ApiKey.generate(acme, "bridge", demo.users["owner@acme.test"])
    db.session.add_all([inv, key])
    db.session.commit()
    values = {
        "membership_id": member.id,
        "number_id": member.numbers[0].id,
        "invitation_id": inv.id,
        "key_id": key.id,
    }
    from tests.foundation import route_params
    values.update(route_params.extra_acme_ids(demo))
    return values


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith(PUBLIC_PREFIXES) or rule.rule in PUBLIC_EXACT:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def _url(rule, values):
    missing = [a for a in rule.arguments if a not in values]
    assert not missing, f"{rule.rule}: add an Acme id for {missing} to tests/foundation/route_params.py"
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def _min_role(app, endpoint):
    view = app.view_functions[endpoint]
    return getattr(view, "min_role", None)


def test_every_private_route_declares_a_role(app):
    # Anything signed-in only must go through workspace_role (or be a sign-in-only route listed here).
    signed_in_only = {"auth.logout", "auth.switch_workspace", "main.no_workspace"}
    unguarded = [r.endpoint for r, _ in _routes(app)
                 if _min_role(app, r.endpoint) is None and r.endpoint not in signed_in_only]
    assert unguarded == []


def test_anonymous_is_sent_to_sign_in(app, demo, browser):
    values = _acme_objects(demo)
    for rule, method in _routes(app):
        if rule.endpoint == "auth.logout":
            continue
        url = _url(rule, values)
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
    values = _acme_objects(demo)
    member = login("member@acme.test")
    checked = 0
    for rule, method in _routes(app):
        if _min_role(app, rule.endpoint) not in ("admin", "owner"):
            continue
        url = _url(rule, values)
        response = member.get(url) if method == "GET" else member.post(url)
        assert response.status_code == 403, (method, url, response.status_code)
        checked += 1
    assert checked >= 5


def test_admin_gets_403_on_owner_actions(app, demo, login):
    values = _acme_objects(demo)
    admin = login("admin@acme.test")
    for rule, method in _routes(app):
        if _min_role(app, rule.endpoint) != "owner":
            continue
        url = _url(rule, values)
        response = admin.get(url) if method == "GET" else admin.post(url)
        assert response.status_code == 403, (method, url, response.status_code)


def test_other_workspace_gets_404_on_anything_of_acme(app, demo, login):
    values = _acme_objects(demo)
    globex = login("owner@globex.test")
    checked = 0
    for rule, method in _routes(app):
        if not rule.arguments:
            continue
        url = _url(rule, values)
        response = globex.get(url) if method == "GET" else globex.post(url)
        assert response.status_code == 404, (method, url, response.status_code)
        checked += 1
    assert checked >= 5


def test_post_without_csrf_token_is_refused(app, demo, login):
    values = _acme_objects(demo)
    owner = login("owner@acme.test")
    for rule, method in _routes(app):
        if method == "GET":
            continue
        url = _url(rule, values)
        response = owner.post(url, csrf=False)
        assert response.status_code == 400, (url, response.status_code)
        htmx = owner.post(url, csrf=False, headers={"HX-Request": "true"})
        assert htmx.status_code == 400, (url, htmx.status_code)
