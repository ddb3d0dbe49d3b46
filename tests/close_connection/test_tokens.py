"""Token refresh through the one door: serialized, rotated atomically, failures classified."""
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.helpers.close_connection import PAGE, events, live_connections, token_requests
from tests.helpers.web import text_of


def _expire_locally(connection_id):
    from webapp.core.extensions import db
    from webapp.models import CloseConnection, utcnow
    db.session.execute(sa.update(CloseConnection).where(CloseConnection.id == connection_id)
                       .values(token_expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()


def _log_index(sandbox):
    return sandbox.control("GET", "/_sandbox/requests?since=999999999")["next_index"]


def _notifications():
    from webapp.core.extensions import db
    from webapp.models import Notification, User
    return db.session.execute(sa.select(User.email, Notification.text).join(User, User.id == Notification.user_id)
                              ).all()


def test_crypto_round_trip(app):
    from webapp.core import crypto
    sealed = crypto.encrypt("secret-token")
    assert sealed != "secret-token" and "secret" not in sealed
    assert crypto.decrypt(sealed) == "secret-token"


def test_16_concurrent_callers_make_exactly_one_token_request(owner_connected, app, close_sandbox):
    from webapp.clients.close import tokens
    from webapp.clients.close.client import CloseClient
    from webapp.models import utcnow
    _, connection = owner_connected
    connection_id = connection.id  # ORM rows belong to this thread's session: threads get the id only
    close_sandbox.control("POST", "/_sandbox/tokens/expire", {})
    _expire_locally(connection_id)
    since = _log_index(close_sandbox)
    barrier = threading.Barrier(16)
    results, errors = [], []

    def caller():
        with app.app_context():
            barrier.wait()
            try:
                results.append(tokens.fresh_access_token(connection_id))
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=caller) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and len(results) == 16
    assert len(set(results)) == 1
    assert len(token_requests(close_sandbox, since)) == 1
    (row,) = live_connections()
    assert row.token_version == 1 and row.token_expires_at > utcnow() + timedelta(minutes=50)
    assert CloseClient(app.config["CLOSE_API_URL"], access_token=results[0]).me()["email"] == "dana@acme.test"


def test_token_expired_at_close_is_refreshed_once_on_401(owner_connected, app, close_sandbox):
    from webapp.clients.close import tokens
    _, connection = owner_connected
    close_sandbox.control("POST", "/_sandbox/tokens/expire", {})  # Close's clock ran ahead of ours
    since = _log_index(close_sandbox)
    assert tokens.client_for(connection).me()["email"] == "dana@acme.test"
    assert len(token_requests(close_sandbox, since)) == 1
    assert live_connections()[0].token_version == 1


def test_refresh_invalid_grant_auto_disconnects(owner_connected, app, demo, login, close_sandbox):
    from webapp.clients.close import tokens
    owner, connection = owner_connected
    close_sandbox.control("POST", "/_sandbox/grants/revoke", {"user_email": "dana@acme.test"})
    _expire_locally(connection.id)
    with pytest.raises(tokens.ConnectionLost) as lost:
        tokens.fresh_access_token(connection.id)
    assert lost.value.reason == "access_revoked"
    assert live_connections() == []
    assert events(demo.acme.id)[-1].kind == "auto_disconnected"
    assert sorted(email for email, _ in _notifications()) == ["admin@acme.test", "owner@acme.test"]
    page = text_of(owner.get(PAGE))
    assert "auto-disconnected" in page and "Close no longer accepts the connection" in page
    assert 'id="notification-badge">1<' in page
    # every later caller is told at once, without a token request
    since = _log_index(close_sandbox)
    with pytest.raises(tokens.ConnectionLost):
        tokens.client_for(connection)
    assert token_requests(close_sandbox, since) == []


def test_refresh_failure_keeps_connection_and_notifies_once(owner_connected, app, demo, close_sandbox):
    from webapp.clients.close import tokens
    from webapp.clients.close.client import CloseTransient
    _, connection = owner_connected
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0, "error_statuses": [500, 503],
                                                       "paths": ["/oauth2/token/"]})
    _expire_locally(connection.id)
    for _ in range(2):
        with pytest.raises(CloseTransient):
            tokens.fresh_access_token(connection.id)
    (row,) = live_connections()
    assert row.unreachable_since is not None and "token endpoint" in row.last_error
    assert len(events(demo.acme.id, "refresh_failed")) == 2
    assert len(_notifications()) == 2  # owner + admin, once per failing episode
    close_sandbox.control("DELETE", "/_sandbox/faults")
    tokens.fresh_access_token(connection.id)
    (row,) = live_connections()
    assert row.unreachable_since is None and row.token_version == 1


def test_401_with_freshly_refreshed_token_means_access_revoked(app, demo, requests_mock):
    from webapp.clients.close import tokens
    from webapp.core.extensions import db
    from webapp.models import CloseConnection
    row = CloseConnection(workspace_id=demo.acme.id, close_org_id="orga_x", close_user_id="user_x",
                          **tokens.token_columns({"access_token": "old-access", "refresh_token": "old-refresh"}))
    db.session.add(row)
    db.session.commit()
    requests_mock.post(app.config["CLOSE_TOKEN_URL"], json={
        "access_token": "new-access", "refresh_token": "new-refresh", "expires_in": 3600})
    requests_mock.post(app.config["CLOSE_REVOKE_URL"], text="")
    requests_mock.get(app.config["CLOSE_API_URL"] + "/me/", status_code=401, json={"error": "nope"})
    with pytest.raises(tokens.ConnectionLost) as lost:
        tokens.client_for(row, rate_limited=False).me()
    assert lost.value.reason == "access_revoked"
    db.session.refresh(row)
    assert row.disconnect_reason == "access_revoked" and row.access_token_enc is None
    token_calls = [r for r in requests_mock.request_history if r.url == app.config["CLOSE_TOKEN_URL"]]
    assert len(token_calls) == 1


def test_lost_compare_and_set_keeps_the_row(owner_connected, app, requests_mock):
    """If the lock expired and another process rotated first, the row wins and our pair is revoked."""
    from webapp.clients.close import tokens
    from webapp.core import crypto
    _, connection = owner_connected
    stale = dict(tokens.read_row(connection.id))
    stale["token_version"] = 7  # not the stored version
    requests_mock.post(app.config["CLOSE_REVOKE_URL"], text="")
    token = tokens.store_rotated(stale, {"access_token": "ours", "refresh_token": "ours-refresh", "expires_in": 60})
    assert token == crypto.decrypt(connection.access_token_enc)
    assert requests_mock.call_count == 0  # never revoked: that would end the grant for every worker
