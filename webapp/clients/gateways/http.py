"""Every HTTP call Closeline makes to a WhatsApp gateway goes through this module.

Both JSON API calls (`call`) and file downloads (`download`) go through the guarded outbound fetcher
(webapp.core.outbound): the gateway's address is resolved, checked and pinned for every call. A
gateway must be at a public address (any port) unless the operator listed its host:port in
GATEWAY_ALLOWED_HOSTS; a workspace admin typing a URL can never reach the app's own neighbours.
No proxy variables, short timeouts; downloads keep Close's 25 MB limit and a deadline.
"""
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from flask import current_app, has_app_context

from webapp.core import outbound

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0
MAX_MEDIA_BYTES = 25_000_000

ALLOWED_HOSTS_SETTING = "GATEWAY_ALLOWED_HOSTS"


class GatewayUnreachable(Exception):
    """No answer from the gateway (connection refused, DNS, timeout)."""


class UnsendableKey(Exception):
    """The stored API key holds characters no HTTP header can carry (stored before keys were checked)."""


class GatewayRefused(Exception):
    """The gateway's address is private (or its port) and not listed in GATEWAY_ALLOWED_HOSTS."""


class DownloadFailed(Exception):
    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


@dataclass
class Downloaded:
    content: bytes
    content_type: str
    filename: str | None = None


def allowed_hosts():
    """The (host, port) pairs the operator allowed on private addresses (none outside the app)."""
    if not has_app_context():
        return set()
    return outbound.parse_host_ports(current_app.config.get(ALLOWED_HOSTS_SETTING, ""))


def check_url(url):
    """Raise GatewayRefused unless `url` is a place a gateway may be (resolves the name)."""
    try:
        outbound.check(url, allow_private=allowed_hosts(), any_port=True)
    except outbound.FetchRefused as exc:
        raise GatewayRefused(exc.detail) from None
    except outbound.FetchFailed as exc:
        raise GatewayUnreachable(f"{urlsplit(url).netloc}: cannot resolve") from exc


def call(method, url, *, headers=None, json=None, params=None, timeout=READ_TIMEOUT):
    """One JSON API call to a gateway; raises GatewayRefused for an address that is not allowed and
    GatewayUnreachable when nothing answers."""
    try:
        return outbound.request(method, url, allow_private=allowed_hosts(), any_port=True, headers=headers,
                                json=json, params=params, timeout=(CONNECT_TIMEOUT, timeout))
    except outbound.FetchRefused as exc:
        raise GatewayRefused(exc.detail) from None
    except outbound.FetchFailed as exc:   # the name does not resolve
        raise GatewayUnreachable(f"{urlsplit(url).netloc}: cannot resolve") from exc
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise GatewayUnreachable(f"{urlsplit(url).netloc}: {type(exc).__name__}") from exc
    except (UnicodeError, requests.exceptions.InvalidHeader):
        raise UnsendableKey() from None


def download(url, *, headers, max_bytes=MAX_MEDIA_BYTES, deadline=60.0):
    """Fetch a file from the gateway through the guarded outbound fetcher, under the same address
    rules as `call`."""
    try:
        fetched = outbound.fetch(url, max_bytes=max_bytes, deadline=deadline, allow_private=allowed_hosts(),
                                 any_port=True, headers=headers)
    except outbound.FetchRefused as exc:
        raise GatewayRefused(exc.detail) from None
    except (UnicodeError, requests.exceptions.InvalidHeader):
        raise UnsendableKey() from None
    except outbound.FetchError as exc:
        if exc.retryable and exc.status is None:  # no answer (connection, DNS, deadline): retry later
            raise GatewayUnreachable(f"{urlsplit(url).netloc}: {exc.detail}") from exc
        raise DownloadFailed(str(exc), exc.status) from exc
    return Downloaded(fetched.content, fetched.content_type or "application/octet-stream", fetched.filename)
