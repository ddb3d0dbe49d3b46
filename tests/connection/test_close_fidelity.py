"""Closeline against Close as it really behaves (issue 10), over real HTTP with the strict sandbox."""
from tests.connection.conftest import events, live_connections, text_of


def _api_calls(sandbox):
    return [(e["method"], e["path"], e["status"]) for e in sandbox.control("GET", "/_sandbox/requests")["data"]
            if e["path"].startswith("/api/v1/")]


def _validate(connection_id):
    from webapp.integrations.close.validation import validate
    return validate(connection_id)


# -- finding 1: roles through the list, permissions_granted as fallback -----------------------------

def test_builtin_role_is_looked_up_in_the_role_list(app, demo, login, connect_as, close_sandbox):
    owner = login("owner@acme.test")
    page = text_of(connect_as(owner, "dana@acme.test"))  # dana is `admin`: GET /role/admin/ is 404 here
    assert "Connected to the Close organization Acme Sales" in page
    calls = _api_calls(close_sandbox)
    assert ("GET", "/api/v1/role/", 200) in calls
    assert not [c for c in calls if c[1].startswith("/api/v1/role/") and c[1] != "/api/v1/role/"]


def test_refused_role_list_falls_back_to_permissions_granted(app, demo, login, connect_as, close_sandbox):
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0, "error_status": 403, "paths": ["/role/"]})
    owner = login("owner@acme.test")
    assert "Connected to the Close organization" in text_of(connect_as(owner, "dana@acme.test"))
    (connection,) = live_connections(demo.acme.id)
    # a 4xx on the role list is not "Close unreachable": validation still succeeds
    assert _validate(connection.id) == "ok"
    (row,) = live_connections()
    assert row.unreachable_since is None and row.permission_warning is None
    close_sandbox.control("DELETE", "/_sandbox/faults")


# -- finding 2: only Lead Visibility = All Leads is required -----------------------------------------

def test_super_user_without_manage_organization_connects_and_stays_valid(app, demo, login, connect_as,
                                                                        close_sandbox):
    from webapp.integrations.close import checks
    sales = close_sandbox.control("GET", "/_sandbox/state")["organizations"][0]["id"]
    close_sandbox.control("PUT", "/_sandbox/roles/admin", {"organization_id": sales,
                                                           "remove": ["manage_organization"]})
    owner = login("owner@acme.test")
    page = text_of(connect_as(owner, "dana@acme.test"))
    assert "Connected to the Close organization Acme Sales" in page
    assert "Your Close role has Lead Visibility = All Leads" in page and "manage" not in page.lower()
    (connection,) = live_connections(demo.acme.id)
    assert _validate(connection.id) == "ok" and live_connections()[0].permission_warning is None
    assert checks.REQUIRED == ("view_all_leads",)


# -- finding 6: a decline without state -------------------------------------------------------------

def test_decline_without_state_is_explained_and_stores_nothing(app, demo, login, connect_as, close_sandbox):
    from webapp.integrations.close.routes import PENDING
    owner = login("owner@acme.test")
    response = connect_as(owner, action="deny")
    assert "state=" not in response.callback_path and "error=access_denied" in response.callback_path
    page = text_of(response)
    assert "You declined on Close's consent screen" in page and "state mismatch" not in page
    assert live_connections() == [] and close_sandbox.control("GET", "/_sandbox/state")["grants"] == []
    (refusal,) = events(demo.acme.id, "connect_refused")
    assert "declined" in refusal.detail
    with owner.client.session_transaction() as session:
        assert PENDING not in session  # nothing kept for a later replay
