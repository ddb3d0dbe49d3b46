"""The one Close API client. Everything that talks to Close's REST API goes through CloseClient.

It knows the base URL, the credential (OAuth Bearer token or API key), the token-refresh hook,
Close's rate limits and its error shapes; callers get dicts or typed exceptions (errors.py).
The same code talks to the real Close and to close_sandbox: only the URLs and credentials differ.
"""
import base64
import logging
import re
from urllib.parse import quote

import requests

from webapp.clients.close.errors import (  # noqa: F401  (re-exported for callers)
    CloseAuthError,
    CloseError,
    CloseNotFound,
    CloseRejected,
    CloseTransient,
)
from webapp.clients.close.ratelimit import endpoint_group
from webapp.core import metrics

log = logging.getLogger(__name__)

# A 429 means Close did nothing, so even a write may be sent again after waiting.
MAX_RATE_LIMIT_RETRIES = 5
MAX_ATTACHMENT_BYTES = 25_000_000  # Close's "25 MB" per message: decimal megabytes
# Close's lead ids: what a person pastes is checked against this before it goes into a path.
LEAD_ID = re.compile(r"lead_[A-Za-z0-9]+")


def is_lead_id(value):
    return isinstance(value, str) and len(value) <= 64 and LEAD_ID.fullmatch(value) is not None


def _seg(value):
    """One path segment, quoted whole: an id can never add a segment or climb out ("../me")."""
    return quote(str(value), safe="")


class CloseClient:
    def __init__(self, api_url, access_token=None, api_key=None, org_id=None, token_refresher=None,
                 timeout=10.0, rate_limiter=None, session=None):
        if not (access_token or api_key):
            raise ValueError("CloseClient needs an access token or an API key")
        self.api_url = api_url.rstrip("/")
        self.access_token = access_token
        self.api_key = api_key
        self.org_id = org_id
        self.token_refresher = token_refresher
        self.timeout = timeout
        self.rate_limiter = rate_limiter
        self.session = session or requests.Session()

    # -- transport -----------------------------------------------------------------------------

    def _auth_header(self):
        if self.access_token:
            return f"Bearer {self.access_token}"
        return "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode()

    def request(self, method, path, params=None, json=None):
        """Send one call; returns the decoded JSON body (dict) or raises a CloseError subclass."""
        if not path.endswith("/"):
            path += "/"
        group = endpoint_group(path, method)
        refreshed = False
        for _ in range(MAX_RATE_LIMIT_RETRIES + 1):
            if self.rate_limiter:
                self.rate_limiter.before_call(self.org_id, group)
            response = self._send(method, path, params, json)
            if self.rate_limiter:
                self.rate_limiter.after_response(self.org_id, group, response.status_code, response.headers)
            if response.status_code == 429:
                if not self.rate_limiter:
                    raise _transient(response, ambiguous=False)
                continue
            if response.status_code == 401 and self.access_token and self.token_refresher and not refreshed:
                # The token may have expired between our check and Close's; one fresh try.
                self.access_token = self.token_refresher()
                refreshed = True
                continue
            return _decode(response, method)
        raise _transient(response, ambiguous=False)

    @metrics.timed_close_call
    def _send(self, method, path, params, json):
        try:
            return self.session.request(
                method, self.api_url + path, params=params, json=json, timeout=self.timeout,
                headers={"Authorization": self._auth_header(), "Accept": "application/json"})
        except requests.Timeout as exc:
            raise CloseTransient(f"Close did not answer within {self.timeout:g}s",
                                 ambiguous=method != "GET") from exc
        except requests.ConnectionError as exc:
            # Refused before sending is safe; a reset mid-request may have reached Close.
            raise CloseTransient("Close is unreachable (network error)", ambiguous=method != "GET") from exc

    def get(self, path, **params):
        return self.request("GET", path, params=params or None)

    def post(self, path, json=None, params=None):
        return self.request("POST", path, params=params, json=json)

    def put(self, path, json=None):
        return self.request("PUT", path, json=json)

    def delete(self, path):
        return self.request("DELETE", path)

    # -- identity and organization ---------------------------------------------------------------

    def me(self):
        return self.get("/me/")

    def organization(self, org_id):
        return self.get(f"/organization/{_seg(org_id)}/")

    def role(self, role_id):
        return self.get(f"/role/{_seg(role_id)}/")

    def roles(self):
        return self.get("/role/").get("data", [])

    def users(self):
        return self.get("/user/", _limit=1000).get("data", [])

    # -- leads and contacts ----------------------------------------------------------------------

    def search_contacts_by_phone(self, e164, limit=50):
        """Contacts having this phone (Close matches regardless of the stored format)."""
        body = {
            "query": {"type": "and", "queries": [
                {"type": "object_type", "object_type": "contact"},
                {"type": "has_related", "this_object_type": "contact", "related_object_type": "contact_phone",
                 "related_query": {"type": "field_condition",
                                   "field": {"type": "regular_field", "object_type": "contact_phone",
                                             "field_name": "phone"},
                                   "condition": {"type": "text", "mode": "exact_value", "value": e164}}},
            ]},
            "_fields": {"contact": ["id", "lead_id", "name", "phones", "date_created"]},
            "_limit": limit,
        }
        return self.post("/data/search/", json=body).get("data", [])

    def search_leads(self, query, limit=10):
        """Leads whose name (or other text) contains `query`: [{id, display_name, name}] (free text search)."""
        body = {
            "query": {"type": "and", "queries": [
                {"type": "object_type", "object_type": "lead"},
                {"type": "text", "value": query},
            ]},
            "_fields": {"lead": ["id", "display_name", "name"]},
            "_limit": limit,
        }
        return self.post("/data/search/", json=body).get("data", [])

    def create_lead(self, name, contact_name, phone, status_id=None):
        body = {"name": name, "contacts": [{"name": contact_name, "phones": [{"phone": phone, "type": "mobile"}]}]}
        if status_id:
            body["status_id"] = status_id
        return self.post("/lead/", json=body)

    def get_lead(self, lead_id):
        if not is_lead_id(lead_id):   # never ask Close for something else under a lead's name
            raise CloseNotFound("not a Close lead id", status=404)
        return self.get(f"/lead/{_seg(lead_id)}/")

    # -- WhatsApp activities -----------------------------------------------------------------------

    def find_whatsapp_activities(self, external_id):
        return self.get("/activity/whatsapp_message/", external_whatsapp_message_id=external_id).get("data", [])

    def create_whatsapp_activity(self, payload, send_to_inbox=False):
        params = {"send_to_inbox": "true"} if send_to_inbox else None
        return self.post("/activity/whatsapp_message/", json=payload, params=params)

    def update_whatsapp_activity(self, activity_id, payload):
        return self.put(f"/activity/whatsapp_message/{_seg(activity_id)}/", json=payload)

    def delete_whatsapp_activity(self, activity_id):
        self.delete(f"/activity/whatsapp_message/{_seg(activity_id)}/")

    # -- files -------------------------------------------------------------------------------------

    def upload_file(self, filename, content_type, data):
        """Two steps (Close's Files API): get a signed upload form, post the bytes; returns download.url."""
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise CloseRejected(f"{filename} is larger than Close's 25 MB limit", status=400)
        slot = self.post("/files/upload/", json={"filename": filename, "content_type": content_type})
        upload = slot["upload"]
        try:
            response = self.session.post(upload["url"], data=upload.get("fields", {}),
                                         files={"file": (filename, data, content_type)}, timeout=self.timeout * 3)
        except requests.RequestException as exc:
            raise CloseTransient("file upload to Close failed (network error)") from exc
        if response.status_code != 201:
            if response.status_code >= 500:
                raise CloseTransient(f"file upload failed with HTTP {response.status_code}",
                                     status=response.status_code)
            raise CloseRejected(f"file upload refused with HTTP {response.status_code}",
                                status=response.status_code)
        return slot["download"]["url"]


def _body(response):
    try:
        return response.json()
    except ValueError:
        return {}


def _message(body, fallback):
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        error = error.get("message")
    parts = [error] if error else []
    if isinstance(body, dict):
        parts += [str(e) for e in body.get("errors") or []]
        parts += [f"{k}: {v}" for k, v in (body.get("field-errors") or {}).items()]
    return "; ".join(p for p in parts if p) or fallback


def _transient(response, ambiguous):
    body = _body(response)
    retry_after = response.headers.get("retry-after")
    return CloseTransient(_message(body, f"Close answered HTTP {response.status_code}"),
                          status=response.status_code, body=body,
                          retry_after=float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None,
                          ambiguous=ambiguous)


def _decode(response, method):
    status = response.status_code
    if 200 <= status < 300:
        return _body(response) if response.content else {}
    body = _body(response)
    if status == 401:
        raise CloseAuthError(_message(body, "Close refused the credentials"), status=status, body=body)
    if status == 404:
        raise CloseNotFound(_message(body, "not found in Close"), status=status, body=body)
    if status == 429 or status >= 500:
        raise _transient(response, ambiguous=status >= 500 and method != "GET")
    raise CloseRejected(_message(body, f"Close refused the request (HTTP {status})"), status=status, body=body,
                        errors=body.get("errors") if isinstance(body, dict) else None,
                        field_errors=body.get("field-errors") if isinstance(body, dict) else None)
