"""The guarded outbound fetcher against a real local HTTP server: the SSRF matrix, redirects,
ports, the environment's proxy settings, the wall-clock deadline, the minimum rate and the cap."""
import pytest
import urllib3.util.connection

from tests.helpers.hostile import SECRET
from webapp.core import outbound
from webapp.core.outbound import FetchFailed, FetchRefused, FetchTooLarge, fetch

REFUSED_HOSTS = [
    "127.0.0.1", "127.1.2.3", "localhost-literal", "10.0.0.1", "172.16.5.4", "192.168.1.10",
    "169.254.169.254",                 # cloud metadata
    "100.64.0.1",                      # CGNAT
    "224.0.0.1", "239.255.255.250",    # multicast
    "240.0.0.1", "0.0.0.0",            # reserved, unspecified
    "[::1]", "[::]", "[fe80::1]", "[fc00::1]", "[ff02::1]",
    "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::ffff:169.254.169.254]",
    "[64:ff9b::7f00:1]", "[2002:7f00:1::]",            # NAT64 and 6to4 wrapping loopback
    "2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "017700000001", "127.1",
]


def _refused_url(host, hostile):
    if host == "localhost-literal":
        host = "127.0.0.1"
    return f"http://{host}/admin/secret"


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_non_public_addresses_are_refused_before_connecting(host, hostile, monkeypatch):
    connects = []
    monkeypatch.setattr(urllib3.util.connection, "create_connection",
                        lambda *a, **k: connects.append(a) or (_ for _ in ()).throw(OSError("no")))
    with pytest.raises(FetchRefused) as info:
        fetch(_refused_url(host, hostile))
    assert info.value.user_message == "the attachment's address is not allowed"
    assert connects == []


def test_loopback_server_is_refused_and_sees_nothing(hostile):
    for url in (hostile.url("/admin/secret"), hostile.url("/admin/secret", host="localhost"),
                hostile.url("/admin/secret", host="[::ffff:127.0.0.1]")):
        with pytest.raises(FetchRefused):
            fetch(url)
    assert hostile.hits == []


def test_a_dns_name_resolving_to_a_private_address_is_refused(hostile, monkeypatch):
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["10.1.2.3"])
    with pytest.raises(FetchRefused):
        fetch("https://files.example.com/a.pdf")
    # one private answer among public ones is enough
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["93.184.216.34", "127.0.0.1"])
    with pytest.raises(FetchRefused):
        fetch("https://files.example.com/a.pdf")


def test_connects_to_the_checked_address_not_a_second_dns_answer(monkeypatch):
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])   # a rebinding name
    calls = []
    monkeypatch.setattr(outbound, "resolve", lambda host, port: calls.append(host) or next(answers))
    connects = []

    def refuse(address, *args, **kwargs):
        connects.append(address)
        raise OSError("unreachable in tests")
    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    with pytest.raises(FetchFailed) as info:
        fetch("http://rebind.example.com/x")
    assert not isinstance(info.value, FetchRefused)
    assert calls == ["rebind.example.com"] and connects == [("93.184.216.34", 80)]


@pytest.mark.parametrize("url", ["http://93.184.216.34:8080/x", "https://93.184.216.34:22/x",
                                 "http://93.184.216.34:6379/", "ftp://93.184.216.34/x", "file:///etc/passwd",
                                 "gopher://93.184.216.34:70/", "http://user:pw@93.184.216.34/",
                                 "http:///nohost", "http://93.184.216.34:99999/"])
def test_other_ports_schemes_and_shapes_are_refused(url, monkeypatch):
    monkeypatch.setattr(urllib3.util.connection, "create_connection",
                        lambda *a, **k: pytest.fail("must not connect"))
    with pytest.raises(FetchRefused):
        fetch(url)


def test_the_configured_gateway_is_the_only_private_target(hostile, monkeypatch):
    got = fetch(hostile.url("/admin/secret"), allow_private=hostile.gateway)
    assert got.content == SECRET and got.content_type == "text/plain" and got.filename == "secret.txt"
    # the same host on another port, or another private host, stays refused
    with pytest.raises(FetchRefused):
        fetch(f"http://127.0.0.1:{hostile.port + 1}/x", allow_private=hostile.gateway)
    with pytest.raises(FetchRefused):
        fetch(f"http://10.0.0.1:{hostile.port}/x", allow_private=hostile.gateway)
    # a gateway configured by name: connection goes to the resolved address, Host keeps the name
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["127.0.0.1"])
    got = fetch(f"http://waha.internal:{hostile.port}/file", allow_private=("waha.internal", hostile.port))
    assert got.content.startswith(b"%PDF")
    assert hostile.hits[-1]["host"] == f"waha.internal:{hostile.port}"


def test_redirects_are_checked_at_every_hop(hostile):
    gateway = hostile.gateway
    to_metadata = hostile.url("/redirect?to=http://169.254.169.254/latest/meta-data/")
    with pytest.raises(FetchRefused):
        fetch(to_metadata, allow_private=gateway)
    # a redirect to the gateway's secret under another spelling is not the gateway
    sneaky = hostile.url(f"/redirect?to=http://localhost:{hostile.port}/admin/secret")
    with pytest.raises(FetchRefused):
        fetch(sneaky, allow_private=gateway)
    assert [h["path"] for h in hostile.hits] == ["/redirect", "/redirect"]
    # an allowed redirect is followed (relative Location too)
    got = fetch(hostile.url("/redirect?to=/file"), allow_private=gateway)
    assert got.content.startswith(b"%PDF")


def test_at_most_three_redirects(hostile):
    with pytest.raises(FetchFailed) as info:
        fetch(hostile.url("/loop"), allow_private=hostile.gateway)
    assert info.value.user_message == "download failed"
    assert len(hostile.hits) == 4


def test_environment_proxy_and_netrc_are_ignored(hostile, monkeypatch, tmp_path):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login stolen password creds\n")
    monkeypatch.setenv("NETRC", str(netrc))
    got = fetch(hostile.url("/file"), allow_private=hostile.gateway)
    assert got.content.startswith(b"%PDF")


def test_http_errors_are_generic(hostile):
    with pytest.raises(FetchFailed) as info:
        fetch(hostile.url("/nope"), allow_private=hostile.gateway)
    assert info.value.status == 404 and info.value.user_message == "download failed"
    assert "404" not in outbound.describe(info.value)


def test_connection_refused_is_generic(hostile):
    from tests.helpers.servers import free_port
    port = free_port()
    with pytest.raises(FetchFailed) as info:
        fetch(f"http://127.0.0.1:{port}/x", allow_private=("127.0.0.1", port))
    assert outbound.describe(info.value) == "download failed"
    assert "refused" not in outbound.describe(info.value).lower()


def test_slow_drip_stops_at_the_deadline(hostile):
    with pytest.raises(FetchFailed) as info:
        fetch(hostile.url("/drip?every=0.3"), allow_private=hostile.gateway, deadline=2.0, min_rate=0)
    assert hostile.drips_finished == 0
    assert not info.value.retryable   # retrying would hold a worker just as long again


def test_slow_drip_stops_at_the_minimum_rate(hostile, monkeypatch):
    monkeypatch.setattr(outbound, "RATE_GRACE_SECONDS", 0.5)
    with pytest.raises(FetchFailed) as info:
        fetch(hostile.url("/drip?every=0.2"), allow_private=hostile.gateway, deadline=120, min_rate=1000)
    assert "too slow" in info.value.detail and not info.value.retryable
    assert hostile.drips_finished == 0


def test_a_stalled_body_stops_at_the_deadline(hostile):
    with pytest.raises(FetchFailed) as info:
        fetch(hostile.url("/stall?for=60"), allow_private=hostile.gateway, deadline=1.5)
    assert not info.value.retryable


def test_byte_cap_while_streaming_and_declared(hostile):
    with pytest.raises(FetchTooLarge):
        fetch(hostile.url("/huge?mb=4"), allow_private=hostile.gateway, max_bytes=1_000_000)
    with pytest.raises(FetchTooLarge):
        fetch(hostile.url("/declared-huge"), allow_private=hostile.gateway, max_bytes=1_000_000)
    got = fetch(hostile.url("/huge?mb=1"), allow_private=hostile.gateway, max_bytes=2_000_000)
    assert len(got.content) == 1024 * 1024


def test_is_public_accepts_ordinary_addresses():
    for ip in ("93.184.216.34", "8.8.8.8", "2606:4700::6810:85e5", "1.1.1.1"):
        assert outbound.is_public(ip), ip
