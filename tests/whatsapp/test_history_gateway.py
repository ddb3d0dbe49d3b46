"""History import through the gateway interface (WAHA answers from requests-mock, Close is the
sandbox over real HTTP): the dry run on the page, then the job, give the same counts; excluded
chats keep no text; a message already stored live is not imported again."""
import re
import time

from tests.helpers.messages import messages
from tests.helpers.whatsapp import CUSTOMER, text_message
from tests.helpers.workers import run_queued

BASE = "http://waha.test:3000/api/mia"
KNOWN = "14155550101"   # Gob Bluth's phone in the Close sandbox


def _gateway_history(requests_mock, now):
    requests_mock.real_http = True   # the Close sandbox is real HTTP
    requests_mock.get(f"{BASE}/chats/overview", json=[
        {"id": f"{CUSTOMER}@c.us", "lastMessage": {"timestamp": now - 60}},
        {"id": f"{KNOWN}@c.us", "lastMessage": {"timestamp": now - 120}},
        {"id": "14155550166@c.us", "lastMessage": {"timestamp": now - 180}},
    ])
    requests_mock.get(re.compile(f"{BASE}/chats/{CUSTOMER}%40c.us/messages"), json=[
        text_message(short_id=f"NEW{i}", ts=now - 3000 + i, body=f"new customer {i}") for i in range(3)])
    requests_mock.get(re.compile(f"{BASE}/chats/{KNOWN}%40c.us/messages"), json=[
        text_message(short_id=f"KNOWN{i}", chat=f"{KNOWN}@c.us", ts=now - 2000 + i, body=f"known {i}",
                     from_me=bool(i % 2)) for i in range(4)])
    requests_mock.get(re.compile(f"{BASE}/chats/14155550166%40c.us/messages"), json=[
        text_message(short_id=f"PRIV{i}", chat="14155550166@c.us", ts=now - 1000 + i, body="private matter")
        for i in range(2)])


def test_dry_run_then_import_through_the_gateway(app, link, sandbox_connection, close_sandbox, requests_mock, login, demo):
    from jobs import history as jobs
    from tests.helpers.messages import activities
    from webapp.history_import import service as history
    from webapp.messages import drain
    from webapp.messages import gate as privacy
    _gateway_history(requests_mock, int(time.time()))
    privacy.add_entry(demo.acme.id, "phone", "+14155550166")
    admin = login("admin@acme.test")
    page = admin.get("/whatsapp/").get_data(as_text=True)
    assert "Import history" in page
    response = admin.post("/history/dry-run", data={"number_id": link.whatsapp_number_id, "period": "7",
                                                    "scope": "all"})
    assert response.status_code == 302, admin.get("/history/").get_data(as_text=True)[-2000:]
    import_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    assert run_queued("jobs.history.plan_import") == ["planned"]
    detail = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r'class="plan-messages">7<', detail)
    assert messages() == [] and activities(close_sandbox) == []       # the dry run wrote nothing

    assert admin.post(f"/history/{import_id}/start").status_code == 302
    assert jobs.run_import(import_id) == "stored"
    while history.feed(import_id):
        while drain.drain_workspace(demo.acme.id):
            pass
    while drain.drain_workspace(demo.acme.id):
        pass
    rows = {m.external_id.split("_")[-1]: m for m in messages()}
    assert sorted(k for k, m in rows.items() if m.state == "synced") == \
        ["KNOWN0", "KNOWN1", "KNOWN2", "KNOWN3", "NEW0", "NEW1", "NEW2"]
    assert all(m.text == "" and m.state == "skipped" for k, m in rows.items() if k.startswith("PRIV"))
    assert len(activities(close_sandbox)) == 7
    assert "Import finished" in admin.get(f"/history/{import_id}/progress").get_data(as_text=True)

    # Again: everything is already stored; nothing new anywhere.
    again = admin.post("/history/dry-run", data={"number_id": link.whatsapp_number_id, "period": "7", "scope": "all"})
    run_queued("jobs.history.plan_import")
    assert re.search(r'class="plan-messages">0<', admin.get(again.headers["Location"]).get_data(as_text=True))
