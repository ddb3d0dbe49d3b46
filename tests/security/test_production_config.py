"""Production fails closed: each unsafe setting stops the start with one line saying what to set."""
import pytest

from webapp.core.deployment import problems

GOOD = {
    "SECRET_KEY": "f3b1c9a7e5d2" * 4,
    "TOKEN_ENCRYPTION_KEY": "tjo9QqgU6gW9ik2sBWk1jh3O2Wc6aUu5mhqNLWz0v3s=",
    "CLOSE_API_URL": "https://api.close.com/api/v1",
    "CLOSE_AUTHORIZE_URL": "https://app.close.com/oauth2/authorize/",
    "CLOSE_TOKEN_URL": "https://api.close.com/oauth2/token/",
    "CLOSE_REVOKE_URL": "https://api.close.com/oauth2/revoke/",
    "CLOSE_APP_URL": "https://app.close.com",
    "CLOSE_CLIENT_ID": "oa2client_real",
    "CLOSE_CLIENT_SECRET": "real-secret",
    "CLOSE_REDIRECT_URI": "https://closeline.example.com/integrations/close/callback",
    "PUBLIC_URL": "https://closeline.example.com",
    "SESSION_COOKIE_SECURE": True,
    "WHATSAPP_APP_SECRET": "0123456789abcdef0123",
    "CLOSE_API_KEY": "",
}


def test_the_good_settings_pass():
    assert problems(GOOD) == []


@pytest.mark.parametrize("override,says", [
    ({"TOKEN_ENCRYPTION_KEY": "l5Ohc7e6B9G0N8x0q3lJ2hS9iTqY4c2sVqf7mFZt0ZQ="}, "TOKEN_ENCRYPTION_KEY is the tests' public key"),
    ({"CLOSE_API_URL": "http://127.1:5050/api/v1"}, "CLOSE_API_URL still points at the local Close sandbox"),
    ({"CLOSE_API_URL": "https://2130706433/api/v1"}, "CLOSE_API_URL still points"),
    ({"CLOSE_TOKEN_URL": "https://[::1]/oauth2/token/"}, "CLOSE_TOKEN_URL still points"),
    ({"CLOSE_REVOKE_URL": "https://[::ffff:127.0.0.1]/oauth2/revoke/"}, "CLOSE_REVOKE_URL still points"),
    ({"CLOSE_APP_URL": "https://localhost."}, "CLOSE_APP_URL still points"),
    ({"CLOSE_AUTHORIZE_URL": "https://0x7f.1/oauth2/authorize/"}, "CLOSE_AUTHORIZE_URL still points"),
    ({"CLOSE_API_URL": "http://api.close.com/api/v1"}, "CLOSE_API_URL is not https"),
    ({"CLOSE_API_KEY": "api_123"}, "CLOSE_API_KEY is set"),
    ({"PUBLIC_URL": "http://127.0.0.1:5000"}, "PUBLIC_URL is not a public https:// address"),
    ({"CLOSE_REDIRECT_URI": "http://127.0.0.1:5000/integrations/close/callback"}, "CLOSE_REDIRECT_URI is not"),
    ({"SESSION_COOKIE_SECURE": False}, "SESSION_COOKIE_SECURE is off"),
    ({"SECRET_KEY": "k" * 64}, "SECRET_KEY is shorter than 32 bytes or one repeated character"),
    ({"SECRET_KEY": "short-but-varied"}, "SECRET_KEY is shorter"),
    ({"WHATSAPP_APP_SECRET": "too-short"}, "WHATSAPP_APP_SECRET is shorter than 16"),
])
def test_each_unsafe_setting_is_one_line_saying_what_to_set(override, says):
    found = problems(dict(GOOD, **override))
    assert len(found) == 1 and says in found[0], found
    assert "set" in found[0] and "\n" not in found[0] and len(found[0]) < 300


def test_production_refuses_to_start_on_the_testing_key(database_url, redis_url):
    from webapp import create_app
    with pytest.raises(RuntimeError, match="tests' public key"):
        create_app("production", dict(GOOD, TOKEN_ENCRYPTION_KEY="l5Ohc7e6B9G0N8x0q3lJ2hS9iTqY4c2sVqf7mFZt0ZQ=",
                                      SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=redis_url))
