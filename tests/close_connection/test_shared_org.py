"""The same Close organization in two workspaces: asked before anything is stored (connect anyway
or cancel, which revokes the fresh grant), then said on both workspaces' cards and histories."""
from tests.helpers.close_connection import PAGE, events, live_connections
from tests.helpers.web import text_of


def _grants(sandbox):
    return [g["live"] for g in sandbox.control("GET", "/_sandbox/state")["grants"]]


def test_second_workspace_is_warned_before_the_connect_completes(owner_connected, demo, login, connect_as,
                                                                 close_sandbox):
    from webapp.core.redis_conn import get_redis
    acme_owner, acme_connection = owner_connected
    globex = login("owner@globex.test")
    asked = connect_as(globex)
    page = text_of(asked)
    assert asked.request.path == "/integrations/close/shared"
    assert "Acme Sales is already connected to another workspace of this Closeline." in page
    assert "Nothing is stored yet." in page and "share Acme Sales's Close rate limit" in page
    assert "Acme Inc" not in page  # the other workspace is not named
    assert live_connections(demo.workspaces["Globex"].id) == [] and _grants(close_sandbox) == [True, True]
    # The waiting token is encrypted on the server, never in a cookie or readable in Redis.
    assert all(b"access_token" not in (get_redis().get(k) or b"") for k in get_redis().keys("closeline:secret:*"))

    cancelled = globex.post("/integrations/close/shared", data={"answer": "cancel"}, follow_redirects=True)
    assert "Not connected: Acme Sales stays with the other workspace only." in text_of(cancelled)
    assert live_connections(demo.workspaces["Globex"].id) == [] and _grants(close_sandbox) == [True, False]
    (entry,) = events(demo.workspaces["Globex"].id, "connect_cancelled")
    assert "already connected to another workspace" in entry.detail
    # Replaying the answer finds nothing to complete.
    again = globex.post("/integrations/close/shared", data={"answer": "connect"}, follow_redirects=True)
    assert "No connect is waiting for an answer" in text_of(again)
    assert live_connections(demo.workspaces["Globex"].id) == []

    connect_as(globex)
    done = globex.post("/integrations/close/shared", data={"answer": "connect"}, follow_redirects=True)
    assert "Connected to the Close organization Acme Sales." in text_of(done)
    assert len(live_connections(demo.workspaces["Globex"].id)) == 1
    for browser, workspace in ((globex, "Globex"), (acme_owner, "Acme Inc")):
        card = text_of(browser.get(PAGE))
        assert 'id="close-shared"' in card
        assert "Acme Sales is also connected to another workspace of this Closeline." in card
        assert events(demo.workspaces[workspace].id, "shared_org"), workspace
    assert len(live_connections(demo.acme.id)) == 1 and live_connections(demo.acme.id)[0].id == acme_connection.id


def test_an_organization_of_no_other_workspace_connects_without_asking(app, demo, login, connect_as):
    response = connect_as(login("owner@globex.test"))
    assert "Connected to the Close organization Acme Sales." in text_of(response)
    assert 'id="close-shared"' not in text_of(response)


def test_the_answer_page_belongs_to_the_person_who_connected(owner_connected, demo, login, connect_as):
    from webapp.core.extensions import db
    from webapp.models import Membership, User
    connect_as(login("owner@globex.test"))
    user = User(email="second@globex.test", name="Second Admin")
    user.set_password("closeline-demo")
    db.session.add_all([user, Membership(workspace=demo.workspaces["Globex"], user=user, role="admin")])
    db.session.commit()
    other = login("second@globex.test")  # another admin of Globex has no connect waiting
    assert "No connect is waiting" in text_of(other.get("/integrations/close/shared", follow_redirects=True))
    other.post("/integrations/close/shared", data={"answer": "connect"})
    assert live_connections(demo.workspaces["Globex"].id) == []
