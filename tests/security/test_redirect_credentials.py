"""The guarded fetcher drops credentials (Authorization, X-Api-Key, apikey, Cookie) when a redirect
leads to another host, port or scheme; a redirect on the same origin keeps them."""
import pytest

from tests.helpers.recording_server import RecordingServer
from webapp.core import outbound

CREDENTIALS = {"Authorization": "Bearer gateway-token", "X-Api-Key": "waha-key", "apikey": "evo-key",
               "Cookie": "session=abc"}


@pytest.fixture
def two_servers(monkeypatch):
    monkeypatch.setattr(outbound, "resolve",
                        lambda host, port: ["127.0.0.1"] if host.endswith(".test") or host == "localhost" else [])
    with RecordingServer() as first, RecordingServer() as second:
        yield first, second


def _allowed(*pairs):
    return set(pairs)


def _sent(server):
    return {k.lower() for k in server.hits[-1]["headers"]}


@pytest.mark.parametrize("target", ["other-port", "other-host", "other-host-same-port"])
def test_credentials_do_not_follow_a_redirect_to_another_origin(two_servers, target):
    first, second = two_servers
    second.route("/file", 200, b"the file")
    first.route("/file", 200, b"the file")
    where = {"other-port": second.url("/file"), "other-host": second.url("/file", host="cdn.test"),
             "other-host-same-port": first.url("/file", host="cdn.test")}[target]
    first.route("/start", 302, b"", {"Location": where})
    allowed = _allowed(("127.0.0.1", first.port), ("127.0.0.1", second.port), ("cdn.test", second.port),
                       ("cdn.test", first.port))
    got = outbound.fetch(first.url("/start"), allow_private=allowed, headers=CREDENTIALS)
    assert got.content == b"the file"
    landed = second if target != "other-host-same-port" else first
    assert {"authorization", "x-api-key", "apikey", "cookie"} & _sent(landed) == set()
    assert "x-api-key" in {k.lower() for k in first.hits[0]["headers"]}   # the first hop had them


def test_credentials_stay_on_a_same_origin_redirect(two_servers):
    first, _ = two_servers
    first.route("/start", 302, b"", {"Location": "/file"})
    first.route("/file", 200, b"the file")
    outbound.fetch(first.url("/start"), allow_private=("127.0.0.1", first.port), headers=CREDENTIALS)
    assert {"authorization", "x-api-key", "apikey", "cookie"} <= _sent(first)


def test_once_dropped_they_do_not_come_back(two_servers):
    first, second = two_servers
    first.route("/start", 302, b"", {"Location": second.url("/bounce")})
    second.route("/bounce", 302, b"", {"Location": first.url("/file")})
    first.route("/file", 200, b"the file")
    allowed = _allowed(("127.0.0.1", first.port), ("127.0.0.1", second.port))
    outbound.fetch(first.url("/start"), allow_private=allowed, headers=CREDENTIALS)
    assert {"authorization", "x-api-key", "apikey", "cookie"} & _sent(first) == set()
