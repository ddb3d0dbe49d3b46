"""Cloud API media end to end: the WhatsApp sandbox's /graph façade signs a webhook with a media id →
Closeline resolves it through the Graph API (bearer token, guarded fetcher) → the file lands in the
Close sandbox. A Graph outage leaves the message failed and retried, never synced without its file."""
import base64

import pytest
import sqlalchemy as sa

from tests.helpers.gateway_sandbox import JANE, MIA
from tests.helpers.messages import activities, messages
from tests.helpers.waiting import wait_for

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"cloud-api-photo" * 8
PNG = base64.b64encode(PNG_BYTES).decode()
PNID = "109999000111"


@pytest.fixture
def cloud(app, demo, wa, live, monkeypatch):
    """Mia's number as a Cloud API number on the sandbox (webhooks to `live`) and in Closeline."""
    from webapp.account import cloud_numbers
    graph_root = f"{wa.graph_url}/{wa.app.config['GRAPH_API_VERSION']}"
    monkeypatch.setenv("GRAPH_API_URL", graph_root)          # read by the worker process
    monkeypatch.setenv("SYNC_MAX_ATTEMPTS", "200")           # the outage must not make it dead
    app.config.update(GRAPH_API_URL=graph_root, WHATSAPP_APP_SECRET=wa.app.config["GRAPH_APP_SECRET"])
    wa.control("POST", "graph/numbers", {"number": MIA, "phone_number_id": PNID,
                                         "webhook_url": f"{live.url}/api/webhooks/whatsapp"})
    return cloud_numbers.register(demo.acme.id, PNID, MIA, demo.users["owner@acme.test"],
                                  access_token=wa.app.config["GRAPH_ACCESS_TOKEN"])


def _activity_with_file(close_sandbox, external_id, timeout=60):
    return wait_for(lambda: [a for a in activities(close_sandbox, external_id=external_id) if a.get("attachments")],
                    timeout=timeout, interval=0.3, message=f"activity {external_id} with its file")[0]


def _synced_row(external_id):
    """The row once the drain has recorded it (a drain records results shortly after Close has them)."""
    return wait_for(lambda: [m for m in messages() if m.external_id == external_id and m.state == "synced"],
                    timeout=60, interval=0.3, message=f"message {external_id} recorded as synced")[0]


def test_a_cloud_api_photo_lands_in_close_with_its_file(app, demo, sandbox_connection, close_sandbox, cloud, wa, worker):
    sent = wa.send(JANE, MIA, "Photo of the damage", media={"filename": None, "mimetype": "image/png",
                                                          "data_base64": PNG})
    activity = _activity_with_file(close_sandbox, sent["ids"]["wamid"])
    assert activity["message_markdown"] == "Photo of the damage" and activity["remote_phone"] == JANE
    [attachment] = activity["attachments"]
    assert attachment["content_type"] == "image/png"
    graph_calls = [r for r in wa.control("GET", "requests", facade="graph")["data"]]
    assert any(sent["media"]["media_id"] in r["path"] for r in graph_calls)          # id → URL
    assert any("/media-download/" in r["path"] for r in graph_calls)                 # URL → bytes
    row = _synced_row(sent["ids"]["wamid"])
    assert "synced without" not in (row.reason or "")


def test_a_graph_outage_leaves_the_message_failed_then_it_syncs_with_its_file(app, demo, sandbox_connection, close_sandbox,
                                                                              cloud, wa, worker):
    wa.control("PUT", "outage", {"facade": "graph", "down": True, "status": 503})
    sent = wa.send(JANE, MIA, "Invoice scan", media={"filename": None, "mimetype": "image/png", "data_base64": PNG})
    row = wait_for(lambda: [m for m in messages() if m.external_id == sent["ids"]["wamid"] and m.state == "failed"],
                   timeout=60, interval=0.3, message="message failed while Graph is down")[0]
    assert "Graph API" in row.reason and "retried" in row.reason
    assert activities(close_sandbox, external_id=sent["ids"]["wamid"]) == []       # never synced without its file
    wa.control("PUT", "outage", {"facade": "graph", "down": False})
    activity = _activity_with_file(close_sandbox, sent["ids"]["wamid"])
    assert activity["attachments"][0]["content_type"] == "image/png"
    assert len(activities(close_sandbox, external_id=sent["ids"]["wamid"])) == 1


def test_without_a_token_the_activity_says_why_the_file_is_missing(app, demo, sandbox_connection, close_sandbox, cloud, wa,
                                                                   worker):
    from webapp.account import cloud_numbers
    cloud_numbers.set_token(cloud, "")
    sent = wa.send(JANE, MIA, "", media={"filename": None, "mimetype": "image/png", "data_base64": PNG})
    activity = wait_for(lambda: activities(close_sandbox, external_id=sent["ids"]["wamid"]), timeout=60,
                        interval=0.3, message="activity without file")[0]
    assert not activity.get("attachments")
    row = _synced_row(sent["ids"]["wamid"])
    assert "no Graph API access configured" in row.reason


def test_statuses_are_acknowledged_and_errors_are_shown_on_the_whatsapp_page(app, demo, cloud, wa, login):
    import requests
    sent = requests.post(f"{app.config['GRAPH_API_URL']}/{PNID}/messages", headers=wa.graph_headers, timeout=10,
                         json={"messaging_product": "whatsapp", "to": JANE.lstrip("+"), "type": "text",
                               "text": {"body": "Sent through the Cloud API"}})
    assert sent.status_code == 200
    statuses = wait_for(lambda: [d for d in wa.webhooks(facade="graph", event="statuses")
                                 if d["outcome"] == "delivered"] if len(
        [d for d in wa.webhooks(facade="graph", event="statuses") if d["outcome"] == "delivered"]) == 3 else None,
        timeout=30, interval=0.2, message="sent, delivered and read statuses acknowledged")
    assert {d["status"] for d in statuses} == {200}
    wa.control("POST", f"graph/numbers/{PNID}/errors", {"code": 131051, "title": "Message type unknown",
                                                         "details": "Message type is currently not supported."})
    from tests.helpers.gateway_sandbox import fresh
    wait_for(lambda: fresh(cloud).last_error, timeout=30, interval=0.2, message="error recorded")
    page = login("owner@acme.test").get("/whatsapp/").get_data(as_text=True)
    assert "131051" in page and "Message type unknown" in page
    assert messages() == []
    member_page = login("member@acme.test").get("/whatsapp/").get_data(as_text=True)
    assert "Message type unknown" not in member_page  # Cloud API numbers are an owner/admin matter


def test_an_admin_sets_the_access_token_encrypted_and_a_member_cannot(app, demo, login):
    from tests.helpers.gateway_sandbox import fresh
    from webapp.core.extensions import db
    from webapp.models import CloudApiNumber, WhatsAppNumber
    number = db.session.scalar(sa.select(WhatsAppNumber).where(WhatsAppNumber.e164 == MIA))
    row = CloudApiNumber(workspace_id=demo.acme.id, phone_number_id=PNID, number=number)
    db.session.add(row)
    db.session.commit()
    url = f"/settings/whatsapp-cloud/{row.id}/token"
    page = login("owner@acme.test").get("/settings/whatsapp-cloud").get_data(as_text=True)
    assert "no token: files are not fetched" in page
    member = login("member@acme.test").post(url, data={"access_token": "EAAG-member-token"})
    assert member.status_code in (403, 404) and fresh(row).access_token_enc is None
    admin = login("admin@acme.test")
    assert admin.post(url, data={"access_token": "  "}).status_code == 400
    done = admin.post(url, data={"access_token": "EAAG-secret-token"}, follow_redirects=True)
    assert done.status_code == 200 and "Access token saved for +14155550003" in done.get_data(as_text=True)
    stored = fresh(row).access_token_enc
    assert stored and "EAAG-secret-token" not in stored
    from webapp.messages.cloud_media import token_for
    assert token_for(row.whatsapp_number_id) == "EAAG-secret-token"
    assert "EAAG-secret-token" not in admin.get("/settings/whatsapp-cloud").get_data(as_text=True)
