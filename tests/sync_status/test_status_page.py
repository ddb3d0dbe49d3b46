"""Sync status page: totals, last sync per number, filters, keyset pages, htmx fragments, roles."""
import re

from tests.helpers.messages import body, messages


def test_page_totals_log_and_links(app, api, sandbox_connection, close_sandbox, drain_now, demo, login, ids):
    api.post(body("p-1", phone="+14155550101", text="first words"))
    api.post(body("p-2", kind="group", phone=None, chat_id="grp", text="group words"))
    drain_now(demo.acme.id)
    member = login("admin@acme.test")   # sees every number's messages (a member sees only their own)
    page = member.get("/sync/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'data-state="synced"[^>]*>synced <span class="count">1</span>', html)
    assert re.search(r'data-state="skipped"[^>]*>skipped <span class="count">1</span>', html)
    assert f"/lead/{ids.bluth}/" in html and "Group chat" in html
    assert "+14155550001" in html and "never" in html  # 0001 synced; 0002/0003 never
    assert "Retry" not in html  # nothing to retry
    fragment = member.get("/sync/log?state=skipped", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "group words" in fragment and "first words" not in fragment and "<html" not in fragment
    assert "first words" in member.get("/sync/log?q=first").get_data(as_text=True)
    assert "first words" in member.get("/sync/log?q=p-1").get_data(as_text=True)  # by message id
    assert "first words" not in member.get("/sync/log?q=nomatch").get_data(as_text=True)
    assert "first words" in member.get(f"/sync/log?number={messages()[0].whatsapp_number_id}").get_data(as_text=True)
    totals = member.get("/sync/totals").get_data(as_text=True)
    assert 'class="count">1<' in totals
    assert login("member@acme.test").post("/sync/retry").status_code == 403


def test_members_read_only_their_own_numbers_messages_unless_the_owner_opens_the_log(
        app, api, sandbox_connection, demo, login):
    """member@acme.test owns +14155550003; the owner's +14155550001 is a teammate's number."""
    api.post(body("own-1", number="+14155550003", phone="+14155550101", text="my own customer"))
    api.post(body("mate-1", number="+14155550001", phone="+14155550102", text="a teammate customer"))
    member = login("member@acme.test")
    for url in ("/sync/", "/sync/log", "/sync/log?q=customer", "/sync/log?q=mate-1",
                f"/sync/log?number={demo.memberships['owner@acme.test'].numbers[0].id}"):
        html = member.get(url, headers={"HX-Request": "true"} if "log" in url else {}).get_data(as_text=True)
        assert "a teammate customer" not in html, url
    assert "my own customer" in member.get("/sync/").get_data(as_text=True)
    assert "+14155550001" not in member.get("/sync/").get_data(as_text=True)   # nor the teammate's number
    assert "a teammate customer" in login("admin@acme.test").get("/sync/").get_data(as_text=True)
    owner = login("owner@acme.test")
    assert owner.post("/privacy/visibility", data={"members_see_all_messages": "1"}).status_code == 302
    assert "a teammate customer" in member.get("/sync/").get_data(as_text=True)
    assert login("admin@acme.test").post("/privacy/visibility", data={}).status_code == 403   # the owner's choice


def test_the_log_reload_brings_the_totals_out_of_band(app, api, sandbox_connection, demo, login):
    api.post(body("w-1", phone="+14155550101", text="waiting words"))  # queued: no worker runs here
    member = login("admin@acme.test")
    html = member.get("/sync/").get_data(as_text=True)
    assert html.count('hx-trigger="syncChanged from:body"') == 1  # the log reloads; the totals ride along
    assert 'id="sync-totals"' in html and "hx-get=\"/sync/totals\"" not in html
    fragment = member.get("/sync/log", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="syncChanged from:body"' in fragment
    oob = fragment.split('hx-swap-oob="innerHTML"')[1]
    assert re.search(r'data-state="queued"[^>]*>queued <span class="count">1</span>', oob)


def test_keyset_pages(app, api, sandbox_connection, demo, login):
    api.post({"messages": [body(f"k-{i}", text=f"text {i:03d}") for i in range(120)]}, path="/api/v1/messages/batch")
    admin = login("admin@acme.test")
    first = admin.get("/sync/").get_data(as_text=True)
    assert "text 119" in first and "text 069" not in first
    older = re.search(r'href="(/sync/\?before=\d+)"', first).group(1)
    second = admin.get(older).get_data(as_text=True)
    assert "text 069" in second and "text 119" not in second
    assert "syncChanged" not in second.split('id="sync-log"')[1][:200]  # older pages don't reload themselves


def test_other_workspace_is_invisible(app, api, sandbox_connection, demo, login):
    api.post(body("secret", text="acme secret"))
    globex = login("owner@globex.test")
    assert "acme secret" not in globex.get("/sync/").get_data(as_text=True)
    assert globex.post(f"/sync/messages/{messages()[0].id}/retry").status_code == 404
    assert globex.post(f"/sync/chats/{messages()[0].chat_id}/resolve").status_code == 404


def test_retry_all_button(app, api, sandbox_connection, demo, login, drain_now, close_sandbox, monkeypatch):
    app.config["SYNC_MAX_ATTEMPTS"] = 1
    app.config["SYNC_INLINE_RETRIES"] = 0
    close_sandbox.control("PUT", "/_sandbox/faults", {"error_rate": 1.0})
    api.post(body("ra-1", phone="+14155550101"))
    drain_now(demo.acme.id)
    assert messages()[0].state == "dead"
    admin = login("admin@acme.test")
    assert "Retry all failed and dead" in admin.get("/sync/").get_data(as_text=True)
    assert admin.post("/sync/retry").status_code == 302
    assert messages()[0].state == "queued"
