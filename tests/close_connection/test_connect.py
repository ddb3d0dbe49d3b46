"""Connect over real HTTP against the sandbox: success, refusals, and every OAuth failure path."""
import logging
from datetime import timedelta

import sqlalchemy as sa

from tests.helpers.close_connection import PAGE, events, live_connections, query, token_requests
from tests.helpers.web import text_of


def _grants(sandbox):
    return sandbox.control("GET", "/_sandbox/state")["grants"]


def test_connect_stores_details_caches_and_encrypted_tokens(owner_connected, demo, close_sandbox):
    from webapp.core import crypto
    owner, connection = owner_connected
    assert connection.close_org_name == "Acme Sales"
    assert connection.close_user_email == "dana@acme.test"
    assert connection.close_user_name == "Dana Scully"
    assert connection.connected_by_id == demo.users["owner@acme.test"].id
    assert [s["label"] for s in connection.lead_statuses] == ["Potential", "Bad Fit", "Qualified", "Customer"]
    assert {u["email"] for u in connection.close_users} == {
        "dana@acme.test", "rep@acme.test", "mia@acme.test", "admin@acme.test"}
    assert {"email": "dana@acme.test", "name": "Dana Scully"}.items() <= connection.close_users[1].items()
    assert all(u["id"].startswith("user_") for u in connection.close_users)
    # encrypted at rest: the stored value is a Fernet token that decrypts to a live sandbox token
    access = crypto.decrypt(connection.access_token_enc)
    assert access not in connection.access_token_enc
    page = text_of(owner.get(PAGE))
    for text in ("Connected to <strong>Acme Sales</strong> as <strong>dana@acme.test</strong> since",
                 "Dana Scully", "Olivia Owner", "Last successful check", "Check connection now",
                 "Run test sync", "Save settings"):
        assert text in page
    assert connection.close_org_id not in page  # no raw org id on the card
    assert page.index('id="close-summary"') < page.index('id="close-checklist"')  # summary first
    assert '<details class="mb-3" id="close-checklist-box">' in page  # collapsed once connected
    assert [e.kind for e in events(demo.acme.id)] == ["connected"]
    assert [g["live"] for g in _grants(close_sandbox)] == [True]


def test_pkce_and_state_are_sent(app, demo, login, close_sandbox):
    owner = login("owner@acme.test")
    start = owner.post("/integrations/close/connect")
    params = query(start.headers["Location"])
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) >= 43
    assert len(params["state"]) >= 20 and params["client_id"] == "closeline-demo"


def test_missing_permissions_are_explained_and_token_revoked(app, demo, login, connect_as, close_sandbox):
    owner = login("owner@acme.test")
    page = text_of(connect_as(owner, "rep@acme.test"))
    assert "Close was not connected" in page
    assert "Checked rep@acme.test in Acme Sales (role Field Rep)" in page
    assert "Lead Visibility is not set to “All Leads”" in page
    assert "Ask an admin of Acme Sales in Close to set Lead Visibility to “All Leads” for" in page
    assert "or connect with another Close account" in page and "sign out of Close" in page
    assert "manage the organization" not in page and "Settings → Roles" in page
    assert live_connections(demo.acme.id) == []
    assert [g["revoked"] for g in _grants(close_sandbox)] == [True]  # revoked at Close
    (refusal,) = events(demo.acme.id, "connect_refused")
    assert "Lead Visibility: All Leads" in refusal.detail and "Manage Organization" not in refusal.detail
    assert "rep@acme.test in Acme Sales" in refusal.detail
    assert 'data-check="close_permissions" data-ok="no"' in page


def test_plain_user_role_with_all_leads_connects(app, demo, login, connect_as, close_sandbox):
    owner = login("owner@acme.test")
    page = text_of(connect_as(owner, "dana@acme.test", org_name="Acme Support"))  # role `user`
    assert "Connected to the Close organization Acme Support" in page
    assert "Lead Visibility = All Leads: granted." in page
    assert "manage the organization" not in page.lower()
    assert len(live_connections()) == 1


def test_deny_on_consent_screen(app, demo, login, connect_as):
    owner = login("owner@acme.test")
    page = text_of(connect_as(owner, action="deny"))
    assert "You declined on Close's consent screen" in page and "state mismatch" not in page
    assert live_connections() == []
    assert events(demo.acme.id, "connect_refused") == []  # Deny is no refusal
    # Close's decline carries no state: unproven, so it writes no history either
    assert events(demo.acme.id, "connect_denied") == []
    assert 'data-check="close_permissions" data-ok="unknown"' in page


def test_state_mismatch_is_refused(app, demo, login, connect_as, close_sandbox):
    owner = login("owner@acme.test")
    page = text_of(connect_as(owner, tamper=lambda loc: loc.replace("state=", "state=forged")))
    assert "did not match the connect you started (state mismatch)" in page
    assert live_connections() == []
    assert token_requests(close_sandbox) == []  # the code was never exchanged


def test_replayed_callback_is_refused(app, demo, login, connect_as, close_sandbox):
    owner = login("owner@acme.test")
    first = connect_as(owner)
    assert "Connected to the Close organization Acme Sales" in text_of(first)
    replay = text_of(owner.get(first.callback_path, follow_redirects=True))
    assert "already used" in replay
    assert len(live_connections()) == 1
    assert len(token_requests(close_sandbox)) == 1


def test_token_endpoint_errors(app, demo, login, connect_as, close_sandbox):
    owner = login("owner@acme.test")
    page = text_of(connect_as(owner, tamper=lambda loc: loc.replace("code=", "code=x")))
    assert "Close refused to complete the connection." in page and "invalid_grant" not in page
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0, "error_status": 503,
                                                       "paths": ["/oauth2/token/"]})
    page = text_of(connect_as(owner))
    assert "Close could not be reached to complete the connection" in page
    assert live_connections() == []
    assert len(events(demo.acme.id, "connect_refused")) == 2


def test_close_api_failure_during_connect_stores_nothing(app, demo, login, connect_as, close_sandbox):
    owner = login("owner@acme.test")
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0, "error_status": 503, "paths": ["/api/v1/"]})
    page = text_of(connect_as(owner))
    assert "Close could not be reached while checking your account. Nothing was stored" in page
    assert live_connections() == []
    assert [g["revoked"] for g in _grants(close_sandbox)] == [True]


def test_second_connect_while_connected_is_refused(owner_connected, demo, close_sandbox):
    owner, connection = owner_connected
    response = owner.post("/integrations/close/connect", follow_redirects=True)
    assert "already connected" in text_of(response)
    assert len(live_connections()) == 1
    assert events(demo.acme.id)[-1].kind == "connect_refused"


def test_connect_refused_while_subscription_inactive(app, demo, login):
    from webapp.core.extensions import db
    demo.acme.set_subscription("canceled")
    db.session.commit()
    owner = login("owner@acme.test")
    page = text_of(owner.get(PAGE))
    assert "renew it to connect" in page and 'id="close-connect" disabled' in page
    response = owner.post("/integrations/close/connect")
    assert response.status_code == 302 and response.headers["Location"].endswith(PAGE)


def test_no_token_in_database_logs_or_pages(app, demo, login, connect_as, close_sandbox, caplog):
    from webapp.clients.close import tokens
    from webapp.core import crypto
    from webapp.core.extensions import db
    caplog.set_level(logging.DEBUG)
    owner = login("owner@acme.test")
    pages = [text_of(connect_as(owner))]
    (connection,) = live_connections()
    secrets = {crypto.decrypt(connection.access_token_enc), crypto.decrypt(connection.refresh_token_enc)}
    tokens.fresh_access_token(connection.id, min_valid=timedelta(days=1))  # forces a rotation
    connection = live_connections()[0]
    secrets |= {crypto.decrypt(connection.access_token_enc), crypto.decrypt(connection.refresh_token_enc)}
    assert len(secrets) == 4
    pages += [text_of(owner.get(PAGE)), text_of(owner.get(PAGE, headers={"HX-Request": "true"}))]
    dump = []
    for table in db.metadata.sorted_tables:
        for row in db.session.execute(sa.select(table)).all():
            dump.extend(str(value) for value in row)
    haystacks = {"database": "\n".join(dump), "logs": caplog.text, "pages": "\n".join(pages)}
    for where, text in haystacks.items():
        for secret in secrets:
            assert secret not in text, f"a token leaked into the {where}"
