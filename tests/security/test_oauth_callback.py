"""The Close OAuth callback is a GET anyone can make a signed-in admin's browser open: without the
`state` of the connect this browser started (missing, forged, or no connect at all) it changes
nothing — no history entry, and the connect in progress stays pending and can still finish."""
import pytest
import sqlalchemy as sa

PAGE = "/integrations/close/"


def _history():
    from webapp.core.extensions import db
    from webapp.models import ConnectionEvent
    db.session.expire_all()
    return db.session.scalars(sa.select(ConnectionEvent)).all()


def _start_connect(browser):
    from webapp.close_connection.routes import PENDING
    response = browser.post(f"{PAGE}connect")
    assert response.status_code in (302, 303)
    with browser.client.session_transaction() as session:
        return dict(session[PENDING])


@pytest.mark.parametrize("query", [
    "code=stolen", "code=stolen&state=", "code=stolen&state=forged", "error=access_denied",
    "error=access_denied&state=forged", "error=server_error", "", "state=forged",
])
def test_a_callback_without_this_browsers_state_changes_nothing(app, demo, login, close_sandbox, query):
    from webapp.close_connection.routes import PENDING
    owner = login("owner@acme.test")
    pending = _start_connect(owner)
    before = len(_history())
    response = owner.get(f"{PAGE}callback?{query}")
    assert response.status_code in (302, 303)
    assert len(_history()) == before
    with owner.client.session_transaction() as session:
        assert session.get(PENDING) == pending   # the connect in progress was not discarded


@pytest.mark.parametrize("query", ["code=stolen&state=forged", "error=access_denied", "code=x&state=y"])
def test_a_callback_with_no_connect_started_writes_no_history(app, demo, login, close_sandbox, query):
    owner = login("owner@acme.test")
    before = len(_history())
    assert owner.get(f"{PAGE}callback?{query}").status_code in (302, 303)
    assert len(_history()) == before


def test_a_decline_with_the_right_state_is_still_recorded(app, demo, login, close_sandbox):
    from webapp.close_connection.routes import PENDING
    owner = login("owner@acme.test")
    pending = _start_connect(owner)
    owner.get(f"{PAGE}callback?error=access_denied&state={pending['state']}")
    assert [e.kind for e in _history()][-1:] == ["connect_denied"]
    with owner.client.session_transaction() as session:
        assert PENDING not in session
