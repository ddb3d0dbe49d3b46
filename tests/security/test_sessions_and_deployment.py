"""Sessions, sign-in limits, security headers, reverse proxies and production configuration."""
import re

import pytest
import sqlalchemy as sa

from tests.helpers.web import PASSWORD
from webapp.core.extensions import db
from webapp.models import User


def _session_cookie(client):
    cookie = client.get_cookie("session")
    return cookie.value if cookie else None


def test_logout_voids_every_copy_of_the_session_cookie(app, demo, login):
    owner = login("owner@acme.test")
    stolen = _session_cookie(owner.client)
    assert owner.get("/dashboard").status_code == 200
    owner.post("/auth/logout")
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/dashboard")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    # signing in again works and gives a working session
    assert login("owner@acme.test").get("/dashboard").status_code == 200


def test_password_change_voids_existing_sessions(app, demo, login):
    member = login("member@acme.test")
    assert member.get("/dashboard").status_code == 200
    user = db.session.scalar(sa.select(User).where(User.email == "member@acme.test"))
    user.set_password("a-brand-new-password")
    db.session.commit()
    assert member.get("/dashboard").status_code == 302
    assert login("member@acme.test", "a-brand-new-password").get("/dashboard").status_code == 200


def test_unknown_email_costs_a_password_hash_too(app, demo, browser, monkeypatch):
    from webapp.auth import routes
    checked = []
    real = routes.check_password_hash
    monkeypatch.setattr(routes, "check_password_hash", lambda h, p: checked.append(h) or real(h, p))
    token = browser.csrf()
    page = browser.client.post("/auth/login", data={"email": "nobody@acme.test", "password": "guess-guess",
                                                    "csrf_token": token})
    assert page.status_code == 200 and b"Wrong email or password." in page.data
    dummy = routes._dummy_hash()
    assert checked == [dummy]
    assert dummy.split("$")[0] == db.session.scalar(
        sa.select(User.password_hash).limit(1)).split("$")[0]   # the same algorithm and cost


def _attempt(client, email, password, address=None, proto=None):
    headers = {}
    if address:
        headers["X-Forwarded-For"] = address
    if proto:
        headers["X-Forwarded-Proto"] = proto
    page = client.get("/auth/login", headers=headers).get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    return client.post("/auth/login", data={"email": email, "password": password, "csrf_token": token},
                       headers=headers)


@pytest.fixture
def behind_proxy(app):
    """The app as `TRUSTED_PROXIES=1` configures it (create_app's own wiring)."""
    from webapp import _trust_proxies
    app.config["TRUSTED_PROXIES"] = 1
    _trust_proxies(app)
    return app


def test_login_limit_counts_failures_per_account_and_client(behind_proxy, demo):
    app = behind_proxy
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    for _ in range(5):   # a shared office address: successes never count
        assert _attempt(app.test_client(), "owner@globex.test", PASSWORD, address="198.51.100.7").status_code == 302
    attacker = app.test_client()
    for _ in range(3):
        assert _attempt(attacker, "admin@acme.test", "wrong-pass", address="203.0.113.9").status_code == 200
    assert _attempt(attacker, "admin@acme.test", "wrong-pass", address="203.0.113.9").status_code == 429
    assert _attempt(attacker, "admin@acme.test", PASSWORD, address="203.0.113.9").status_code == 429
    # the same account from the real user's address, and other accounts, are not locked out
    assert _attempt(app.test_client(), "admin@acme.test", PASSWORD, address="198.51.100.7").status_code == 302
    assert _attempt(app.test_client(), "member@acme.test", PASSWORD, address="203.0.113.9").status_code == 302


def test_forwarded_headers_are_ignored_without_trusted_proxies(app, demo):
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    client = app.test_client()
    for address in ("192.0.2.1", "192.0.2.2"):
        assert _attempt(client, "owner@acme.test", "nope-nope", address=address).status_code == 200
    # rotating X-Forwarded-For does not escape the limit when no proxy is trusted
    assert _attempt(client, "owner@acme.test", "nope-nope", address="192.0.2.3").status_code == 429
    assert "Strict-Transport-Security" not in client.get("/auth/login",
                                                         headers={"X-Forwarded-Proto": "https"}).headers


def test_hsts_when_served_over_https_behind_the_proxy(behind_proxy):
    client = behind_proxy.test_client()
    secure = client.get("/auth/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.5"})
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in client.get("/auth/login").headers


def test_invite_link_uses_public_url_not_the_host_header(app, demo, login):
    app.config["PUBLIC_URL"] = "https://closeline.example.com/"
    owner = login("owner@acme.test")
    page = owner.post("/team/invitations", data={"email": "n@acme.test", "role": "member"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "https://closeline.example.com/auth/invite/" in text
    assert "localhost/auth/invite" not in text   # the request's Host header is not used
    assert page.headers["Cache-Control"] == "no-store"
    # the link is not in the session cookie either
    session = app.session_interface.get_signing_serializer(app).loads(_session_cookie(owner.client))
    assert "invite" not in repr(session)


def test_new_api_key_page_is_not_cacheable(app, demo, login):
    """The key is revealed once, on a page that browsers and proxies must not keep."""
    admin = login("admin@acme.test")
    secret = re.compile(r"cl_[\w-]{20,}")
    created = admin.post("/settings/api-keys", data={"name": "bridge"})
    assert created.status_code == 303 and not secret.search(created.get_data(as_text=True))
    page = admin.get("/settings/api-keys")
    assert secret.search(page.get_data(as_text=True)) and page.headers["Cache-Control"] == "no-store"
    assert not secret.search(admin.get("/settings/api-keys").get_data(as_text=True))


def test_pkce_verifier_is_kept_server_side(app, demo, login, close_sandbox):
    owner = login("owner@acme.test")
    response = owner.post("/integrations/close/connect")
    assert response.status_code == 302
    session = app.session_interface.get_signing_serializer(app).loads(_session_cookie(owner.client))
    pending = next(v for v in session.values() if isinstance(v, dict) and "state" in v)
    assert "verifier" not in pending and len(pending["verifier_ref"]) >= 32
    from webapp.core import server_secrets
    verifier = server_secrets.take(pending["verifier_ref"])
    assert isinstance(verifier, str) and len(verifier) >= 43
    assert verifier not in repr(session)


# -- production configuration --------------------------------------------------------------------

GOOD = {
    "SECRET_KEY": "f3b1c9a7e5d2" * 4,
    "TOKEN_ENCRYPTION_KEY": "tjo9QqgU6gW9ik2sBWk1jh3O2Wc6aUu5mhqNLWz0v3s=",
    "PUBLIC_URL": "https://closeline.example.com",
    "SESSION_COOKIE_SECURE": True,
    "CLOSE_API_URL": "https://api.close.com/api/v1",
    "CLOSE_AUTHORIZE_URL": "https://app.close.com/oauth2/authorize/",
    "CLOSE_TOKEN_URL": "https://api.close.com/oauth2/token/",
    "CLOSE_REVOKE_URL": "https://api.close.com/oauth2/revoke/",
    "CLOSE_APP_URL": "https://app.close.com",
    "CLOSE_CLIENT_ID": "oa2client_real",
    "CLOSE_CLIENT_SECRET": "real-secret",
    "CLOSE_REDIRECT_URI": "https://closeline.example.com/integrations/close/callback",
}


@pytest.mark.parametrize("override,says", [
    ({"SECRET_KEY": "a"}, "SECRET_KEY is shorter than 32 bytes"),
    ({"TOKEN_ENCRYPTION_KEY": "not-a-fernet-key"}, "TOKEN_ENCRYPTION_KEY is not a valid Fernet key"),
    ({"CLOSE_API_URL": "http://127.0.0.1:5050/api/v1"}, "CLOSE_API_URL still points at the local Close sandbox"),
    ({"CLOSE_TOKEN_URL": "http://localhost:5050/oauth2/token/"}, "CLOSE_TOKEN_URL still points"),
    ({"CLOSE_CLIENT_SECRET": "closeline-demo-secret"}, "CLOSE_CLIENT_ID / CLOSE_CLIENT_SECRET are the sandbox"),
])
def test_production_refuses_to_start_with_unsafe_settings(database_url, redis_url, override, says):
    from webapp import create_app
    with pytest.raises(RuntimeError) as info:
        create_app("production", dict(GOOD, SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=redis_url, **override))
    message = str(info.value)
    assert says in message and "set" in message
    assert all(len(line) < 300 for line in message.splitlines())


def test_production_starts_with_real_settings_and_refuses_seed_demo(database_url, redis_url):
    from webapp import create_app
    app = create_app("production", dict(GOOD, SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=redis_url))
    with app.app_context():
        db.create_all()
        users = db.session.scalar(sa.select(sa.func.count()).select_from(User))
        result = app.test_cli_runner().invoke(args=["seed-demo"])
        assert result.exit_code != 0 and "refused in production" in result.output
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == users


def test_development_refuses_an_invalid_fernet_key_at_start(database_url, redis_url):
    from webapp import create_app
    with pytest.raises(RuntimeError, match="not a valid Fernet key"):
        create_app("development", {"SECRET_KEY": "dev", "TOKEN_ENCRYPTION_KEY": "abc",
                                   "SQLALCHEMY_DATABASE_URI": database_url, "REDIS_URL": redis_url})


def test_session_cookie_is_httponly_and_lax(demo, browser):
    token = browser.csrf()
    response = browser.client.post("/auth/login", data={"email": "owner@acme.test", "password": "closeline-demo",
                                                        "csrf_token": token})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_attempts_are_rate_limited(app, demo, browser):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    codes = []
    for _ in range(5):
        codes.append(browser.client.post("/auth/login", data={
            "email": "owner@acme.test", "password": "wrong", "csrf_token": browser.csrf()}).status_code)
    assert codes[:3] == [200, 200, 200] and codes[-1] == 429


def test_security_headers_and_csp_without_inline_script(demo, login):
    owner = login("owner@acme.test")
    response = owner.get("/team/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert not re.search(r"<script>(?!</script>)", response.get_data(as_text=True)), "inline script found"
