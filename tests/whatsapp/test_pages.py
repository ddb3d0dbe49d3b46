"""The WhatsApp page: gateways (owner/admin), link flow, number health, access rules."""
import re

import sqlalchemy as sa

from tests.helpers.whatsapp import GATEWAY_URL, make_link
from tests.helpers.workers import run_queued

VERSION = {"version": "2026.7.1", "engine": "NOWEB", "tier": "PLUS"}


def _gateway_answers(requests_mock):
    requests_mock.get(f"{GATEWAY_URL}/api/server/version", json=VERSION)
    requests_mock.get(f"{GATEWAY_URL}/api/sessions?all=true", json=[])


def test_member_sees_the_page_but_not_gateway_admin(app, demo, login, gateway):
    page = login("member@acme.test").get("/whatsapp/").get_data(as_text=True)
    assert "Link my WhatsApp" in page and "Add a WAHA gateway" not in page
    assert login("member@acme.test").post("/whatsapp/gateways", data={"name": "x", "base_url": "http://x"}).status_code == 403


def test_admin_adds_a_gateway_key_encrypted_and_tested(app, demo, login, requests_mock):
    from webapp.core.extensions import db
    from webapp.models import Gateway
    _gateway_answers(requests_mock)
    browser = login("admin@acme.test")
    response = browser.post("/whatsapp/gateways", data={"name": "Office", "base_url": GATEWAY_URL + "/",
                                                         "api_key": "plain-key-123"})
    assert response.status_code == 302
    page = browser.get("/whatsapp/").get_data(as_text=True)
    assert "Testing the connection…" in page and 'hx-trigger="every 2s"' in page   # a job asks the gateway
    assert run_queued("jobs.whatsapp.test_gateway") == ["finished"]
    row = db.session.scalar(sa.select(Gateway))
    assert row.base_url == GATEWAY_URL and row.version == "2026.7.1"
    assert "plain-key-123" not in (row.api_key_enc or "")
    card = browser.get(f"/whatsapp/gateways/{row.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Connected: WAHA 2026.7.1" in card and "hx-trigger" not in card             # the poll stops


def test_test_connection_names_the_problem(app, demo, login, gateway, requests_mock):
    requests_mock.get(f"{GATEWAY_URL}/api/server/version", status_code=401, json={"message": "Unauthorized"})
    browser = login("owner@acme.test")
    card = f"/whatsapp/gateways/{gateway.id}"
    fragment = browser.post(f"{card}/test", htmx=True).get_data(as_text=True)
    assert "Testing the connection…" in fragment                     # answered at once, the job asks
    assert run_queued("jobs.whatsapp.test_gateway") == ["failed"]
    assert "refused the API key (401)" in browser.get(card, headers={"HX-Request": "true"}).get_data(as_text=True)
    requests_mock.get(f"{GATEWAY_URL}/api/server/version", exc=__import__("requests").ConnectionError)
    browser.post(f"{card}/test", htmx=True)
    run_queued("jobs.whatsapp.test_gateway")
    assert "cannot reach the gateway" in browser.get(card, headers={"HX-Request": "true"}).get_data(as_text=True)


def test_a_connection_test_whose_job_vanished_says_so(app, demo, login, gateway):
    from datetime import timedelta

    from webapp.core.extensions import db
    from webapp.core.redis_conn import get_queue
    from webapp.models import JobRun, utcnow
    browser = login("owner@acme.test")
    browser.post(f"/whatsapp/gateways/{gateway.id}/test", htmx=True)
    get_queue().empty()                                               # the worker and its job are gone
    run = db.session.scalar(sa.select(JobRun))
    run.created_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    card = browser.get(f"/whatsapp/gateways/{gateway.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "stopped without an answer" in card and "hx-trigger" not in card


def test_bad_base_url_is_a_clear_form_error(app, demo, login):
    response = login("owner@acme.test").post("/whatsapp/gateways", data={"name": "x", "base_url": "ftp://nope"})
    assert response.status_code == 400 and "http:// or https://" in response.get_data(as_text=True)


def test_removing_a_gateway_unlinks_its_numbers_and_keeps_messages(app, demo, login, gateway, link, requests_mock):
    from webapp.core.extensions import db
    from webapp.models import Gateway, NumberLink, WhatsAppNumber
    delete = requests_mock.delete(f"{GATEWAY_URL}/api/sessions/mia", status_code=200)
    response = login("owner@acme.test").post(f"/whatsapp/gateways/{gateway.id}/remove")
    assert response.status_code == 302 and delete.called
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Gateway)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NumberLink)) == 0
    assert db.session.scalar(sa.select(WhatsAppNumber).where(WhatsAppNumber.e164 == "+14155550003")) is not None


def test_link_flow_qr_then_working_records_the_number(app, demo, login, gateway, requests_mock):
    from webapp.core.extensions import db
    from webapp.models import NumberLink, WhatsAppNumber
    create = requests_mock.post(f"{GATEWAY_URL}/api/sessions", status_code=201, json={"status": "STARTING"})
    browser = login("member@acme.test")
    response = browser.post("/whatsapp/links", data={"gateway_id": gateway.id})
    assert response.status_code == 302
    link = db.session.scalar(sa.select(NumberLink))
    sent = create.last_request.json()
    assert sent["config"]["webhooks"][0]["url"].endswith(f"/api/webhooks/waha/{gateway.id}")
    assert sent["config"]["metadata"]["closeline.member"] == "member@acme.test"
    session = link.session_name
    requests_mock.get(f"{GATEWAY_URL}/api/sessions/{session}", json={"name": session, "status": "SCAN_QR_CODE"})
    requests_mock.get(f"{GATEWAY_URL}/api/{session}/auth/qr?format=image", content=b"\x89PNGqr",
                      headers={"Content-Type": "image/png"})
    status = browser.get(f"/whatsapp/links/{link.id}/status").get_data(as_text=True)
    assert 'hx-trigger="every 2s"' in status and 'id="qr"' in status
    qr = browser.get(f"/whatsapp/links/{link.id}/qr.png")
    assert qr.status_code == 200 and qr.data == b"\x89PNGqr"
    requests_mock.get(f"{GATEWAY_URL}/api/sessions/{session}", json={
        "name": session, "status": "WORKING", "me": {"id": "447911123456@c.us", "pushName": "Mia"}})
    status = browser.get(f"/whatsapp/links/{link.id}/status").get_data(as_text=True)
    assert "hx-trigger" not in status and "Linked: +447911123456" in status  # polling stops
    number = db.session.scalar(sa.select(WhatsAppNumber).where(WhatsAppNumber.e164 == "+447911123456"))
    assert number.membership_id == demo.memberships["member@acme.test"].id


def test_a_number_linked_elsewhere_is_refused(app, demo, login, gateway, link, requests_mock):
    from webapp.core.extensions import db
    from webapp.models import NumberLink
    from webapp.whatsapp import linking
    requests_mock.post(f"{GATEWAY_URL}/api/sessions", status_code=201, json={"status": "STARTING"})
    delete = requests_mock.delete(re.compile(f"{GATEWAY_URL}/api/sessions/cl-.*"), status_code=200)
    other = linking.start_link(gateway, demo.memberships["admin@acme.test"])
    linking.apply_status(other, "WORKING", {"id": "14155550003@c.us"})  # Mia's number, already linked
    db.session.refresh(other)
    assert other.state == "refused" and "already linked" in other.last_error and delete.called
    assert db.session.get(NumberLink, link.id).state == "linked"


def test_members_cannot_see_each_others_links(app, demo, login, gateway):
    link = make_link(demo, gateway, session="adam", email="admin@acme.test", hmac_key="k2")
    assert login("member@acme.test").get(f"/whatsapp/links/{link.id}").status_code == 404
    assert login("owner@acme.test").get(f"/whatsapp/links/{link.id}").status_code == 200
    assert login("owner@globex.test").get(f"/whatsapp/links/{link.id}").status_code == 404


def test_failed_session_notifies_member_and_managers_and_shows(app, demo, login, gateway, link, requests_mock):
    from webapp.core.extensions import db
    from webapp.models import Notification
    from webapp.whatsapp import linking
    restart = requests_mock.post(f"{GATEWAY_URL}/api/sessions/mia/restart", status_code=201,
                                 json={"name": "mia", "status": "STARTING"})
    linking.apply_status(link, "FAILED")  # restarted once by itself: nobody is bothered yet
    assert restart.call_count == 1 and db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0
    linking.apply_status(link, "FAILED")  # the restart did not help
    notified = {n.user_id for n in db.session.scalars(sa.select(Notification))}
    assert notified == {demo.users[e].id for e in ("owner@acme.test", "admin@acme.test", "member@acme.test")}
    for url in ("/whatsapp/", "/dashboard", "/team/"):
        page = login("member@acme.test").get(url).get_data(as_text=True)
        assert "failed (restart it)" in page, url
    linking.apply_status(link, "FAILED")  # no second notification for the same trouble, no restart loop
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 3
    assert restart.call_count == 1


def test_gateway_unreachable_is_a_clear_state(app, demo, login, gateway, link, requests_mock):
    import requests

    from webapp.whatsapp import health
    requests_mock.get(f"{GATEWAY_URL}/api/sessions/mia", exc=requests.ConnectionError)
    health.check_all()
    page = login("member@acme.test").get("/whatsapp/").get_data(as_text=True)
    assert "gateway unreachable" in page and "does not answer" in page


def test_pairing_code_alternative(app, demo, login, gateway, link, requests_mock):
    requests_mock.post(f"{GATEWAY_URL}/api/mia/auth/request-code", status_code=201, json={"code": "ABCD-EFGH"})
    response = login("member@acme.test").post(f"/whatsapp/links/{link.id}/pairing-code",
                                              data={"phone": "+1 415 555 0003"}, htmx=True)
    assert response.status_code == 200 and "ABCD-EFGH" in response.get_data(as_text=True)
    assert requests_mock.last_request.json() == {"phoneNumber": "14155550003"}


def test_unlink_logs_out_and_forgets_the_link(app, demo, login, gateway, link, requests_mock):
    from webapp.core.extensions import db
    from webapp.models import NumberLink
    delete = requests_mock.delete(f"{GATEWAY_URL}/api/sessions/mia", status_code=200)
    response = login("member@acme.test").post(f"/whatsapp/links/{link.id}/unlink")
    assert response.status_code == 302 and delete.called
    db.session.expire_all()
    assert db.session.get(NumberLink, link.id) is None


def test_mirror_deletions_setting_is_admin_only(app, demo, login):
    from webapp.core.extensions import db
    from webapp.models import WhatsAppSettings
    assert login("member@acme.test").post("/whatsapp/settings", data={"mirror_deletions": "y"}).status_code == 403
    assert login("admin@acme.test").post("/whatsapp/settings", data={"mirror_deletions": "y"}).status_code == 302
    assert db.session.get(WhatsAppSettings, demo.acme.id).mirror_deletions is True
