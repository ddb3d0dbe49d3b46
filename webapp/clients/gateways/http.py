"""Every HTTP call Closeline makes to a WhatsApp gateway goes through this module.

JSON API calls use one `requests.Session` that ignores proxy variables (gateways sit beside the
app) with short timeouts. File downloads (media) go through `download()`, the one seam for a
guarded outbound fetcher (webapp.core.outbound): only the gateway's own private address is let through,
with Close's 25 MB limit and a deadline.
"""
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from webapp.core import outbound

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0
MAX_MEDIA_BYTES = 25_000_000

_local = threading.local()


class GatewayUnreachable(Exception):
    """No answer from the gateway (connection refused, DNS, timeout)."""


class DownloadFailed(Exception):
    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


@dataclass
class Downloaded:
    content: bytes
    content_type: str
    filename: str | None = None


def _session():
    session = getattr(_local, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False
        _local.session = session
    return session


def call(method, url, *, headers=None, json=None, params=None, timeout=READ_TIMEOUT):
    """One JSON API call to a gateway; raises GatewayUnreachable when nothing answers."""
    try:
        return _session().request(method, url, headers=headers, json=json, params=params,
                                  timeout=(CONNECT_TIMEOUT, timeout), allow_redirects=False)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise GatewayUnreachable(f"{urlsplit(url).netloc}: {type(exc).__name__}") from exc


def host_port(base_url):
    parts = urlsplit(base_url)
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def download(url, *, headers, allow_private, max_bytes=MAX_MEDIA_BYTES, deadline=60.0):
    """Fetch a file from the gateway through the guarded outbound fetcher. `allow_private` =
    (host, port) of the gateway: the only private address a download may reach."""
    try:
        fetched = outbound.fetch(url, max_bytes=max_bytes, deadline=deadline,
                                 allow_private=allow_private, headers=headers)
    except outbound.FetchError as exc:
        if exc.retryable and exc.status is None:  # no answer (connection, DNS, deadline): retry later
            raise GatewayUnreachable(f"{urlsplit(url).netloc}: {exc.detail}") from exc
        raise DownloadFailed(str(exc), exc.status) from exc
    return Downloaded(fetched.content, fetched.content_type or "application/octet-stream", fetched.filename)

