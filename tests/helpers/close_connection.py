"""The Close connection feature's test material: a driver for the Close sandbox's sign-in and consent
pages, the connection rows and events Closeline keeps, and direct-chat messages to hold or sync."""
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import requests
import sqlalchemy as sa

DEFAULT_CALLBACK = "http://127.0.0.1:5000/integrations/close/callback"
CLOSE_PASSWORD = "close-demo"
PAGE = "/integrations/close/"


class _Form(HTMLParser):
    """Hidden inputs and <option>s of a page (enough for the sandbox's two forms)."""

    def __init__(self):
        super().__init__()
        self.fields, self.options, self._in_option = {}, [], False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden":
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "option":
            self.options.append([a.get("value"), ""])
            self._in_option = True

    def handle_data(self, data):
        if self._in_option:
            self.options[-1][1] += data.strip()

    def handle_endtag(self, tag):
        if tag == "option":
            self._in_option = False


def close_consent(authorize_url, email, org_name="Acme Sales", action="allow"):
    """Sign in at the sandbox and answer its consent screen; returns the redirect to our callback."""
    http = requests.Session()
    page = http.get(authorize_url, timeout=60)  # → sign-in page (next = the authorize request)
    login = _Form()
    login.feed(page.text)
    page = http.post(page.url.split("?")[0], data={"email": email, "password": CLOSE_PASSWORD,
                                                   "next": login.fields["next"]}, timeout=60)
    assert page.status_code == 200 and "consent-form" in page.text, page.text[:500]
    consent = _Form()
    consent.feed(page.text)
    org_id = next(value for value, label in consent.options if label == org_name)
    answer = http.post(authorize_url.split("?")[0], data={**consent.fields, "organization_id": org_id,
                                                          "action": action}, allow_redirects=False, timeout=60)
    assert answer.status_code == 302, answer.text[:300]
    return answer.headers["Location"]


def callback_path(location):
    parts = urlsplit(location)
    return f"{parts.path}?{parts.query}"


def query(location):
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def close_sign_in(page, email):
    """Fill the Close sandbox's sign-in page in a real browser (Playwright page)."""
    page.fill("#email", email)
    page.fill("#password", CLOSE_PASSWORD)
    page.click("#sign-in")


def live_connections(workspace_id=None):
    from webapp.core.extensions import db
    from webapp.models import CloseConnection
    db.session.expire_all()
    query_ = sa.select(CloseConnection).where(CloseConnection.disconnected_at.is_(None))
    if workspace_id is not None:
        query_ = query_.where(CloseConnection.workspace_id == workspace_id)
    return db.session.scalars(query_).all()


def events(workspace_id, kind=None):
    """The workspace's ConnectionEvent rows (its connection history), oldest first."""
    from webapp.core.extensions import db
    from webapp.models import ConnectionEvent
    db.session.expire_all()
    query_ = sa.select(ConnectionEvent).where(ConnectionEvent.workspace_id == workspace_id)
    if kind:
        query_ = query_.where(ConnectionEvent.kind == kind)
    return db.session.scalars(query_.order_by(ConnectionEvent.id)).all()


def token_requests(sandbox, since=0):
    log = sandbox.control("GET", f"/_sandbox/requests?since={since}")["data"]
    return [e for e in log if e["path"] == "/oauth2/token/"]


def add_messages(demo, count, state="received", reason="", remote="+14155550101", kind="direct"):
    """Direct-chat messages of the owner's WhatsApp number (the remote phone is Gob Bluth's in Acme Sales)."""
    from datetime import timedelta

    from webapp.core.extensions import db
    from webapp.models import Chat, Message, utcnow
    number = demo.memberships["owner@acme.test"].numbers[0]
    chat = Chat(workspace_id=demo.acme.id, whatsapp_number_id=number.id, external_id=f"chat-{remote}-{kind}",
                kind=kind, remote_phone=remote, display_name="Gob Bluth")
    db.session.add(chat)
    db.session.flush()
    start = utcnow() - timedelta(minutes=count)
    rows = [Message(workspace_id=demo.acme.id, chat_id=chat.id, whatsapp_number_id=number.id,
                    external_id=f"wamid.{kind}.{remote}.{i}", direction="incoming" if i % 2 else "outgoing",
                    sent_at=start + timedelta(minutes=i), text=f"hello {i}", state=state, reason=reason)
            for i in range(count)]
    db.session.add_all(rows)
    db.session.commit()
    return chat, rows
