"""OAuth: the authorize flow and every error Closeline must handle (close-api.md §2)."""
import requests

from tests.helpers.close_sandbox import CLIENT_ID, REDIRECT_URI, SALES, SUPPORT, Api, authorize, connect, pkce_pair, token_request


def test_full_flow_state_org_and_me(sb, http):
    query = authorize(sb, org_name="Acme Support", state="abc")
    assert query["state"] == "abc"
    resp = token_request(http, sb, auth_mode="basic", grant_type="authorization_code", code=query["code"])
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    assert tokens["expires_in"] == 3600 and tokens["organization_id"] == SUPPORT
    me = Api(http, sb, token=tokens["access_token"]).get("/me/").json()
    assert me["email"] == "dana@acme.test"
    # /me/ lists all of the user's organizations; the token's org picks the membership
    membership = next(m for m in me["memberships"] if m["organization_id"] == tokens["organization_id"])
    assert membership["role_id"] == "user"
    assert "view_all_leads" in membership["permissions_granted"]
    assert "manage_organization" not in membership["permissions_granted"]
    # the token is bound to the chosen organization
    assert Api(http, sb, token=tokens["access_token"]).get(f"/organization/{SALES}/").status_code == 404


def test_deny_redirects_with_access_denied_and_no_state_by_default(sb):
    query = authorize(sb, action="deny", state="s1")
    assert query == {"error": "access_denied"}  # Close does not promise to echo state on decline
    sb.app.config["DECLINE_WITH_STATE"] = True
    try:
        assert authorize(sb, action="deny", state="s2") == {"error": "access_denied", "state": "s2"}
    finally:
        sb.app.config["DECLINE_WITH_STATE"] = False


def test_unknown_client_or_redirect_shows_error_page_without_redirect(sb):
    for params in ({"client_id": "nope", "redirect_uri": REDIRECT_URI},
                   {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI + "/extra"},
                   {"client_id": CLIENT_ID, "redirect_uri": "http://127.0.0.1:5001/integrations/close/callback"}):
        resp = requests.get(sb.url + "/oauth2/authorize/", params=dict(params, response_type="code"),
                            allow_redirects=False, timeout=10)
        assert resp.status_code == 400 and "Location" not in resp.headers
        assert "error-message" in resp.text


def test_code_is_single_use_and_reuse_revokes_the_grant(sb, http):
    query = authorize(sb)
    first = token_request(http, sb, grant_type="authorization_code", code=query["code"])
    assert first.status_code == 200
    again = token_request(http, sb, grant_type="authorization_code", code=query["code"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert Api(http, sb, token=first.json()["access_token"]).get("/me/").status_code == 401


def test_code_expires(sb, http):
    query = authorize(sb)
    sb.control("POST", "clock", {"advance": 61})
    resp = token_request(http, sb, grant_type="authorization_code", code=query["code"])
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_wrong_redirect_uri_at_token_step(sb, http):
    query = authorize(sb)
    resp = token_request(http, sb, grant_type="authorization_code", code=query["code"],
                         redirect_uri="http://127.0.0.1:5000/other")
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_wrong_secret_is_invalid_client(sb, http):
    query = authorize(sb)
    for mode in ("post", "basic"):
        resp = token_request(http, sb, auth_mode=mode, client_secret="wrong", grant_type="authorization_code",
                             code=query["code"])
        assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    # the code was not consumed by the failed attempts
    assert token_request(http, sb, grant_type="authorization_code", code=query["code"]).status_code == 200


def test_pkce_mismatch_and_missing_verifier(sb, http):
    verifier, challenge = pkce_pair()
    query = authorize(sb, code_challenge=challenge)
    for extra in ({"code_verifier": "x" * 50}, {}):
        resp = token_request(http, sb, grant_type="authorization_code", code=query["code"], **extra)
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    ok = token_request(http, sb, grant_type="authorization_code", code=query["code"], code_verifier=verifier)
    assert ok.status_code == 200


def test_unsupported_grant_type_and_missing_params(sb, http):
    resp = token_request(http, sb, grant_type="password")
    assert resp.status_code == 400 and resp.json()["error"] == "unsupported_grant_type"
    resp = token_request(http, sb)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
    resp = token_request(http, sb, grant_type="authorization_code")
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


def test_refresh_rotates_and_old_refresh_token_is_dead(sb, http):
    tokens = connect(http, sb)
    fresh = token_request(http, sb, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert fresh.status_code == 200
    new = fresh.json()
    assert new["refresh_token"] != tokens["refresh_token"] and new["organization_id"] == SALES
    reuse = token_request(http, sb, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    # rotation does not kill the winner
    again = token_request(http, sb, grant_type="refresh_token", refresh_token=new["refresh_token"])
    assert again.status_code == 200


def test_revoke_endpoint_kills_access_and_refresh(sb, http):
    tokens = connect(http, sb)
    api = Api(http, sb, token=tokens["access_token"])
    assert api.get("/me/").status_code == 200
    resp = http.post(sb.url + "/oauth2/revoke/", data={"client_id": CLIENT_ID, "client_secret": "closeline-demo-secret",
                                                      "token": tokens["refresh_token"]})
    assert resp.status_code == 200 and resp.content == b""
    denied = api.get("/me/")
    assert denied.status_code == 401 and denied.json()["error"].startswith("The server could not verify")
    refresh = token_request(http, sb, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


def test_revoke_from_authorized_apps_page(sb, http):
    browser = requests.Session()
    verifier, challenge = pkce_pair()
    query = authorize(sb, browser=browser, code_challenge=challenge)
    tokens = token_request(http, sb, grant_type="authorization_code", code=query["code"],
                           code_verifier=verifier).json()
    page = browser.get(sb.url + "/settings/accounts-and-apps/authorized-apps/")
    assert "Revoke Access" in page.text and "Acme Sales" in page.text
    from tests.helpers.close_sandbox import parse_form
    form = parse_form(page.text)
    resp = browser.post(sb.url + "/settings/accounts-and-apps/authorized-apps/revoke/",
                        data={"csrf_token": form.hidden["csrf_token"], "client_id": CLIENT_ID,
                              "organization_id": SALES})
    assert resp.status_code == 200 and "You have not authorized any apps" in resp.text
    assert Api(http, sb, token=tokens["access_token"]).get("/me/").status_code == 401
    refresh = token_request(http, sb, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.json()["error"] == "invalid_grant"


def test_control_revoke_and_token_expiry(sb, http):
    tokens = connect(http, sb)
    api = Api(http, sb, token=tokens["access_token"])
    assert sb.control("POST", "tokens/expire", {"user_email": "dana@acme.test"}) == {"expired": 1}
    assert api.get("/me/").status_code == 401
    new = token_request(http, sb, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    assert Api(http, sb, token=new["access_token"]).get("/me/").status_code == 200
    assert sb.control("POST", "grants/revoke", {"user_email": "dana@acme.test", "client_id": CLIENT_ID}) == {"revoked": 1}
    assert Api(http, sb, token=new["access_token"]).get("/me/").status_code == 401
    resp = token_request(http, sb, grant_type="refresh_token", refresh_token=new["refresh_token"])
    assert resp.json()["error"] == "invalid_grant"


def test_access_token_ttl_is_configurable():
    from close_sandbox.testing import SandboxServer

    with SandboxServer({"ACCESS_TOKEN_TTL": 120}) as srv, requests.Session() as session:
        tokens = connect(session, srv)
        assert tokens["expires_in"] == 120
        srv.control("POST", "clock", {"advance": 121})
        assert Api(session, srv, token=tokens["access_token"]).get("/me/").status_code == 401


def test_redirect_uris_are_configurable():
    from close_sandbox.testing import SandboxServer

    other = "http://localhost:8000/cb"
    with SandboxServer({"REDIRECT_URIS": [other]}) as srv:
        assert authorize(srv, redirect_uri=other)["code"]
        resp = requests.get(srv.url + "/oauth2/authorize/", params={
            "client_id": CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI}, timeout=10)
        assert resp.status_code == 400


def test_wrong_password_and_consent_lists_only_the_users_orgs(sb):
    browser = requests.Session()
    page = browser.get(sb.url + "/oauth2/authorize/", params={
        "client_id": CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI})
    from tests.helpers.close_sandbox import parse_form
    nxt = parse_form(page.text).hidden["next"]
    bad = browser.post(sb.url + "/login/", data={"email": "rep@acme.test", "password": "nope", "next": nxt})
    assert bad.status_code == 401 and "Incorrect email or password" in bad.text
    good = browser.post(sb.url + "/login/", data={"email": "rep@acme.test", "password": "close-demo", "next": nxt})
    options = [text for name, value, text in parse_form(good.text).options if name == "organization_id"]
    assert options == ["Acme Sales"]


def test_concurrent_refresh_with_the_same_token_has_one_winner(sb, http):
    from concurrent.futures import ThreadPoolExecutor

    tokens = connect(http, sb)

    def refresh(_):
        with requests.Session() as session:
            return token_request(session, sb, grant_type="refresh_token",
                                 refresh_token=tokens["refresh_token"]).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(refresh, range(8)))
    assert sorted(statuses) == [200] + [400] * 7
