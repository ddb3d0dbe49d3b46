"""The one guarded way Closeline downloads something on a user's behalf (attachment URLs, gateway media).

    fetch(url, max_bytes=..., deadline=..., min_rate=..., allow_private=None, headers=None) -> Fetched

Every hop is checked before anything is sent: scheme http/https, port 80/443, and every address the
host resolves to must be public (no loopback, private, link-local incl. the cloud metadata address,
CGNAT, multicast, reserved, unspecified, nor their IPv6 / IPv4-mapped / NAT64 / 6to4 forms; numeric
spellings such as 2130706433 or 0177.0.0.1 are read the way the C library would). The connection
then goes to exactly the checked address (the URL's name is still sent as Host and TLS SNI), so a
second DNS answer can't point it elsewhere. Redirects are followed by hand, re-checked, at most 3.
No proxy or .netrc from the environment. One wall-clock deadline for the whole download plus a
minimum transfer rate; the byte cap is enforced while streaming.

`allow_private` is the one exception: a (host, port) pair, or a set of them, that may sit on a
private address (a stand-in Graph API from config, the gateways an operator listed in
GATEWAY_ALLOWED_HOSTS); exactly those hosts and ports are let through, nothing else. `any_port=True`
lets a public host be reached on any port (gateways run on :3000, :8080). URLs that arrive inside
messages never get either. `request()` is the same resolve-check-pin path for JSON API calls.

Following a redirect to another scheme, host or port drops the credentials (Authorization, API-key
headers, Cookie): they were given for the first address only.

Errors carry only generic, user-facing text (`user_message`): socket errors never reach the user.
"""
import functools
import ipaddress
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass
from email.message import Message as _HeaderParser
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ReadTimeoutError

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
ALLOWED_PORTS = {"http": 80, "https": 443}
RATE_GRACE_SECONDS = 5.0          # the minimum rate is judged after this long
CONNECT_TIMEOUT = 10.0
CHUNK = 65536
REDIRECT_CODES = {301, 302, 303, 307, 308}
# Ranges that `is_global` lets through but that must never be reached (multicast is "global").
_EXTRA_BLOCKED = [ipaddress.ip_network(n) for n in ("224.0.0.0/4", "ff00::/8", "64:ff9b:1::/48")]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_V4 = re.compile(r"^[0-9a-fx.]+$", re.IGNORECASE)


class FetchError(Exception):
    user_message = "download failed"

    def __init__(self, detail="", retryable=False, status=None):
        super().__init__(detail or self.user_message)
        self.detail = detail          # for the log only, never shown to users
        self.retryable = retryable    # a blip (timeout, 5xx, 429): worth another attempt later
        self.status = status


class FetchRefused(FetchError):
    """The address, port or scheme is not allowed. Never retried."""
    user_message = "the attachment's address is not allowed"


class FetchFailed(FetchError):
    """Anything else: connection trouble, HTTP error, too slow, too large."""
    user_message = "download failed"


class FetchTooLarge(FetchFailed):
    user_message = "over the size limit"


@dataclass(frozen=True)
class Fetched:
    content: bytes
    content_type: str | None
    filename: str | None


# -- resolving and checking -------------------------------------------------------------------------

def resolve(host, port):
    """DNS lookup: every address of `host` (module-level so tests can swap it for a fake resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def literal_address(host):
    """The IP a numeric host means (incl. 2130706433, 0x7f.1, 0177.0.0.1), or None for a name."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        pass
    if _NUMERIC_V4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded_ipv4(ip):
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo), if any."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    return None


def is_public(ip):
    ip = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    inner = _embedded_ipv4(ip)
    if inner is not None and not is_public(inner):
        return False
    if any(ip in net for net in _EXTRA_BLOCKED if net.version == ip.version):
        return False
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified
                                 or ip.is_loopback or ip.is_link_local or ip.is_private)


@dataclass(frozen=True)
class Target:
    url: str
    scheme: str
    host: str
    port: int
    address: str      # the checked address the connection goes to


def check(url, allow_private=None, any_port=False):
    """The Target to connect to, or FetchRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise FetchRefused(f"unparsable URL: {exc}") from None
    scheme = (parts.scheme or "").lower()
    host = (parts.hostname or "").rstrip(".").lower()
    if scheme not in ALLOWED_PORTS or not host or parts.username or parts.password:
        raise FetchRefused(f"scheme or host not allowed: {scheme!r} {host!r}")
    port = port or ALLOWED_PORTS[scheme]
    gateway = _is_allowed(host, port, allow_private)
    if not gateway and not any_port and port not in ALLOWED_PORTS.values():
        raise FetchRefused(f"port {port} not allowed")
    literal = literal_address(host)
    try:
        addresses = [str(literal)] if literal is not None else resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise FetchFailed(f"cannot resolve {host}: {exc}", retryable=True) from None
    if not addresses:
        raise FetchFailed(f"no address for {host}", retryable=True)
    if not gateway:
        bad = [a for a in addresses if not is_public(a)]
        if bad:  # one private answer is enough to refuse: the name is not trustworthy
            raise FetchRefused(f"{host} resolves to a non-public address {bad[0]}")
    return Target(url, scheme, host, port, addresses[0])


def _is_allowed(host, port, allow_private):
    return (host, port) in _pairs(allow_private)


def _pairs(allow_private):
    """{(host, port)} from one (host, port) pair or an iterable of them, hosts normalized as check() does."""
    if not allow_private:
        return set()
    if isinstance(allow_private, tuple) and len(allow_private) == 2 and not isinstance(allow_private[0], (tuple, list)):
        allow_private = [allow_private]
    return {(str(h).strip("[]").rstrip(".").lower(), int(p)) for h, p in allow_private if h and p}


@functools.lru_cache(maxsize=8)   # read on every gateway call: parsed (and warned about) once
def parse_host_ports(text):
    """'gw.internal:3000, [fd00::5]:8080' → {(host, port)}; entries without a valid port are left out
    (an entry is a promise about exactly one service, never a whole host)."""
    pairs = set()
    for entry in (text or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            parts = urlsplit("//" + entry)
            port = parts.port
        except ValueError:
            port = None
        if port and parts.hostname and not parts.path:
            pairs.add((parts.hostname.rstrip(".").lower(), port))
        else:
            log.warning("GATEWAY_ALLOWED_HOSTS: ignoring an entry that is not host:port")
    return frozenset(pairs)


# -- connecting to the checked address --------------------------------------------------------------

def _pinned(base, address):
    class Pinned(base):
        def _new_conn(self):
            self._dns_host = address   # connect here; Host header and TLS SNI keep the URL's name
            return super()._new_conn()
    return Pinned


class PinnedAdapter(HTTPAdapter):
    """Sends every request of this adapter to one already-checked address."""

    def __init__(self, address):
        self._address = address
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        address = self._address

        class HttpPool(HTTPConnectionPool):
            ConnectionCls = _pinned(HTTPConnection, address)

        class HttpsPool(HTTPSConnectionPool):
            ConnectionCls = _pinned(HTTPSConnection, address)

        self.poolmanager.pool_classes_by_scheme = {"http": HttpPool, "https": HttpsPool}


def _session(address):
    session = requests.Session()
    session.trust_env = False    # no proxies, .netrc or CA bundle overrides from the environment
    adapter = PinnedAdapter(address)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# -- downloading -----------------------------------------------------------------------------------

def fetch(url, *, max_bytes=25_000_000, deadline=60.0, min_rate=2048, allow_private=None, headers=None,
          any_port=False):
    """Download `url` within `deadline` seconds (wall clock, redirects included) → Fetched."""
    ends_at = time.monotonic() + deadline
    origin = None
    for _hop in range(MAX_REDIRECTS + 1):
        target = check(url, allow_private, any_port=any_port)
        origin = origin or _origin(target)
        if _origin(target) != origin:
            headers = strip_credentials(headers)
        response = _open(target, headers, ends_at)
        try:
            location = response.headers.get("Location")
            if response.status_code in REDIRECT_CODES and location:
                url = urljoin(target.url, location)
                continue
            if response.status_code != 200:
                raise FetchFailed(f"HTTP {response.status_code}", status=response.status_code,
                                  retryable=response.status_code >= 500 or response.status_code == 429)
            content = _read_body(response, max_bytes, min_rate, ends_at)
            return Fetched(content, response.headers.get("Content-Type"), _filename(response, target))
        finally:
            response.close()
            response._closeline_session.close()
    raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")


CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "x-api-key", "apikey", "cookie"}


def _origin(target):
    return target.scheme, target.host, target.port


def strip_credentials(headers):
    """The headers without what proves who we are: sent to another origin they would leak."""
    return {k: v for k, v in (headers or {}).items() if k.lower() not in CREDENTIAL_HEADERS}


# -- JSON API calls (gateways) ---------------------------------------------------------------------

_sessions = threading.local()


def request(method, url, *, allow_private=None, any_port=False, timeout=(CONNECT_TIMEOUT, 20.0), **kwargs):
    """One HTTP request to a checked, pinned address (no redirects followed) → requests.Response.
    FetchRefused when the address is not allowed; requests' own errors otherwise."""
    target = check(url, allow_private, any_port=any_port)
    return _pinned_session(target.address).request(method, target.url, timeout=timeout, allow_redirects=False,
                                                   proxies={}, **kwargs)


def _pinned_session(address):
    """One session per thread and checked address: connections are reused, never re-pointed."""
    cache = getattr(_sessions, "by_address", None)
    if cache is None:
        cache = _sessions.by_address = {}
    session = cache.get(address)
    if session is None:
        if len(cache) >= 32:   # a thread talking to many gateways: start over rather than grow
            for old in cache.values():
                old.close()
            cache.clear()
        session = cache[address] = _session(address)
    return session


def _remaining(ends_at):
    left = ends_at - time.monotonic()
    if left <= 0:   # the whole budget was spent: trying again would hold a worker just as long
        raise FetchFailed("deadline passed")
    return left


def _open(target, headers, ends_at):
    session = _session(target.address)
    left = _remaining(ends_at)
    request_headers = {"Accept-Encoding": "identity", "User-Agent": "Closeline"}
    request_headers.update(headers or {})
    try:
        response = session.get(target.url, headers=request_headers, stream=True, allow_redirects=False,
                               timeout=(min(CONNECT_TIMEOUT, left), left), proxies={})
    except requests.RequestException as exc:
        session.close()
        slow = isinstance(exc, requests.exceptions.ReadTimeout)   # no answer within the whole deadline
        raise FetchFailed(f"{type(exc).__name__}: {exc}", retryable=not slow) from None
    response._closeline_session = session   # closed with the response by fetch()
    return response


def _read_body(response, max_bytes, min_rate, ends_at):
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchTooLarge(f"Content-Length {declared} over {max_bytes}")
    started, chunks, size = time.monotonic(), [], 0
    raw = response.raw
    try:
        while True:
            _set_read_timeout(raw, _remaining(ends_at))
            chunk = raw.read1(CHUNK)   # returns as soon as some bytes arrived: the clock is checked often
            if not chunk:
                break
            size += len(chunk)
            if size > max_bytes:
                raise FetchTooLarge(f"more than {max_bytes} bytes")
            chunks.append(chunk)
            elapsed = time.monotonic() - started
            if elapsed > RATE_GRACE_SECONDS and size / elapsed < min_rate:
                raise FetchFailed(f"too slow: {size} bytes in {elapsed:.1f}s")
    except FetchError:
        raise
    except (TimeoutError, ReadTimeoutError) as exc:  # the socket timeout is the time left: deadline passed
        raise FetchFailed(f"deadline passed while reading: {exc}") from None
    except Exception as exc:  # protocol errors, resets: "download failed", worth one more try later
        raise FetchFailed(f"{type(exc).__name__}: {exc}", retryable=True) from None
    _remaining(ends_at)
    return b"".join(chunks)


def _set_read_timeout(raw, seconds):
    """Each blocking read may wait only until the overall deadline."""
    sock = getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None)
    sock = getattr(sock, "_sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.01))


def _filename(response, target):
    disposition = response.headers.get("Content-Disposition")
    if disposition:
        parser = _HeaderParser()
        parser["content-disposition"] = disposition
        name = parser.get_filename()
        if name:
            return name.replace("/", "_").replace("\\", "_")[:200]
    tail = urlsplit(target.url).path.rsplit("/", 1)[-1]
    return tail[:200] or None


def describe(exc):
    """The generic text to store for the user."""
    return getattr(exc, "user_message", FetchFailed.user_message)
