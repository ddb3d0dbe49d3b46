"""Gateway base URLs: a workspace admin cannot point a gateway at the app's neighbours. Every spelling
of loopback is refused when the gateway is added and when a stored row is called (JSON API calls and
downloads alike); only a host:port the operator listed in GATEWAY_ALLOWED_HOSTS is let through, and a
public host on any port. "Test connection" tells one of its fixed outcomes, never the remote body."""
import pytest
import sqlalchemy as sa

from tests.helpers.recording_server import RecordingServer
from webapp.core import outbound

SECRET = "internal-service-secret-4711"
# Loopback, spelled every way a URL parser or the C library reads it (PORT = the listener's port).
REFUSED_SPELLINGS = [
    "http://127.0.0.1:PORT", "http://127.1:PORT", "http://2130706433:PORT", "http://0x7f.1:PORT",
    "http://0x7f000001:PORT", "http://0177.0.0.1:PORT", "http://[::1]:PORT", "http://[::ffff:127.0.0.1]:PORT",
    "http://[::ffff:7f00:1]:PORT", "http://[0:0:0:0:0:0:0:1]:PORT", "http://localhost:PORT",
    "http://LOCALHOST:PORT", "http://localhost.:PORT", "http://internal.test:PORT", "https://127.0.0.1:PORT",
    "http://127.0.0.1", "https://localhost",
]


@pytest.fixture
def server():
    with RecordingServer() as srv:
        srv.route("/api/server/version", 500, {"message": SECRET, "version": "2026.1.0"})
        srv.route("/", 200, {"version": SECRET, "secret": SECRET})
        yield srv


@pytest.fixture(autouse=True)
def loopback_names(monkeypatch):
    """*.test and localhost resolve to loopback here; nothing asks a real DNS server."""
    def resolve(host, port):
        if host.endswith(".test") or host == "localhost":
            return ["127.0.0.1"]
        raise OSError("no such name")
    monkeypatch.setattr(outbound, "resolve", resolve)


def _spellings(port):
    return [s.replace("PORT", str(port)) for s in REFUSED_SPELLINGS]


def test_every_loopback_spelling_is_refused_when_a_gateway_is_added(app, demo, server):
    from webapp.models import Gateway
    from webapp.whatsapp import gateways_service
    refused = 0
    for url in _spellings(server.port):
        with pytest.raises(gateways_service.InvalidGateway) as caught:
            gateways_service.add_gateway(demo.acme.id, name="Internal", base_url=url, api_key="k")
        assert "GATEWAY_ALLOWED_HOSTS" in caught.value.errors["base_url"], url
        refused += 1
    assert refused == len(REFUSED_SPELLINGS) == 17
    from webapp.core.extensions import db
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Gateway)) == 0
    assert server.hits == []


def test_the_add_form_names_the_setting(app, demo, login, server):
    browser = login("owner@acme.test")
    response = browser.post("/whatsapp/gateways", data={
        "name": "Internal", "kind": "waha", "base_url": f"http://2130706433:{server.port}", "api_key": "k"})
    assert response.status_code == 400
    assert "GATEWAY_ALLOWED_HOSTS" in response.get_data(as_text=True)
    assert server.hits == []


def _stored_gateway(demo, base_url, kind="waha"):
    """A row as an older Closeline stored it, without today's address check."""
    from webapp.core import crypto
    from webapp.core.extensions import db
    from webapp.models import Gateway
    row = Gateway(workspace_id=demo.acme.id, kind=kind, name="Old", base_url=base_url,
                  api_key_enc=crypto.encrypt("k"))
    db.session.add(row)
    db.session.commit()
    return row


@pytest.mark.parametrize("kind", ["waha", "evolution"])
def test_a_stored_internal_gateway_is_never_called(app, demo, server, kind):
    from webapp.whatsapp import gateways_service
    for url in _spellings(server.port):
        gateway = _stored_gateway(demo, url, kind)
        ok, message = gateways_service.test_connection(gateway)
        assert not ok and message == gateways_service.UNREACHABLE, url
        assert "GATEWAY_ALLOWED_HOSTS" in message and SECRET not in message
    assert server.hits == []


def test_media_downloads_from_an_unlisted_gateway_are_refused(app, server):
    from webapp.clients.gateways.base import GatewayError, Media
    from webapp.clients.gateways.waha import Client
    server.route("/api/files/s1/x.jpeg", 200, b"secret-file")
    with pytest.raises(GatewayError) as caught:
        Client(server.url(), "k").download_media(Media(url=server.url("/api/files/s1/x.jpeg"), mimetype="image/jpeg"))
    assert caught.value.kind == "refused"
    assert server.hits == []


def test_exactly_the_listed_host_and_port_is_let_through(app, demo, server):
    from webapp.clients.gateways import http
    from webapp.whatsapp import gateways_service
    app.config["GATEWAY_ALLOWED_HOSTS"] = f" other.test:1 , 127.0.0.1:{server.port}"
    accepted = gateways_service.add_gateway(demo.acme.id, name="Beside", base_url=server.url(), api_key="k")
    assert accepted.base_url == server.url()
    assert http.call("GET", server.url("/")).status_code == 200
    # Other spellings of the same address, and the same spelling on another port, stay refused.
    same = (server.url(), server.url().replace("http:", "https:"))   # one service, either scheme
    others = [u for u in _spellings(server.port) if u not in same] + [f"http://127.0.0.1:{server.port + 1}"]
    assert len(others) == 16
    for url in others:
        with pytest.raises(http.GatewayRefused):
            http.call("GET", url + "/")
    assert [hit["path"] for hit in server.hits] == ["/"]


def test_a_listed_name_is_checked_and_pinned_on_every_call(app, server, monkeypatch):
    from webapp.clients.gateways import http
    app.config["GATEWAY_ALLOWED_HOSTS"] = f"gw.test:{server.port}"
    assert http.call("GET", f"http://gw.test:{server.port}/").status_code == 200
    assert server.hits[-1]["headers"]["Host"] == f"gw.test:{server.port}"   # the name is still sent
    resolved = []
    monkeypatch.setattr(outbound, "resolve", lambda host, port: resolved.append(host) or ["127.0.0.1"])
    http.call("GET", f"http://gw.test:{server.port}/")
    assert resolved == ["gw.test"]


def test_a_public_host_may_use_any_port_but_attachments_keep_80_and_443(app, server, monkeypatch):
    from webapp.clients.gateways import http
    monkeypatch.setattr(outbound, "is_public", lambda ip: True)   # stand in for a public address
    url = f"http://public.test:{server.port}/"
    assert http.call("GET", url).status_code == 200
    with pytest.raises(outbound.FetchRefused):
        outbound.fetch(url)   # a URL inside a message: ports 80/443 only, as before


def test_test_connection_tells_only_fixed_outcomes(app, demo, server):
    from webapp.clients.gateways import registry
    from webapp.whatsapp import gateways_service
    app.config["GATEWAY_ALLOWED_HOSTS"] = f"127.0.0.1:{server.port}"
    hints = registry.KINDS["waha"].setup_hints
    gateway = _stored_gateway(demo, server.url())
    # A 500 whose body carries the neighbour's secret: "not a gateway", not its words.
    assert gateways_service.test_connection(gateway) == (False, hints["not_gateway"])
    server.route("/api/server/version", 401, {"message": SECRET})
    assert gateways_service.test_connection(gateway) == (False, hints["unauthorized"])
    server.route("/api/server/version", 400, {"message": SECRET})
    assert gateways_service.test_connection(gateway) == (False, hints["not_gateway"])
    # A JSON answer with a made-up version: reachable, but the version is not echoed either.
    server.route("/api/server/version", 200, {"version": SECRET + " <b>"})
    server.route("/api/sessions", 200, [{"name": SECRET, "status": "WORKING"}])
    ok, message = gateways_service.test_connection(gateway)
    assert ok and SECRET not in message and "(unknown version)" in message
    evo = _stored_gateway(demo, server.url(), kind="evolution")
    ok, message = gateways_service.test_connection(evo)
    assert SECRET not in message and SECRET not in (evo.last_error or "") + (evo.version or "")


def test_the_worker_gets_the_allowed_hosts(app):
    import os

    from tests.helpers import workers
    captured = {}

    class Stop(Exception):
        pass

    def popen(cmd, cwd, env):
        captured.update(env)
        raise Stop
    app.config["GATEWAY_ALLOWED_HOSTS"] = "gw.test:3000"
    original = workers.subprocess.Popen
    workers.subprocess.Popen = popen
    try:
        with pytest.raises(Stop):
            workers.start_worker(app, "sqlite://", app.config["REDIS_URL"])
    finally:
        workers.subprocess.Popen = original
    assert captured["GATEWAY_ALLOWED_HOSTS"] == "gw.test:3000" and os.environ.get("GATEWAY_ALLOWED_HOSTS") != "x"
