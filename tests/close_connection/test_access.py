"""Who may see and do what on the Close CRM page (roles, workspaces, CSRF, HTMX fragments)."""
from tests.helpers.close_connection import PAGE, live_connections
from tests.helpers.web import text_of

ACTIONS = ["connect", "settings", "test-sync", "catch-up", "disconnect"]
BUTTONS = ['id="close-connect"', 'id="close-test-sync"', 'id="close-disconnect"', 'id="close-settings"']


def test_anonymous_is_sent_to_sign_in(app):
    client = app.test_client()
    response = client.get(PAGE)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    htmx = client.get(PAGE, headers={"HX-Request": "true"})
    assert htmx.status_code == 401 and "/auth/login" in htmx.headers["HX-Redirect"]
    for action in ACTIONS:
        assert client.post(f"{PAGE}{action}", headers={"HX-Request": "true"}).status_code in (400, 401)


def test_full_page_or_card_fragment(app, demo, login):
    owner = login("owner@acme.test")
    page = owner.get(PAGE)
    fragment = owner.get(PAGE, headers={"HX-Request": "true"})
    assert "HX-Request" in page.headers["Vary"] and "HX-Request" in fragment.headers["Vary"]
    assert "<html" in page.get_data(as_text=True) and 'id="close-history"' in page.get_data(as_text=True)
    body = fragment.get_data(as_text=True)
    assert "<html" not in body and 'id="close-card"' in body
    assert 'data-check="close_account" data-ok="unknown"' in body and "Checked when you connect." in body


def test_member_sees_card_read_only(owner_connected, login):
    member = login("member@acme.test")
    page = text_of(member.get(PAGE))
    assert "Acme Sales" in page and "Changes are made by Olivia Owner (owner), Adam Admin (admin)" in page
    # no red ✗ for a member on a healthy connection: read-only, and who can change it
    assert 'data-check="workspace_role" data-ok="info"' in page and 'data-ok="no"' not in page
    assert 'data-attention="no"' in page
    for button in BUTTONS:
        assert button not in page
    assert 'id="close-history"' not in page
    for action in ACTIONS:
        assert member.post(f"{PAGE}{action}", data={"confirm": "yes"}).status_code == 403
        assert member.post(f"{PAGE}{action}", htmx=True).status_code == 403
    assert member.get(f"{PAGE}history", headers={"HX-Request": "true"}).status_code == 403
    assert member.get(f"{PAGE}disconnect").status_code == 403
    assert member.get(f"{PAGE}callback?code=x&state=y").status_code == 403
    assert len(live_connections()) == 1


def test_admin_may_manage(owner_connected, login):
    admin = login("admin@acme.test")
    page = text_of(admin.get(PAGE))
    assert 'id="close-test-sync"' in page and 'id="close-disconnect"' in page


def test_other_workspace_cannot_see_or_touch_it(owner_connected, demo, login):
    owner, connection = owner_connected
    globex = login("owner@globex.test")
    page = text_of(globex.get(PAGE))
    assert "Acme Sales" not in page and "dana@acme.test" not in page and 'data-state="not_connected"' in page
    assert "not connected" in text_of(globex.post(f"{PAGE}disconnect", data={"confirm": "yes"}, htmx=True))
    globex.post(f"{PAGE}settings", data={"sync_attachments": ""}, htmx=True)
    globex.post(f"{PAGE}test-sync", htmx=True)
    assert "Acme" not in globex.get(f"{PAGE}history", headers={"HX-Request": "true"}).get_data(as_text=True)
    (still,) = live_connections()
    assert still.id == connection.id and still.sync_attachments is True


def test_post_without_csrf_is_refused(owner_connected):
    owner, _ = owner_connected
    for action in ACTIONS:
        assert owner.post(f"{PAGE}{action}", data={"confirm": "yes"}, csrf=False).status_code == 400
        assert owner.post(f"{PAGE}{action}", data={"confirm": "yes"}, csrf=False, htmx=True).status_code == 400
    assert len(live_connections()) == 1
