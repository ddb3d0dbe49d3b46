"""SSRF through the sync engine: an attachment URL inside a message never reaches a private
address. The message still syncs (text in Close), the file is left out with a generic reason, the
hostile server sees no request, and the worker is free again."""
import pytest

from tests.helpers.messages import activities, body, messages
from tests.helpers.waiting import wait_for
from webapp.core import outbound

NOT_ALLOWED = "the attachment's address is not allowed"


def _post_with_url(api, mid, url):
    response = api.post(body(mid, phone="+14155550101", text="see file", attachments=[
        {"filename": "secret.txt", "content_type": "text/plain", "url": url}]))
    assert response.status_code == 202, response.get_json()


def _hostile_urls(hostile):
    port = hostile.port
    return {
        "loopback": f"http://127.0.0.1:{port}/admin/secret",
        "loopback-80": "http://127.0.0.1/admin/secret",
        "private": "http://10.0.0.7/admin/secret",
        "metadata": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "ipv6-loopback": "http://[::1]/admin/secret",
        "ipv4-mapped": "http://[::ffff:127.0.0.1]/admin/secret",
        "decimal": "http://2130706433/admin/secret",
        "octal": "http://0177.0.0.1/admin/secret",
        "dns-private": "http://files.attacker.example/admin/secret",
        "port": f"http://93.184.216.34:{port}/admin/secret",
    }


def test_ssrf_matrix_through_the_sync_engine(app, sandbox_connection, api, drain_now, close_sandbox, demo, hostile,
                                             monkeypatch):
    monkeypatch.setattr(outbound, "resolve",
                        lambda host, port: ["10.9.8.7"] if host.endswith("attacker.example") else ["93.184.216.34"])
    urls = _hostile_urls(hostile)
    for name, url in urls.items():
        _post_with_url(api, f"ssrf-{name}", url)
    drain_now(demo.acme.id)
    rows = {m.external_id: m for m in messages()}
    for name in urls:
        row = rows[f"ssrf-{name}"]
        assert row.state == "synced", (name, row.reason)
        assert row.reason == f"synced without secret.txt: {NOT_ALLOWED}", (name, row.reason)
        assert activities(close_sandbox, f"ssrf-{name}")[0]["attachments"] == []
    assert hostile.hits == []


def test_redirect_to_a_private_address_is_not_followed(app, sandbox_connection, api, drain_now, close_sandbox, demo,
                                                       hostile, monkeypatch):
    """A public-looking file host answering 302 to the internal secret (the public hop is played by
    the local server through a fake resolver + a pinned gateway exception for it alone)."""
    real_check = outbound.check

    def check(url, allow_private=None, **kwargs):
        if url.startswith("http://files.example.com/"):   # stand-in for a public host we can't reach
            return outbound.Target(hostile.url("/redirect?to=" + f"http://127.0.0.1:{hostile.port}/admin/secret"),
                                   "http", "127.0.0.1", hostile.port, "127.0.0.1")
        return real_check(url, allow_private, **kwargs)
    monkeypatch.setattr(outbound, "check", check)
    _post_with_url(api, "ssrf-redirect", "http://files.example.com/photo.jpg")
    drain_now(demo.acme.id)
    row = messages(external_id="ssrf-redirect")[0]
    assert row.state == "synced" and row.reason == f"synced without secret.txt: {NOT_ALLOWED}"
    assert [h["path"] for h in hostile.hits] == ["/redirect"]


def test_a_failed_download_stores_no_socket_text(app, sandbox_connection, api, drain_now, close_sandbox, demo, monkeypatch):
    from webapp.core.extensions import db
    from webapp.models import Message
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["93.184.216.34"])

    import urllib3.util.connection
    real = urllib3.util.connection.create_connection

    def refuse(address, *args, **kwargs):  # the file host refuses; Close (the sandbox) still answers
        if address[0] == "93.184.216.34":
            raise ConnectionRefusedError(111, "Connection refused")
        return real(address, *args, **kwargs)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", refuse)
    _post_with_url(api, "ssrf-scan", "http://files.example.com/x")
    row = messages(external_id="ssrf-scan")[0]
    db.session.execute(db.update(Message).where(Message.id == row.id).values(attempts=5))
    db.session.commit()
    drain_now(demo.acme.id)
    row = messages(external_id="ssrf-scan")[0]
    assert row.reason == "synced without secret.txt: download failed"
    assert "refused" not in row.reason.lower() and "errno" not in row.reason.lower()


@pytest.mark.timeout(120)
def test_the_real_worker_refuses_loopback_and_is_free_again(app, sandbox_connection, api, close_sandbox, demo, hostile,
                                                           worker):
    _post_with_url(api, "worker-loopback", hostile.url("/admin/secret"))
    _post_with_url(api, "worker-metadata", "http://169.254.169.254/latest/meta-data/")
    wait_for(lambda: all(m.state == "synced" for m in messages()) and len(messages()) == 2, timeout=60,
             message="both messages synced without their file")
    for row in messages():
        assert row.reason == f"synced without secret.txt: {NOT_ALLOWED}"
    assert hostile.hits == []
    # the worker is free: a plain message right after syncs too
    assert api.post(body("worker-after", phone="+14155550101", text="next")).status_code == 202
    wait_for(lambda: messages(external_id="worker-after")[0].state == "synced", timeout=60,
             message="the next message synced")
    assert activities(close_sandbox, "worker-loopback")[0]["attachments"] == []


def test_a_slow_drip_attachment_stops_at_the_deadline_and_is_not_retried(app, sandbox_connection, api, drain_now,
                                                                         close_sandbox, demo, hostile, monkeypatch):
    """A public file host that sends one byte every 0.3 s (played by the local server behind a
    stand-in check): the message syncs without the file once the deadline is spent, in one attempt."""
    monkeypatch.setitem(app.config, "SYNC_ATTACHMENT_FILE_DEADLINE", 2.0)
    real_check = outbound.check

    def check(url, allow_private=None, **kwargs):
        if url.startswith("http://slow.example.com/"):
            return outbound.Target(hostile.url("/drip?every=0.3"), "http", "127.0.0.1", hostile.port, "127.0.0.1")
        return real_check(url, allow_private, **kwargs)
    monkeypatch.setattr(outbound, "check", check)
    _post_with_url(api, "ssrf-drip", "http://slow.example.com/big.bin")
    drain_now(demo.acme.id)
    row = messages(external_id="ssrf-drip")[0]
    assert row.state == "synced" and row.reason == "synced without secret.txt: download failed"
    assert row.attempts == 1 and [h["path"] for h in hostile.hits] == ["/drip"]
    assert hostile.drips_finished == 0


def test_rerouting_never_downloads_again(app, sandbox_connection, api, drain_now, close_sandbox, demo, ids, login,
                                         hostile, monkeypatch):
    """A chat moved to another lead: its activities are re-created there without fetching any URL."""
    import sqlalchemy as sa

    from webapp.core.extensions import db
    from webapp.messages import moves
    from webapp.models import ChatLink
    fetched = []
    real_fetch = outbound.fetch
    monkeypatch.setattr(outbound, "fetch", lambda url, **kw: fetched.append(url) or real_fetch(url, **kw))
    api.post(body("mv-1", phone="+14155550199", text="file", attachments=[
        {"filename": "secret.txt", "content_type": "text/plain", "url": "http://files.example.com/a.txt"}]))
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["10.0.0.8"])
    drain_now(demo.acme.id)
    assert fetched == ["http://files.example.com/a.txt"]
    chat_id = messages()[0].chat_id
    admin = login("admin@acme.test")
    assert admin.post(f"/sync/chats/{chat_id}/reroute", data={"lead_id": ids.hooli}).status_code == 302
    assert db.session.scalar(sa.select(ChatLink)).lead_id == ids.hooli
    assert moves.move_chat_activities(chat_id) == 1
    assert fetched == ["http://files.example.com/a.txt"]   # nothing downloaded a second time
    assert [a["external_whatsapp_message_id"] for a in activities(close_sandbox, lead_id=ids.hooli)] == ["mv-1"]
