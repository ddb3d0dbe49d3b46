"""Close's OAuth endpoints (authorize, token, revoke) through Authlib.

Only this module talks to /oauth2/*; the REST API goes through client.CloseClient.
Token endpoint failures are mapped to two exceptions: OAuthRejected (Close answered with an
RFC 6749 error such as invalid_grant: definitive) and OAuthUnavailable (5xx, 429, timeouts,
network errors: try again later).
"""
import logging

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app

log = logging.getLogger(__name__)


class OAuthRejected(Exception):
    def __init__(self, error, description=None):
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description or ""


class OAuthUnavailable(Exception):
    pass


def token_call_timeout():
    """Seconds one token-endpoint call may take, for connecting and again for reading."""
    return max(3 * float(current_app.config.get("CLOSE_TIMEOUT", 10.0)), 30.0)


def _session():
    cfg = current_app.config
    return OAuth2Session(
        cfg["CLOSE_CLIENT_ID"], cfg["CLOSE_CLIENT_SECRET"],
        redirect_uri=cfg["CLOSE_REDIRECT_URI"],
        code_challenge_method="S256",
        # Close reads the client credentials from the form body (close-api.md §2.3).
        token_endpoint_auth_method="client_secret_post",
        revocation_endpoint_auth_method="client_secret_post",
        # Generous: a refresh that times out after Close rotated the pair leaves us without a usable
        # refresh token (the next one is invalid_grant), so we wait rather than give up early.
        default_timeout=token_call_timeout(),
    )


def authorization_request():
    """-> (url to send the browser to, state, PKCE code verifier)."""
    verifier = generate_token(64)
    url, state = _session().create_authorization_url(
        current_app.config["CLOSE_AUTHORIZE_URL"], code_verifier=verifier)
    return url, state, verifier


def _token_call(call):
    try:
        token = call()
    except OAuthError as exc:
        raise OAuthRejected(exc.error or "invalid_request", exc.description) from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status is not None and status < 500 and status != 429:
            raise OAuthRejected(f"http_{status}") from None
        raise OAuthUnavailable(f"Close's token endpoint answered HTTP {status}") from None
    except (requests.RequestException, ValueError) as exc:
        raise OAuthUnavailable(f"Close's token endpoint is unreachable ({type(exc).__name__})") from None
    if not token.get("access_token"):
        raise OAuthRejected("invalid_response", "no access token in the answer")
    return dict(token)


def exchange_code(code, verifier):
    """Authorization code → token dict (access_token, refresh_token, expires_in, organization_id, user_id)."""
    session = _session()
    return _token_call(lambda: session.fetch_token(
        current_app.config["CLOSE_TOKEN_URL"], grant_type="authorization_code", code=code,
        code_verifier=verifier, redirect_uri=current_app.config["CLOSE_REDIRECT_URI"]))


def refresh(refresh_token):
    """Rotate: returns the new token dict. Close revokes the old refresh token."""
    session = _session()
    return _token_call(lambda: session.refresh_token(
        current_app.config["CLOSE_TOKEN_URL"], refresh_token=refresh_token))


def revoke(token):
    """Best effort: True when Close confirmed. Never raises (disconnect must work offline)."""
    if not token:
        return False
    try:
        response = _session().revoke_token(current_app.config["CLOSE_REVOKE_URL"], token=token,
                                           token_type_hint="refresh_token")
        return response.status_code < 400
    except requests.RequestException as exc:
        log.warning("Revoking the Close token failed: %s", type(exc).__name__)
        return False
