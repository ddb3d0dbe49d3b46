"""Driving the Close sandbox directly (its own tests): seeded credentials, an API client bound to one
of them, the OAuth sign-in and consent pages parsed like a person reads them, and the token calls."""
import base64
import hashlib
import secrets
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import requests

from close_sandbox import world as seeded

REDIRECT_URI = "http://127.0.0.1:5000/integrations/close/callback"
CLIENT_ID = "closeline-demo"
CLIENT_SECRET = "closeline-demo-secret"
DANA_SALES_KEY = "api_demo_dana_acme_sales"
REP_SALES_KEY = "api_demo_rep_acme_sales"
DANA_SUPPORT_KEY = "api_demo_dana_acme_support"
SALES = seeded.org_id("sales")
SUPPORT = seeded.org_id("support")


class Api:
    """Tiny helper bound to one credential."""

    def __init__(self, session, server, key=None, token=None):
        self.session, self.base = session, server.api_url
        self.auth = (key, "") if key else None
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method, path, headers=None, **kwargs):
        return self.session.request(method, self.base + path, auth=self.auth,
                                    headers={**self.headers, **(headers or {})}, timeout=30, **kwargs)

    def get(self, path, **kw): return self.call("GET", path, **kw)
    def post(self, path, **kw): return self.call("POST", path, **kw)
    def put(self, path, **kw): return self.call("PUT", path, **kw)
    def delete(self, path, **kw): return self.call("DELETE", path, **kw)


def wa_body(**over):
    """A valid WhatsApp activity for the Bluth lead (Gob), overridable field by field."""
    body = {"external_whatsapp_message_id": "wamid.1", "lead_id": seeded.lead_id("bluth"),
            "contact_id": seeded.contact_id("gob"), "direction": "outgoing",
            "activity_at": "2025-02-01T10:00:00+00:00", "local_phone": "+16503334444",
            "remote_phone": "+14155550101", "message_markdown": "hi *there*"}
    body.update(over)
    return body


def signed_in(sb, email):
    """A requests session signed in to the sandbox's pages as `email`."""
    browser = requests.Session()
    resp = browser.post(sb.url + "/login/", data={"email": email, "password": "close-demo", "next": "/"})
    assert resp.status_code == 200
    return browser


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hidden, self.options, self.buttons, self._select, self._option = {}, [], [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden":
            self.hidden[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select:
            self._option = a.get("value")
        elif tag == "button":
            self.buttons.append(a)

    def handle_data(self, data):
        if self._option is not None and data.strip():
            self.options.append((self._select, self._option, data.strip()))
            self._option = None

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def parse_form(html):
    parser = FormParser()
    parser.feed(html)
    return parser


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def authorize(server, email="dana@acme.test", org_name="Acme Sales", action="allow", state="st-123",
              code_challenge=None, redirect_uri=REDIRECT_URI, client_id=CLIENT_ID, browser=None):
    """Drive sign-in + consent like a person would; returns the parsed redirect query."""
    browser = browser or requests.Session()
    params = {"client_id": client_id, "response_type": "code", "redirect_uri": redirect_uri, "state": state}
    if code_challenge:
        params.update(code_challenge=code_challenge, code_challenge_method="S256")
    page = browser.get(server.url + "/oauth2/authorize/", params=params, timeout=10)
    assert page.status_code == 200, page.text
    if 'name="password"' in page.text:
        form = parse_form(page.text)
        page = browser.post(server.url + "/login/", timeout=10, data={
            "email": email, "password": "close-demo", "next": form.hidden["next"]})
        assert page.status_code == 200, page.text
    form = parse_form(page.text)
    assert {b.get("value") for b in form.buttons} >= {"allow", "deny"}
    org_value = next(value for name, value, text in form.options if name == "organization_id" and text == org_name)
    data = dict(form.hidden, organization_id=org_value, action=action)
    resp = browser.post(server.url + "/oauth2/authorize/", data=data, allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(redirect_uri)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def token_request(session, server, auth_mode="post", client_secret=CLIENT_SECRET, **form):
    data = dict(form)
    kwargs = {}
    if auth_mode == "post":
        data.update(client_id=CLIENT_ID, client_secret=client_secret)
    else:
        kwargs["auth"] = (CLIENT_ID, client_secret)
    return session.post(server.url + "/oauth2/token/", data=data, timeout=10, **kwargs)


def connect(session, server, email="dana@acme.test", org_name="Acme Sales"):
    """Full authorize + code exchange; returns the token response JSON."""
    verifier, challenge = pkce_pair()
    query = authorize(server, email=email, org_name=org_name, code_challenge=challenge)
    resp = token_request(session, server, grant_type="authorization_code", code=query["code"],
                         redirect_uri=REDIRECT_URI, code_verifier=verifier)
    assert resp.status_code == 200, resp.text
    return resp.json()
