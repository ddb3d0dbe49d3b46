"""OAuth 2.0 authorization-code flow with PKCE and rotating refresh tokens (close-api.md §2)."""
import base64
import binascii
import hashlib
import hmac
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit

from flask import Blueprint, g, jsonify, redirect, render_template, request, url_for

from .core import sandbox
from .errors import OAuthError
from .ids import random_id, token
from .pages import check_csrf, csrf_token, signed_in_user
from .state import AccessToken, AuthCode, Grant, RefreshToken

bp = Blueprint("oauth", __name__)
SCOPE = "all.full_access offline_access"
AUTHORIZE_PARAMS = ("client_id", "redirect_uri", "response_type", "state", "scope",
                    "code_challenge", "code_challenge_method")


def _error_page(message: str, status: int = 400):
    return render_template("error.html", message=message), status


def _with_query(uri: str, params: dict) -> str:
    parts = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _client_and_redirect(params):
    """Validate client_id and redirect_uri; problems here never redirect (RFC 6749 §4.1.2.1)."""
    world = sandbox().world
    client = world.clients.get(params.get("client_id") or "")
    if client is None:
        return None, None, _error_page("Unknown OAuth application (client_id).")
    redirect_uri = params.get("redirect_uri")
    if not redirect_uri and len(client.redirect_uris) == 1:
        redirect_uri = client.redirect_uris[0]
    if redirect_uri not in client.redirect_uris:  # exact match, no prefix or port leniency
        return None, None, _error_page("The redirect_uri does not match the application's registered redirect URL.")
    return client, redirect_uri, None


@bp.route("/oauth2/authorize/", methods=["GET", "POST"])
def authorize():
    source = request.args if request.method == "GET" else request.form
    params = {k: source.get(k) for k in AUTHORIZE_PARAMS}
    client, redirect_uri, problem = _client_and_redirect(params)
    if problem:
        return problem
    state = params.get("state")
    if params.get("response_type") != "code":
        return redirect(_with_query(redirect_uri, {"error": "unsupported_response_type", "state": state}))
    if params.get("code_challenge") and (params.get("code_challenge_method") or "plain") != "S256":
        return redirect(_with_query(redirect_uri, {
            "error": "invalid_request", "error_description": "Only code_challenge_method=S256 is supported.",
            "state": state}))
    user = signed_in_user()
    if user is None:
        if request.method == "POST":
            return _error_page("Your session expired. Start the authorization again.", 400)
        return redirect(url_for("pages.login", next=request.full_path))
    world = sandbox().world
    orgs = [world.org(m.organization_id) for m in world.user_memberships(user.id)]
    if not orgs:
        return _error_page("Your account is not an active member of any organization.", 403)
    if request.method == "GET":
        return render_template("consent.html", client=client, user=user, orgs=orgs, params=params,
                               csrf=csrf_token())
    if not check_csrf():
        return _error_page("Invalid form token. Reload the page and try again.", 400)
    if request.form.get("action") != "allow":
        # Close documents only error=access_denied on decline; echoing state is not promised.
        declined = {"error": "access_denied"}
        if sandbox().config["DECLINE_WITH_STATE"]:
            declined["state"] = state
        return redirect(_with_query(redirect_uri, declined))
    org_id = request.form.get("organization_id")
    if org_id not in {o.id for o in orgs}:
        return render_template("consent.html", client=client, user=user, orgs=orgs, params=params,
                               csrf=csrf_token(), error="Pick one of your organizations."), 400
    code = AuthCode(token(), client.client_id, redirect_uri, user.id, org_id, params.get("code_challenge"),
                    world.now() + sandbox().config["AUTH_CODE_TTL"])
    world.codes[code.code] = code
    return redirect(_with_query(redirect_uri, {"code": code.code, "state": state}))


def _client_from_request():
    """client_secret_basic or client_secret_post."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "Malformed Basic credentials.", 401)
        client_id, _, secret = decoded.partition(":")
        client_id, secret = unquote(client_id), unquote(secret)
    else:
        client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
    client = sandbox().world.clients.get(client_id or "")
    if client is None or not secret or not hmac.compare_digest(client.client_secret, secret):
        raise OAuthError("invalid_client", "Client authentication failed.", 401)
    g.log_client = client.client_id
    return client


def _issue(grant: Grant) -> dict:
    sb = sandbox()
    world, ttl = sb.world, int(sb.config["ACCESS_TOKEN_TTL"])
    access = AccessToken(token(), grant.id, world.now() + ttl)
    refresh = RefreshToken(token(), grant.id)
    world.access_tokens[access.token] = access
    world.refresh_tokens[refresh.token] = refresh
    g.log_org = grant.organization_id
    resp = jsonify({"token_type": "Bearer", "access_token": access.token, "expires_in": ttl,
                    "refresh_token": refresh.token, "scope": SCOPE,
                    "organization_id": grant.organization_id, "user_id": grant.user_id})
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


def _pkce_ok(challenge: str, verifier: str | None) -> bool:
    if not verifier:
        return False
    digest = hashlib.sha256(verifier.encode("ascii", "ignore")).digest()
    return hmac.compare_digest(base64.urlsafe_b64encode(digest).decode().rstrip("="), challenge)


def _exchange_code(client):
    world = sandbox().world
    code_value = request.form.get("code")
    if not code_value:
        raise OAuthError("invalid_request", "Missing code.")
    code = world.codes.get(code_value)
    if code is None or code.client_id != client.client_id:
        raise OAuthError("invalid_grant", "Invalid authorization code.")
    if code.used:
        # RFC 6749 §4.1.2: a replayed code revokes what it already produced
        grant = world.grants.get(code.grant_id)
        if grant and grant.revoked_at is None:
            grant.revoked_at = world.now()
        raise OAuthError("invalid_grant", "Authorization code has already been used.")
    if world.now() > code.expires_at:
        raise OAuthError("invalid_grant", "Authorization code has expired.")
    sent_redirect = request.form.get("redirect_uri")
    if sent_redirect is not None and sent_redirect != code.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri does not match the authorization request.")
    if code.code_challenge and not _pkce_ok(code.code_challenge, request.form.get("code_verifier")):
        raise OAuthError("invalid_grant", "PKCE verification failed.")
    if world.membership(code.user_id, code.organization_id) is None or world.org(code.organization_id) is None:
        raise OAuthError("invalid_grant", "Invalid authorization code.")
    grant = Grant(random_id("grant_", 22), client.client_id, code.user_id, code.organization_id, world.now())
    world.grants[grant.id] = grant
    code.used, code.grant_id = True, grant.id
    return _issue(grant)


def _refresh(client):
    world = sandbox().world
    value = request.form.get("refresh_token")
    if not value:
        raise OAuthError("invalid_request", "Missing refresh_token.")
    refresh = world.refresh_tokens.get(value)
    grant = world.grants.get(refresh.grant_id) if refresh else None
    if refresh is None or grant is None or grant.client_id != client.client_id:
        raise OAuthError("invalid_grant", "Invalid refresh token.")
    if refresh.rotated:
        raise OAuthError("invalid_grant", "Refresh token has already been used.")
    if not world.grant_is_live(grant):
        # Close documents no reason here (close-api.md §2.7): a dead grant looks like any bad token.
        raise OAuthError("invalid_grant", "Invalid refresh token.")
    refresh.rotated = True
    return _issue(grant)


@bp.post("/oauth2/token/")
def token_endpoint():
    try:
        client = _client_from_request()
        grant_type = request.form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "Missing grant_type.")
        if grant_type == "authorization_code":
            return _exchange_code(client)
        if grant_type == "refresh_token":
            return _refresh(client)
        raise OAuthError("unsupported_grant_type", f"Unsupported grant_type {grant_type!r}.")
    except OAuthError as exc:
        return exc.response()


@bp.post("/oauth2/revoke/")
def revoke():
    try:
        client = _client_from_request()
        value = request.form.get("token")
        if not value:
            raise OAuthError("invalid_request", "Missing token.")
    except OAuthError as exc:
        return exc.response()
    world = sandbox().world
    holder = world.refresh_tokens.get(value) or world.access_tokens.get(value)
    grant = world.grants.get(holder.grant_id) if holder else None
    # RFC 7009: unknown tokens are not an error
    if grant and grant.client_id == client.client_id and grant.revoked_at is None:
        grant.revoked_at = world.now()
        g.log_org = grant.organization_id
    return "", 200


@bp.get("/.well-known/oauth-authorization-server")
def metadata():
    base = sandbox().public_url
    return jsonify({
        "issuer": base, "authorization_endpoint": f"{base}/oauth2/authorize/",
        "token_endpoint": f"{base}/oauth2/token/", "revocation_endpoint": f"{base}/oauth2/revoke/",
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": SCOPE.split(),
    })
