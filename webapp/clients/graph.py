"""WhatsApp Cloud API (Graph API) client: the media of a webhook message, id → URL → bytes.

Both steps carry the number's access token as a bearer token and go through the guarded
outbound fetcher. The token is only ever sent to the configured Graph host or Meta's media hosts.
Errors say whether trying again later can help (`GraphUnavailable`) or not.
"""
import json
from urllib.parse import quote, urlsplit

from webapp.core import outbound

META_MEDIA_HOSTS = (".facebook.com", ".fbsbx.com", ".whatsapp.net", ".fbcdn.net")
ID_DEADLINE = 15.0


class GraphError(Exception):
    def __init__(self, message, status=None):
        super().__init__(message)
        self.message, self.status = message, status


class GraphUnavailable(GraphError):
    """Graph did not answer, or answered 5xx/429: the message waits and is retried."""


class GraphAuthError(GraphError):
    """The access token was refused (401/403): retried, and the reason tells the admin to fix it."""


class GraphMediaGone(GraphError):
    """The media id is unknown or expired (Meta keeps media for a limited time)."""


def _host_port(url):
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


class GraphClient:
    def __init__(self, api_url, access_token):
        self.api_url = api_url.rstrip("/")
        self.token = access_token
        self.home = _host_port(self.api_url)

    def _may_get_token(self, url):
        host, port = _host_port(url)
        return (host, port) == self.home or host.endswith(META_MEDIA_HOSTS)

    def _get(self, url, *, max_bytes, deadline):
        if not self._may_get_token(url):
            raise GraphMediaGone("Graph pointed the media at a host that is not Meta's")
        try:
            return outbound.fetch(url, max_bytes=max_bytes, deadline=deadline, allow_private=self.home,
                                  headers={"Authorization": f"Bearer {self.token}"})
        except outbound.FetchTooLarge:
            raise GraphMediaGone("over Close's 25 MB limit") from None
        except outbound.FetchError as exc:
            if exc.status in (401, 403):
                raise GraphAuthError("the Graph API refused the access token", exc.status) from None
            if exc.status in (400, 404, 410):
                raise GraphMediaGone("the media is no longer available on WhatsApp", exc.status) from None
            if exc.retryable or exc.status is None:
                raise GraphUnavailable(f"the Graph API is unavailable ({outbound.describe(exc)})", exc.status) from None
            raise GraphMediaGone(f"the Graph API refused the download (HTTP {exc.status})", exc.status) from None

    def phone_number(self, phone_number_id):
        """Meta's record of a business phone number id, read with this token (proof of access)."""
        fetched = self._get(f"{self.api_url}/{quote(str(phone_number_id), safe='')}?fields=display_phone_number",
                            max_bytes=64 * 1024, deadline=ID_DEADLINE)
        try:
            body = json.loads(fetched.content)
        except ValueError:
            raise GraphUnavailable("the Graph API answered something that is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("display_phone_number"), str):
            raise GraphMediaGone("the Graph API did not show this phone number")
        return body

    def media_url(self, media_id):
        """(url, mime_type) of a media id."""
        fetched = self._get(f"{self.api_url}/{quote(str(media_id), safe='')}", max_bytes=64 * 1024,
                            deadline=ID_DEADLINE)
        try:
            body = json.loads(fetched.content)
        except ValueError:
            raise GraphUnavailable("the Graph API answered something that is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("url"), str):
            raise GraphMediaGone("the Graph API gave no URL for this media")
        return body["url"], body.get("mime_type")

    def media_bytes(self, media_id, *, max_bytes, deadline):
        """(bytes, content type) of a media id."""
        url, mime_type = self.media_url(media_id)
        fetched = self._get(url, max_bytes=max_bytes, deadline=deadline)
        content_type = (mime_type or fetched.content_type or "application/octet-stream").split(";")[0].strip()
        return fetched.content, content_type
