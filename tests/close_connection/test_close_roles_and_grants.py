"""Connecting to Close as it really behaves, over real HTTP with the strict sandbox: role lookups, declines,
token refresh races, dead grants and the send-to-inbox setting."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.helpers.close_connection import events, live_connections
from tests.helpers.web import text_of


def _api_calls(sandbox):
    return [(e["method"], e["path"], e["status"]) for e in sandbox.control("GET", "/_sandbox/requests")["data"]
            if e["path"].startswith("/api/v1/")]


def _validate(connection_id):
    from webapp.close_connection.validation import validate
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
    from webapp.clients.close import checks
    sales = close_sandbox.control("GET", "/_sandbox/state")["organizations"][0]["id"]
    close_sandbox.control("PUT", "/_sandbox/roles/admin", {"organization_id": sales,
                                                           "remove": ["manage_organization"]})
    owner = login("owner@acme.test")
    page = text_of(connect_as(owner, "dana@acme.test"))
    assert "Connected to the Close organization Acme Sales" in page
    assert "The Close role has Lead Visibility = All Leads" in page and "manage" not in page.lower()
    (connection,) = live_connections(demo.acme.id)
    assert _validate(connection.id) == "ok" and live_connections()[0].permission_warning is None
    assert checks.REQUIRED == ("view_all_leads",)


# -- finding 6: a decline without state -------------------------------------------------------------

def test_decline_without_state_is_explained_and_stores_nothing(app, demo, login, connect_as, close_sandbox):
    from webapp.close_connection.routes import PENDING
    owner = login("owner@acme.test")
    response = connect_as(owner, action="deny")
    assert "state=" not in response.callback_path and "error=access_denied" in response.callback_path
    page = text_of(response)
    assert "You declined on Close's consent screen" in page and "state mismatch" not in page
    assert live_connections() == [] and close_sandbox.control("GET", "/_sandbox/state")["grants"] == []
    # Without a state the callback is not proven to be Close's answer: it changes nothing (no history;
    # the connect in progress stays pending, a callback with its state can still finish or decline it).
    assert events(demo.acme.id, "connect_denied") == []
    with owner.client.session_transaction() as session:
        assert PENDING in session


# -- finding 4: token refresh edge cases -----------------------------------------------------------

def _grants(sandbox):
    return sandbox.control("GET", "/_sandbox/state")["grants"]


def test_refresh_lock_outlives_the_slowest_token_call(app):
    from webapp.clients.close import oauth, tokens
    app.config["CLOSE_TIMEOUT"] = 20.0
    assert tokens.lock_ttl() > 2 * oauth.token_call_timeout()  # connect + read timeouts of one call


def test_invalid_grant_after_a_concurrent_rotation_is_not_a_revocation(owner_connected, app, close_sandbox):
    from webapp.clients.close import tokens
    from webapp.core import crypto
    _, connection = owner_connected
    stale = tokens.read_row(connection.id)  # what a slow worker read before another one rotated
    rotated = tokens.fresh_access_token(connection.id, min_valid=timedelta(days=1))
    token, version = tokens.refresh_locked(stale)  # Close answers invalid_grant to the rotated token
    assert token == rotated and version == stale["token_version"] + 1
    (row,) = live_connections()
    assert crypto.decrypt(row.access_token_enc) == rotated
    assert [g["live"] for g in _grants(close_sandbox)] == [True]


def test_a_lost_store_race_never_revokes_the_grant(owner_connected, app, close_sandbox):
    from webapp.clients.close import tokens
    from webapp.core.extensions import db
    from webapp.models import CloseConnection
    _, connection = owner_connected
    row = tokens.read_row(connection.id)
    db.session.execute(sa.update(CloseConnection).where(CloseConnection.id == connection.id)
                       .values(token_version=CloseConnection.token_version + 1))  # another writer won
    db.session.commit()
    tokens.refresh_locked(row)
    assert [g["revoked"] for g in _grants(close_sandbox)] == [False]
    assert len(live_connections()) == 1


def test_invalid_client_is_shown_to_the_operator_and_keeps_the_connection(owner_connected, app, close_sandbox):
    from webapp.core.extensions import db
    from webapp.models import CloseConnection, utcnow
    owner, connection = owner_connected
    app.config["CLOSE_CLIENT_SECRET"] = "wrong-secret"
    db.session.execute(sa.update(CloseConnection).values(token_expires_at=utcnow()))
    db.session.commit()
    assert _validate(connection.id) == "unreachable"
    (row,) = live_connections()
    assert "CLOSE_CLIENT_SECRET" in row.last_error and "invalid_client" in row.last_error
    assert "CLOSE_CLIENT_SECRET" in text_of(owner.get("/integrations/close/"))
    assert "refresh_failed" in [e.kind for e in events(row.workspace_id)]


# -- finding 5: honest disconnect reasons ------------------------------------------------------------

@pytest.mark.parametrize("cause", ["org_deleted", "member_deactivated", "revoked_in_close"])
def test_a_dead_grant_gets_one_honest_reason_whatever_the_cause(cause, owner_connected, app, close_sandbox):
    from webapp.core.extensions import db
    from webapp.models import CloseConnection, utcnow
    owner, connection = owner_connected
    org = connection.close_org_id
    {"org_deleted": lambda: close_sandbox.control("DELETE", f"/_sandbox/organizations/{org}"),
     "member_deactivated": lambda: close_sandbox.control(
         "DELETE", f"/_sandbox/organizations/{org}/memberships/dana@acme.test"),
     "revoked_in_close": lambda: close_sandbox.control("POST", "/_sandbox/grants/revoke", {})}[cause]()
    db.session.execute(sa.update(CloseConnection).values(token_expires_at=utcnow()))
    db.session.commit()
    assert _validate(connection.id) == "disconnected:access_revoked"
    page = text_of(owner.get("/integrations/close/"))
    # Close says the same for all three, so the card lists all three, with how to tell and what to do.
    assert "Close gives the same answer for three different causes and does not say which one it was" in page
    for cause in ("Access was revoked in Close.", "dana@acme.test was removed from Acme Sales.",
                  "The organization Acme Sales was deleted in Close."):
        assert cause in page
    assert page.count("How to tell:") == 3 and page.count("What to do:") == 3
    assert "/settings/accounts-and-apps/authorized-apps/" in page


# -- finding 9: the send_to_inbox setting -----------------------------------------------------------

def test_send_to_inbox_setting_is_off_by_default_and_audited(owner_connected, app, demo):
    owner, connection = owner_connected
    assert connection.send_to_inbox is False
    page = text_of(owner.get("/integrations/close/"))
    assert "Notify in Close's Inbox for incoming messages" in page
    owner.post("/integrations/close/settings", data={"auto_create_lead": "y", "sync_attachments": "y",
                                                     "catch_up_held": "y", "send_to_inbox": "y",
                                                     "new_lead_status_id": ""})
    (row,) = live_connections()
    assert row.send_to_inbox is True
    (change,) = events(demo.acme.id, "settings_changed")
    assert "Notify in Close's Inbox for incoming messages: off → on" in change.detail
